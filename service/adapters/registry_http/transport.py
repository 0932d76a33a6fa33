"""One source's way to the network: deadline, retries, circuit breaker and limits.

A request is tried again only when trying again is safe and may help: the connection
failed or timed out, the source answered 5xx, or 429 (after its Retry-After). Both
sources' calls are reads, so a retry cannot do anything twice. Waits between attempts are
jittered exponential ("full jitter"), or the source's Retry-After (seconds or a date); a
wait that would not leave time for another attempt before the deadline is not waited:
the call gives up at once. Every other answer (2xx, 404, other 4xx) goes to the client's
reader; an answer it cannot read (not JSON, the wrong shape or types), or one that does
not decode (a broken Content-Encoding), is the source answering nonsense: MalformedAnswer,
not asked again, and a failure for the breaker, like a 5xx.

What says nothing about the source is not held against it: no slot or start time in time
(the limiter's BudgetExhausted), a call cancelled by us, and a timeout when the caller's
own deadline, shorter than the source's budget, was the one that ran out (deadline.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from service.adapters.registry_http.breaker import CircuitBreaker
from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.limits import SourceLimiter
from service.adapters.registry_http.source_http import SourceHttp
from service.app.ports import RegistryUnavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")

Send = Callable[[SourceHttp, float], Awaitable[httpx.Response]]
"""Sends the request with this many seconds of timeout."""
Read = Callable[[httpx.Response], T]
"""What the client makes of a final answer; MalformedAnswer (or any error) if nothing."""


def system_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    """Attempts per call, the first included."""
    backoff_base_seconds: float = 0.05
    """The first retry waits up to this long, each next one up to twice as long."""
    backoff_max_seconds: float = 1.0
    """No wait between attempts is longer (Retry-After aside)."""
    min_attempt_seconds: float = 0.05
    """An attempt needs at least this long: with less left before the deadline no retry is
    tried, and the limiter grants no slot (limits.py), so that a timeout held against the
    source is never one of an attempt that had almost no time."""


class BreakerOpen(RegistryUnavailable):
    """The source failed too often lately; it is not asked until its cool-down ends."""


class MalformedAnswer(RegistryUnavailable):
    """The source answered something that is not its contract: it cannot say."""


class _RetryableAnswer(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _http_date(value: str) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # RFC 9110 dates are GMT; a date without a zone is read as GMT too.
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def retry_after_seconds(
    response: httpx.Response, now: Callable[[], dt.datetime] = system_now
) -> float | None:
    """Retry-After in seconds from now, in either form RFC 9110 allows: delta-seconds, or
    an HTTP-date. A date is measured from the answer's own Date header when it has one,
    so a source whose clock is off from ours still gets the wait it asked for; without
    one, from our clock. A date already past means "at once"; an unreadable value, none."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        retry_at = _http_date(value)
        if retry_at is None:
            return None
        sent = response.headers.get("date")
        reference = (_http_date(sent) if sent else None) or now()
        return max(0.0, (retry_at - reference).total_seconds())
    return seconds if seconds >= 0 else None


class _StopAtDeadline(stop_base):
    """Stop when the next wait plus one attempt would not end before the deadline."""

    def __init__(self, deadline: Deadline, min_attempt: float) -> None:
        self._deadline = deadline
        self._min_attempt = min_attempt

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.upcoming_sleep + self._min_attempt > self._deadline.remaining()


class SourceTransport:
    def __init__(
        self,
        name: str,
        client: SourceHttp,
        limiter: SourceLimiter,
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], dt.datetime] = system_now,
    ) -> None:
        self.name = name
        self._client = client
        self._limiter = limiter
        self.breaker = breaker
        self._retry = retry
        self._sleep = sleep
        # Only for a Retry-After date sent without the answer's Date header.
        self._now = now
        self._jitter = wait_random_exponential(
            multiplier=retry.backoff_base_seconds, max=retry.backoff_max_seconds
        )

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._limiter.aclose()

    def _wait(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _RetryableAnswer) and error.retry_after is not None:
            return error.retry_after
        return float(self._jitter(retry_state))

    async def send(self, send: Send, deadline: Deadline, read: Read[T]) -> T:
        """What read makes of the source's final answer (2xx, 404, other 4xx), or
        RegistryUnavailable."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_RetryableAnswer),
            wait=self._wait,
            stop=stop_after_attempt(self._retry.max_attempts)
            | _StopAtDeadline(deadline, self._retry.min_attempt_seconds),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(send, deadline, read)
        except _RetryableAnswer as error:
            log.warning("registry_source_gave_up", source=self.name, reason=error.reason)
            raise RegistryUnavailable(error.reason) from None
        raise AssertionError("tenacity ends with a result or an error")  # pragma: no cover

    async def _attempt(self, send: Send, deadline: Deadline, read: Read[T]) -> T:
        if self.breaker.refuses():
            raise BreakerOpen("breaker_open")
        response: httpx.Response | None = None
        failure = "breaker_open"
        # Only an exception that leaves the block holds the slot on after it (limits.py):
        # a request that never reached the source gives its slot back at once.
        async with self._limiter.slot(deadline, self._retry.min_attempt_seconds):
            if self.breaker.allow():
                try:
                    response = await send(self._client, deadline.remaining())
                except httpx.ConnectError:
                    failure = "connection"
                except httpx.TransportError as error:
                    timeout = isinstance(error, httpx.TimeoutException)
                    if timeout and deadline.caller_bound:
                        self.breaker.record_abandoned()
                    else:
                        self.breaker.record_failure()
                    reason = "timeout" if timeout else "transport"
                    log.info("registry_source_attempt_failed", source=self.name, reason=reason)
                    raise _RetryableAnswer(reason) from None
                except httpx.HTTPError:
                    # Came back whole but does not decode (Content-Encoding), or redirects
                    # without end: nonsense, which asking again would not mend.
                    failure = "undecodable"
                except asyncio.CancelledError:
                    self.breaker.record_abandoned()
                    raise
                except BaseException:
                    self.breaker.record_failure()
                    raise
        if response is None:
            if failure == "breaker_open":
                raise BreakerOpen(failure)
            self.breaker.record_failure()
            log.info("registry_source_attempt_failed", source=self.name, reason=failure)
            if failure == "undecodable":
                raise MalformedAnswer(failure)
            raise _RetryableAnswer(failure)
        status = response.status_code
        if status == 429:
            # The source is well, only busy (with other clients of the same contract).
            self.breaker.record_success()
            raise _RetryableAnswer("rate_limited", retry_after_seconds(response, self._now))
        if status >= 500:
            self.breaker.record_failure()
            log.info("registry_source_attempt_failed", source=self.name, status=status)
            raise _RetryableAnswer(f"status_{status}", retry_after_seconds(response, self._now))
        if status >= 400 and status != 404:
            # Refused credentials or request: asking again cannot help, and the source is
            # not usable until the deployment is fixed.
            self.breaker.record_failure()
            log.warning("registry_source_refused", source=self.name, status=status)
            raise RegistryUnavailable(f"status_{status}")
        try:
            answer = read(response)
        except RegistryUnavailable:
            self.breaker.record_failure()
            raise
        except Exception as error:
            # The answer is the source's, not ours: whatever reading it raises means it is
            # not the contract. Logged by type only, never the values it held.
            self.breaker.record_failure()
            log.warning(
                "registry_answer_malformed", source=self.name, error_type=type(error).__name__
            )
            raise MalformedAnswer("malformed_record") from None
        self.breaker.record_success()
        return answer
