"""A source's contracted concurrency and request rate, never exceeded.

Every HTTP request to a source (each retry too) first takes a concurrency slot, then a
start time from the rate: the rate is kept as evenly spaced start times (one every
1/rate seconds and a margin, no bursts), each request reserving the next free one.

A request leaves on its start only if it is not late for it: a busy event loop, or the
round trip of a shared reservation, can wake it after its start, and a request that left
too late could come nearer than the contract allows to the one reserved after it. How
late is still in time follows from the rate's margin and the contract's burst
(`SourceLimits.start_slack`, half of it for waking, half for the way to the source); a
request later than that reserves a later start instead. So the
contracted rate, with its burst, holds over whatever departures are late.

A slot and a start are granted only with at least `min_left` seconds (the transport's
minimum attempt) still before the deadline at the start: a request that would have almost
no time at the source is not sent, and its timeout never counts against the source. A
request that cannot have a slot and a start in time is not sent: BudgetExhausted, the
source counts as unavailable for it (not failed).

A request abandoned mid-flight (its deadline passed, or it was cancelled) may still be
running at the source, so its slot is held on for a while before it is given back.

This module is the in-process limiter, for one process (SQLite, the embedded default);
pg_limits.py shares the same budget between processes through PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from service.adapters.registry_http.deadline import Deadline
from service.app.ports import RegistryUnavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SourceLimits:
    max_concurrency: int
    """Requests in flight at once, over every process."""
    max_rate: float
    """Requests started per second, over every process."""
    abandon_linger_seconds: float = 2.0
    """How long an abandoned request keeps its slot: the source may still be serving it."""
    rate_margin: float = 0.1
    """Starts are spaced this much wider than the contract: a request may leave a little
    later than its reserved start (scheduling, the network), and two processes' delays
    differ, so exact spacing would sometimes squeeze two starts too close."""
    burst: int | None = None
    """Requests the contract lets come at once (its token bucket's size); None: one
    second's worth of the rate (at least 1), the common default of token buckets. Starts
    stay evenly spaced whatever it is; a larger burst only lets a late request still leave.
    A contract without burst says 1."""

    @property
    def interval(self) -> float:
        return (1.0 + self.rate_margin) / self.max_rate

    @property
    def bucket(self) -> int:
        """The contract's burst, as given or by default."""
        return self.burst if self.burst is not None else max(1, math.ceil(self.max_rate))

    @property
    def start_slack(self) -> float:
        """How long after its reserved start a request may still leave. Starts are
        `interval` apart and none leaves early, so a request late by at most this keeps
        any two departures k apart at least (k * interval - slack), which a bucket of
        `bucket` tokens refilled at max_rate admits: for burst 1, 1/max_rate apart."""
        return self.bucket * self.interval - 1.0 / self.max_rate

    def in_time(self, start: float, now: float) -> bool:
        """Whether a request reserved to start at `start` may leave at `now`: within half
        the slack, the other half is for its way to the source (the client, the network)."""
        return now - start <= self.start_slack / 2


class BudgetExhausted(RegistryUnavailable):
    """No slot or start time within the deadline."""


def limiter_unavailable(error: BaseException) -> BudgetExhausted:
    """A limit that cannot be checked (its database unreachable) is not honoured by sending
    anyway: the source counts as unavailable. Logged by the error's type only."""
    log.warning("registry_limiter_unavailable", error_type=type(error).__name__)
    return BudgetExhausted("limiter_unavailable")


def ensure_time_left(deadline: Deadline, min_left: float) -> None:
    """BudgetExhausted when less than min_left is left before the deadline."""
    if deadline.remaining() < min_left:
        raise BudgetExhausted("no_time_left")


class SourceLimiter(Protocol):
    def slot(
        self, deadline: Deadline, min_left: float
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold a slot and wait for a start time that leaves at least min_left seconds
        before the deadline; BudgetExhausted when there is none."""
        ...

    async def aclose(self) -> None:
        """Give back what the limiter holds (connections)."""
        ...


class LocalLimiter:
    def __init__(
        self,
        limits: SourceLimits,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limits = limits
        self._monotonic = monotonic
        self._sleep = sleep
        self._slots = asyncio.Semaphore(limits.max_concurrency)
        self._next_start = 0.0
        self._lingering: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def slot(self, deadline: Deadline, min_left: float) -> AsyncIterator[None]:
        ensure_time_left(deadline, min_left)
        try:
            # A slot that comes too late for a start is no use either: not waited for.
            await asyncio.wait_for(self._slots.acquire(), deadline.remaining() - min_left)
        except TimeoutError:
            raise BudgetExhausted("no_concurrency_slot") from None
        try:
            await self._start_time(deadline, min_left)
        except BaseException:
            self._slots.release()
            raise
        try:
            yield
        except BaseException:
            self._release_later()
            raise
        self._slots.release()

    async def _start_time(self, deadline: Deadline, min_left: float) -> None:
        while True:
            now = self._monotonic()
            start = max(now, self._next_start)
            if start - now > deadline.remaining() - min_left:
                raise BudgetExhausted("no_rate_token")
            self._next_start = start + self._limits.interval
            if start > now:
                await self._sleep(start - now)
            if self._limits.in_time(start, self._monotonic()):
                ensure_time_left(deadline, min_left)
                return
            # Woken too late for this start (a busy loop): a later one, if there is time.

    async def aclose(self) -> None:
        return None

    def _release_later(self) -> None:
        async def release() -> None:
            await asyncio.sleep(self._limits.abandon_linger_seconds)
            self._slots.release()

        task = asyncio.get_running_loop().create_task(release())
        self._lingering.add(task)
        task.add_done_callback(self._lingering.discard)
