"""Starts reserved in PostgreSQL, a request's at a time: the rate where it is not fast.

One row per source in registry_source_budgets holds the next free start time on the
database's clock (one clock for every process, whatever theirs say). The requests of a
process waiting for a start at the same moment reserve theirs with one atomic upsert: k
evenly spaced starts from max(next, now), next moved on by k intervals, only if the
first is within the longest of their deadlines. Each then sleeps until its own. The
start is on the database's clock, known here only to within the offset between the
clocks that recent round trips bound (clock_offset.py): a request sleeps until the latest
it can be (never early), and leaves only if it is then in time by the earliest it can be
(SourceLimits.in_time, limits.py); a request woken too late (a busy event loop) takes
another start.

Starts ahead: where the contract's burst leaves slack for a start to be taken late, the
process reserves a few more starts than it has waiting requests (twice as many as it took
in the last such slack, as many as fit in it), and tops them up whenever fewer would still
be in time once a reservation made now is back (its round trip is a moving mean). A
request then mostly finds its start ready, without a database round trip while it holds a
slot; one that comes while a reservation is on its way takes from what that brings. A
start not taken in time is dropped (rate unused, never exceeded). With no burst (1)
nothing is reserved ahead.

A fast contract's starts come from shares of the timeline instead (pg_rate_shares.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from service.adapters.registry_http.clock_offset import ClockOffset
from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.limits import (
    BudgetExhausted,
    SourceLimits,
    ensure_time_left,
    limiter_unavailable,
)

Execute = Callable[..., Awaitable[list[Any]]]

# Reserve a span ($2) of start times (k starts, one interval apart) for a source ($1):
# from max(next, now), next moved on by the span; only if that first start is within
# max_wait ($3). The first request of a source creates its row. "now" is the database's
# clock, carried as EXCLUDED.next_start - span.
_RESERVE_STARTS = """
    WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
    INSERT INTO registry_source_budgets AS b (source, next_start)
    SELECT $1, clock.now + $2::float8 FROM clock
    ON CONFLICT (source) DO UPDATE
       SET next_start = GREATEST(b.next_start, EXCLUDED.next_start - $2::float8) + $2::float8
     WHERE GREATEST(b.next_start, EXCLUDED.next_start - $2::float8)
           - (EXCLUDED.next_start - $2::float8) <= $3::float8
    RETURNING b.next_start - $2::float8 AS first_start, (SELECT now FROM clock) AS now
"""
_MOST_STARTS_AT_ONCE = 64
_REPLY_WEIGHT = 0.2
"""The weight of each reservation's round trip in the moving mean of them."""
_FEWEST_AHEAD = 3
"""While requests keep coming, at least this many ready: a couple in hand while the next
reservation makes its round trip."""


@dataclass(frozen=True)
class _Start:
    """A reserved start on this process's clock: the database's start time falls between
    the two (its clock was read during the statement's round trip)."""

    earliest: float
    latest: float


class ReservedStarts:
    def __init__(
        self,
        source: str,
        limits: SourceLimits,
        execute: Execute,
        clock_offset: ClockOffset,
        *,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        """execute: runs a statement on the limiter's connection, one at a time."""
        self._source = source
        self._limits = limits
        self._execute = execute
        self._clock_offset = clock_offset
        self._monotonic = monotonic
        self._sleep = sleep
        self._start_waiters: deque[tuple[asyncio.Future[_Start], float]] = deque()
        self._stock: deque[_Start] = deque()
        """Starts reserved ahead of any request, earliest first."""
        self._reply_seconds = 0.0
        """How long a reservation takes to come back, lately (a moving mean)."""
        self._most_ahead = _starts_ahead(limits)
        self._taken: deque[float] = deque()
        """When starts were taken, over the last half slack: the demand to reserve for."""
        self._reserving: asyncio.Task[None] | None = None

    async def aclose(self) -> None:
        if self._reserving is not None:
            self._reserving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reserving
        self._stock.clear()

    def _keep_reserving(self) -> None:
        if self._reserving is None or self._reserving.done():
            self._reserving = asyncio.get_running_loop().create_task(self._reserve())

    async def take(self, deadline: Deadline, min_left: float) -> None:
        """Wait for a reserved start leaving at least min_left before the deadline;
        BudgetExhausted when there is none in time."""
        while True:
            until = self._monotonic() + deadline.remaining() - min_left
            start = self._from_stock(until)
            if start is None:
                start = await self._reserved(until)
            wait = start.latest - self._monotonic()
            if wait > 0:
                await self._sleep(wait)
            now = self._monotonic()
            if self._limits.in_time(start.earliest, now):
                ensure_time_left(deadline, min_left)
                self._count_taken(now)
                return
            # Woken too late for this start (a busy loop): a later one, if there is time.

    def _from_stock(self, until: float) -> _Start | None:
        now = self._monotonic()
        while self._stock and not self._limits.in_time(self._stock[0].earliest, now):
            self._stock.popleft()  # its time has passed: unused
        if not self._stock or self._stock[0].latest > until:
            return None
        start = self._stock.popleft()
        if self._fresh_stock(now) < self._ahead():
            self._keep_reserving()
        return start

    def _fresh_stock(self, now: float) -> int:
        """Starts in stock that will still be in time once a reservation made now is
        back: those about to pass are no stock for the next requests."""
        back = now + self._reply_seconds
        return sum(1 for start in self._stock if self._limits.in_time(start.earliest, back))

    def _count_taken(self, now: float) -> None:
        if not self._most_ahead:
            return
        self._taken.append(now)
        while self._taken[0] < now - self._limits.start_slack / 2:
            self._taken.popleft()

    def _ahead(self) -> int:
        """Starts to keep reserved ahead: twice the recent demand (the next reservation
        takes a round trip to come), within what fits the slack."""
        recent = len(self._taken)
        return min(self._most_ahead, max(_FEWEST_AHEAD, 2 * recent)) if recent else 0

    async def _reserved(self, until: float) -> _Start:
        start: asyncio.Future[_Start] = asyncio.get_running_loop().create_future()
        self._start_waiters.append((start, until))
        self._keep_reserving()
        try:
            return await start
        finally:
            start.cancel()  # no-op once it has a result

    def _serve_from_stock(self) -> None:
        """Requests that came while a reservation was on its way take what it brought, if
        it fits them, rather than waiting for one more."""
        while self._start_waiters and self._stock:
            future, until = self._start_waiters[0]
            if not future.done():
                start = self._from_stock(until)
                if start is None:
                    return
                future.set_result(start)
            self._start_waiters.popleft()

    async def _reserve(self) -> None:
        """Reserve starts for every request waiting for one, and those ahead, one
        statement at a time."""
        while True:
            self._serve_from_stock()
            batch: list[tuple[asyncio.Future[_Start], float]] = []
            while self._start_waiters and len(batch) < _MOST_STARTS_AT_ONCE:
                waiter = self._start_waiters.popleft()
                if not waiter[0].done():
                    batch.append(waiter)
            now = self._monotonic()
            wanted_ahead, fresh = self._ahead(), self._fresh_stock(now)
            ahead = max(0, wanted_ahead - fresh)
            if not batch and fresh >= wanted_ahead:
                return
            # Ahead of need, a start is no use beyond the slack it may be taken late by.
            max_wait = max((until for _, until in batch), default=now) - now
            max_wait = max(max_wait, self._limits.start_slack / 2 if ahead else 0.0)
            if max_wait <= 0:
                _fail((f for f, _ in batch), BudgetExhausted("no_rate_token"))
                continue
            count = len(batch) + ahead
            interval = self._limits.interval
            sent = self._monotonic()
            try:
                rows = await self._execute(
                    _RESERVE_STARTS, self._source, count * interval, max_wait
                )
            except Exception as error:
                _fail((f for f, _ in batch), limiter_unavailable(error))
                if not batch:
                    return  # reserving ahead only: the next request tries again
                continue
            replied = self._monotonic()
            self._reply_seconds += (replied - sent - self._reply_seconds) * _REPLY_WEIGHT
            if not rows:
                _fail((f for f, _ in batch), BudgetExhausted("no_rate_token"))
                if not batch:
                    return  # none free soon enough to reserve ahead: the next request asks
                continue
            first_start, database_now = float(rows[0][0]), float(rows[0][1])
            low, high = self._clock_offset.bounds(sent, replied, database_now)
            starts = [
                _Start(first_start - high + n * interval, first_start - low + n * interval)
                for n in range(count)
            ]
            for (future, until), start in zip(batch, starts, strict=False):
                if future.done():
                    self._stock.append(start)  # its caller gave up: for the next one
                elif start.latest > until:
                    future.set_exception(BudgetExhausted("no_rate_token"))
                else:
                    future.set_result(start)
            self._stock.extend(starts[len(batch) :])


def _fail(waiters: Iterable[asyncio.Future[Any]], error: BudgetExhausted) -> None:
    for waiter in list(waiters):
        if not waiter.done():
            waiter.set_exception(error)


def _starts_ahead(limits: SourceLimits) -> int:
    """Starts a process keeps reserved ahead: as many as can be taken in time, one interval
    apart, within half the slack a start may be taken late by (the other half is the wait
    for the next reservation); at most one per slot. None without burst."""
    fitting = int(limits.start_slack / 2 / limits.interval)
    return max(0, min(fitting, limits.max_concurrency))
