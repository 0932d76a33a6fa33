"""A fast source's rate shared by processes as shares of its start timeline (PostgreSQL).

At a high contracted rate a start is good for a few milliseconds only (limits.py), about
as long as a database round trip on a busy machine takes: reserving each request's start
in the database (pg_limits.py) would make requests wait for round trips while they hold
slots. Here requests take starts without any: each process holds shares of the timeline
(rate_shares.py), granted in the database ahead of use, and a request takes the next
start of its own process's residues that is still in time. Like a reserved start, each
start is taken once at most, by one process, and within the slack of its due time, so the
contract holds for the same reason; only who may take which start is settled ahead.

- Grants: one transaction under the source's advisory lock (source key, -2) reads the
  shares of the current period on, and adds to this process's share of each period it
  asks for residues no other process holds there. A grant is never taken back (its holder
  may be about to leave on one of its starts): shares change from one period to the next.
- Split: each grant says how many residues its process wants (twice what it used in the
  last period; all of them for a period after a request found none of its own soon
  enough, else a process short of starts would go on wanting only the few it gets). A
  period's residues are split by water-filling over the wants of every process holding
  a share of the last period on, and what nobody wants goes evenly to all: a process
  alone holds every residue.
- While a process takes starts, it asks for the next period's share halfway through the
  current one. A request that finds no start of its own in time (at first, or when the
  others hold every residue) asks at once: for the current and the next period, and, if
  it holds none of either, for the first later one up to its deadline with residues free.
- The due times are on the database's clock, known here to within the offset recent
  round trips bound (clock_offset.py): a request sleeps until the latest its start can be
  due, and leaves only if it is then in time by the earliest.

A process that dies keeps its shares until their periods pass: at most two periods of
its share go unused, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import structlog

from service.adapters.registry_http.clock_offset import ClockOffset
from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.limits import (
    BudgetExhausted,
    SourceLimits,
    ensure_time_left,
    limiter_unavailable,
)
from service.adapters.registry_http.rate_shares import (
    PERIOD_SECONDS,
    RESIDUES,
    Timeline,
    choose,
    from_column,
    targets,
    to_column,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")
Run = Callable[[Callable[[asyncpg.Connection], Awaitable[T]]], Awaitable[T]]

SHORTEST_WINDOW = 0.002
"""Shares are used where a start stays good for at least this long (else every start
would need a round trip's precision) and a period holds every residue at least once."""
MOST_ASKS = 3
"""Grants a request asks for before it gives up: each reads the database's clock again."""
MOST_PERIODS_AHEAD = 16
"""Periods a request asks for at once, at most: its deadline's, if nearer."""
_GRANT_LOCK = "SELECT pg_advisory_xact_lock($1, -2)"
# The database's clock, and every share from the period before the current one on.
_SHARES = """
    WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
    SELECT clock.now, s.period, s.holder, s.residues, s.wanted
      FROM clock LEFT JOIN registry_rate_shares AS s
        ON s.source = $1 AND s.period >= floor(clock.now / $2::float8)::bigint - 1
"""
# This holder's share of each period asked for ($4, $5), added to what it holds there;
# shares of periods past ($6) forgotten.
_ADD_SHARES = """
    WITH gone AS (DELETE FROM registry_rate_shares WHERE source = $1 AND period < $6::bigint)
    INSERT INTO registry_rate_shares AS s (source, period, holder, residues, wanted)
    SELECT $1, t.period, $2, t.residues, $3::int
      FROM unnest($4::bigint[], $5::bigint[]) AS t(period, residues)
    ON CONFLICT (source, period, holder)
    DO UPDATE SET residues = s.residues | EXCLUDED.residues, wanted = EXCLUDED.wanted
"""
HEADROOM = 2


def shares_fit(limits: SourceLimits) -> bool:
    """Whether the contract's rate is high enough, and its burst wide enough, for shares."""
    fast = RESIDUES * limits.interval <= PERIOD_SECONDS
    return fast and limits.start_slack / 2 >= SHORTEST_WINDOW


class SharedStarts:
    def __init__(
        self,
        source: str,
        space: int,
        limits: SourceLimits,
        run: Run[Any],
        clock_offset: ClockOffset,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """run: runs work on the limiter's connection, one thing at a time."""
        self._source = source
        self._space = space
        self._limits = limits
        self._timeline = Timeline.of(limits.interval)
        self._run = run
        self._clock = clock_offset
        self._monotonic = monotonic
        self._sleep = sleep
        self._holder = uuid.uuid4().hex
        self._held: dict[int, int] = {}
        """This process's residues, by period."""
        self._last_taken = -1
        self._taken: deque[float] = deque()
        """When starts were taken, over the last period."""
        self._short_at = -math.inf
        """When a request last found no start of its own soon enough (it had to ask, or
        to wait longer than a start stays good for): until a period later, every residue
        is wanted."""
        self._renewed_through = -1
        """The last period the renewal asked for."""
        self._asking: asyncio.Task[bool] | None = None
        self._asking_for = (-math.inf, -1)
        """The (until, need) the grant under way asks for."""
        self._renewal: asyncio.Task[None] | None = None

    async def take(self, deadline: Deadline, min_left: float) -> None:
        """Wait for a start of this process's own, leaving at least min_left before the
        deadline; BudgetExhausted when there is none in time."""
        asks = 0
        while True:
            now = self._monotonic()
            until = now + deadline.remaining() - min_left
            found = self._next_start(now, until)
            if found is None:
                # None held in time, or the clock known too loosely to tell: the grant
                # reads it again. Asking again helps only if the last one was unlucky.
                if asks == MOST_ASKS:
                    raise BudgetExhausted("no_rate_token")
                asks += 1
                self._short_at = now
                await self._ask(until, self._needed_from(now, until))
                continue
            start, earliest, latest = found
            self._last_taken = start
            wait = latest - self._monotonic()
            if wait > self._window:
                # Its own next start is further off than one stays good for: the share is
                # short of what the requests want, whatever they manage to take.
                self._short_at = now
            if wait > 0:
                await self._sleep(wait)
            now = self._monotonic()
            if self._limits.in_time(earliest, now):
                ensure_time_left(deadline, min_left)
                self._count_taken(now)
                return
            # Woken too late for this start (a busy loop): a later one, if there is time.

    async def aclose(self) -> None:
        for task in (self._asking, self._renewal):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _next_start(self, now: float, until: float) -> tuple[int, float, float] | None:
        """This process's next start in time from now and due by until (local times):
        (start, earliest, latest local time it can be due)."""
        bounds = self._clock.current(now)
        if bounds is None:
            return None
        low, high = bounds
        timeline = self._timeline
        start = timeline.next_held(
            self._first_start(now), self._held, timeline.period_at(until + low)
        )
        if start is None:
            return None
        due = timeline.due(start)
        earliest, latest = due - high, due - low
        if latest > until or latest - earliest > self._window:
            return None
        return start, earliest, latest

    def _first_start(self, now: float) -> int:
        """The first start a request may take now: after the last one taken, and due no
        earlier than half the time a start may be taken late. A request picks from its
        share the start nearest to now: one well past (left behind while a grant was on
        its way) would spend on waking what the way to the source needs."""
        bounds = self._clock.current(now)
        if bounds is None:
            return self._last_taken + 1
        stale = now + bounds[1] - self._window / 2
        return max(self._last_taken + 1, self._timeline.first_due_from(stale))

    def _needed_from(self, now: float, until: float) -> int:
        """The first period a share is wanted in, when none is in time: the one after
        the last held by `until` whose starts are all taken (queued requests can take
        every start held, into periods not begun yet), or that of the first start that
        may be taken."""
        first = self._first_start(now) // self._timeline.starts_per_period
        bounds = self._clock.current(now)
        last = self._timeline.period_at(until + bounds[0]) if bounds else first
        held = [p for p, residues in self._held.items() if residues and first <= p <= last]
        return max(held) + 1 if held else first

    @property
    def _window(self) -> float:
        return self._limits.start_slack / 2

    def _count_taken(self, now: float) -> None:
        self._taken.append(now)
        while self._taken[0] < now - self._timeline.period_seconds:
            self._taken.popleft()
        if self._renewal is None or self._renewal.done():
            self._renewal = asyncio.get_running_loop().create_task(self._renew())

    def _wanted(self, now: float) -> int:
        if now - self._short_at < self._timeline.period_seconds:
            return RESIDUES
        used = sum(1 for taken in self._taken if taken >= now - self._timeline.period_seconds)
        return min(RESIDUES, max(1, math.ceil(HEADROOM * used / self._timeline.groups)))

    def _busy(self, now: float) -> bool:
        return bool(self._taken) and self._taken[-1] >= now - 2 * self._timeline.period_seconds

    async def _ask(self, until: float, need: int) -> None:
        """Shares for the periods up to `until` (local time), one at least from period
        `need` on, with every other request asking meanwhile; its failure is theirs."""
        while True:
            if self._asking is None or self._asking.done():
                self._asking = asyncio.get_running_loop().create_task(self._grant(until, need))
                self._asking_for = (until, need)
            asking = self._asking
            covered = self._asking_for[0] >= until and self._asking_for[1] >= need
            try:
                await asyncio.shield(asking)
            except Exception as error:
                raise limiter_unavailable(error) from None
            if covered:
                return

    async def _renew(self) -> None:
        """While starts are taken: the next period's share, halfway through the current."""
        timeline = self._timeline
        while self._busy(now := self._monotonic()):
            bounds = self._clock.current(now)
            if bounds is not None:
                database_now = now + (bounds[0] + bounds[1]) / 2
                period = timeline.period_at(database_now)
                due = (period + 0.5) * timeline.period_seconds
                if period + 1 <= self._renewed_through:
                    due += timeline.period_seconds  # asked for already: the next one's turn
                if database_now < due:
                    await asyncio.sleep(min(due - database_now, timeline.period_seconds))
                    continue
            try:
                await self._grant(now + timeline.period_seconds, -1)
            except Exception as error:
                log.warning("registry_limiter_renewal_failed", error_type=type(error).__name__)
                await asyncio.sleep(timeline.period_seconds / 4)

    async def _grant(self, until: float, need: int) -> bool:
        """Add to this process's shares of the current period up to the one `until` (local
        time) falls in, at most MOST_PERIODS_AHEAD, as far as `need` (_split); whether
        any residue was added."""
        timeline = self._timeline
        wanted = self._wanted(self._monotonic())

        async def work(connection: asyncpg.Connection) -> dict[int, int]:
            async with connection.transaction():
                await connection.execute(_GRANT_LOCK, self._space)
                sent = self._monotonic()
                rows = await connection.fetch(_SHARES, self._source, timeline.period_seconds)
                replied = self._monotonic()
                low, _high = self._clock.bounds(sent, replied, float(rows[0][0]))
                current = timeline.period_at(float(rows[0][0]))
                last = max(current + 1, timeline.period_at(until + low))
                periods = range(current, min(last, current + MOST_PERIODS_AHEAD) + 1)
                added = self._split(rows, periods, need, wanted)
                await connection.execute(
                    _ADD_SHARES,
                    self._source,
                    self._holder,
                    wanted,
                    list(added),
                    [to_column(residues) for residues in added.values()],
                    current - 1,
                )
                return added

        added = await self._run(work)
        self._renewed_through = max(self._renewed_through, max(added))
        for period, residues in added.items():
            self._held[period] = self._held.get(period, 0) | residues
        oldest = min(added, default=0) - 1
        for period in [p for p in self._held if p < oldest]:
            del self._held[period]
        return any(added.values())

    def _split(self, rows: list[Any], periods: range, need: int, wanted: int) -> dict[int, int]:
        """The residues to add to this process's share of each period: of the current
        and the next, and of later ones only until it holds some of one from `need` on
        (the period of the first start its requests may still take)."""
        wants: dict[str, int] = {}
        others: dict[int, int] = {}
        mine: dict[int, int] = {}
        for _now, period, holder, residues, their_want in rows:
            if period is None:
                continue
            if holder == self._holder:
                mine[period] = from_column(residues)
                continue
            wants[holder] = their_want
            others[period] = others.get(period, 0) | from_column(residues)
        wants[self._holder] = wanted
        target = targets(wants)[self._holder]
        added: dict[int, int] = {}
        for period in periods:
            holds = any(mine.get(p, 0) | added[p] for p in added if p >= need)
            if period > periods[0] + 1 and holds:
                break
            held = mine.get(period, 0)
            missing = target - held.bit_count()
            free = ~(others.get(period, 0) | held)
            added[period] = choose(free, missing) if missing > 0 else 0
        return added
