"""The contracted concurrency and rate shared by every process, through PostgreSQL.

Replicas of the server and workers all ask the same source under one contract, so the
budget lives in the database they share:

- Concurrency: N session advisory locks, (source key, 0..N-1), are the N slots. A request
  holds one on a connection of its own for as long as it is in flight. Taking one is
  `pg_try_advisory_lock`, so nobody queues inside the database; a process that finds all
  slots taken gives its connection back and tries again shortly, until its deadline. A
  process killed mid-request loses its connection, and PostgreSQL releases the lock with
  it: no slot is ever lost to a crash, and there is no lease to expire.
- Rate: one row per source in registry_source_budgets holds the next free start time on
  the database's clock (one clock for every process, whatever theirs say). A request
  reserves a start with one atomic upsert (start = max(next, now); next = start +
  interval), only if that start is within its deadline, then sleeps until it. The start
  is on the database's clock, known here only to within the statement's round trip: the
  request sleeps until the latest it can be (never early), and leaves only if it is then
  no later than `start_slack` after the earliest it can be; a request that cannot tell it
  is in time (a slow round trip, a busy event loop) reserves another start.

A process keeps the slots it takes for up to HOLD_SECONDS: a request that finishes hands
its slot (lock and connection) straight to the next waiting request of the process, or
keeps it ready for the next one; once that time is up the slot goes back to the database,
so that other processes get their turn. Taking a slot tries the numbers this
process does not hold in one statement. Slot connections come from a pool of their own,
as large as the contracted concurrency, so that requests in flight never wait on the
connections the units of work need.

Both steps are bounded by the caller's deadline: no slot or no start in time is
BudgetExhausted, which the caller answers as "registry unavailable" (PENDING). A database
that cannot be reached is the same: a limit that cannot be checked is not honoured by
sending anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.types import Integer

from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.limits import (
    BudgetExhausted,
    SourceLimits,
    ensure_time_left,
)

log = structlog.get_logger(__name__)

# The first of the given slot numbers that is free, locked; the executor stops at the
# first row that passes, so at most one lock is taken.
_TRY_SLOTS = text(
    "SELECT slot FROM unnest(:slots) AS slot WHERE pg_try_advisory_lock(:space, slot) LIMIT 1"
).bindparams(bindparam("slots", type_=ARRAY(Integer)))
_RELEASE_SLOT = text("SELECT pg_advisory_unlock(:space, :slot)")
# Reserve the next start: max(next, now), and move next on by the interval; only if that
# start is within max_wait. The first request of a source creates its row. "now" is the
# database's clock, carried as EXCLUDED.next_start - interval.
_RESERVE_START = text(
    """
    WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
    INSERT INTO registry_source_budgets AS b (source, next_start)
    SELECT :source, clock.now + :interval FROM clock
    ON CONFLICT (source) DO UPDATE
       SET next_start = GREATEST(b.next_start, EXCLUDED.next_start - :interval) + :interval
     WHERE GREATEST(b.next_start, EXCLUDED.next_start - :interval)
           - (EXCLUDED.next_start - :interval) <= :max_wait
    RETURNING b.next_start - :interval - (SELECT now FROM clock) AS wait
    """
)
_POLL_SECONDS = (0.005, 0.02)
HOLD_SECONDS = 1.0
"""How long a process may keep handing a slot from one of its requests to the next."""


@dataclass
class _Slot:
    connection: AsyncConnection
    number: int
    taken_at: float


def _limiter_unavailable(error: Exception) -> BudgetExhausted:
    log.warning("registry_limiter_unavailable", error_type=type(error).__name__)
    return BudgetExhausted("limiter_unavailable")


def lock_space(source: str) -> int:
    """The first key of the source's advisory locks (a signed 32-bit integer)."""
    return zlib.crc32(f"integrity.registry_source:{source}".encode()) - 2**31


class PostgresLimiter:
    def __init__(
        self,
        engine: AsyncEngine,
        source: str,
        limits: SourceLimits,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """monotonic and sleep: how the wait for a start is measured and waited."""
        self._monotonic = monotonic
        self._sleep = sleep
        self._engine = engine
        self._source = source
        self._limits = limits
        self._space = lock_space(source)
        self._lingering: set[asyncio.Task[None]] = set()
        self._slot_engine: AsyncEngine | None = None
        self._held: set[int] = set()
        self._waiters: deque[asyncio.Future[_Slot]] = deque()
        self._ready: list[_Slot] = []

    async def aclose(self) -> None:
        # Slots held on for abandoned requests go back now: their connections close
        # with the pool, and would unlock anyway.
        lingering = list(self._lingering)
        for task in lingering:
            task.cancel()
        await asyncio.gather(*lingering, return_exceptions=True)
        while self._ready:
            await self._give_back(self._ready.pop())
        if self._slot_engine is not None:
            await self._slot_engine.dispose()

    @contextlib.asynccontextmanager
    async def slot(self, deadline: Deadline, min_left: float) -> AsyncIterator[None]:
        ensure_time_left(deadline, min_left)
        try:
            slot = await self._take_slot(deadline, min_left)
        except BudgetExhausted:
            raise
        except Exception as error:  # the database failed us mid-way: the limit is unknown
            raise _limiter_unavailable(error) from None
        try:
            await self._reserve_start(slot.connection, deadline, min_left)
        except BaseException as error:
            await self._pass_on(slot)
            if isinstance(error, Exception) and not isinstance(error, BudgetExhausted):
                raise _limiter_unavailable(error) from None
            raise
        try:
            yield
        except BaseException:
            self._give_back_later(slot)
            raise
        await self._pass_on(slot)

    def _connections(self) -> AsyncEngine:
        if self._slot_engine is None:
            self._slot_engine = create_async_engine(
                self._engine.url,
                hide_parameters=True,
                pool_size=self._limits.max_concurrency,
                max_overflow=0,
            )
        return self._slot_engine

    async def _connect(self) -> AsyncConnection:
        try:
            connection = await self._connections().connect()
            return await connection.execution_options(isolation_level="AUTOCOMMIT")
        except Exception as error:  # the driver's own errors on connect
            raise _limiter_unavailable(error) from None

    async def _take_slot(self, deadline: Deadline, min_left: float) -> _Slot:
        while True:
            if self._ready:
                return self._ready.pop()
            free = [n for n in range(self._limits.max_concurrency) if n not in self._held]
            if free:
                slot = await self._try_slots(free)
                if slot is not None:
                    return slot
            pause = random.uniform(*_POLL_SECONDS)  # noqa: S311
            if pause >= deadline.remaining() - min_left:
                raise BudgetExhausted("no_concurrency_slot")
            # Wait for one of this process's slots to be handed on, or try again.
            waiter: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                return await asyncio.wait_for(asyncio.shield(waiter), pause)
            except TimeoutError:
                if waiter.done() and not waiter.cancelled():
                    return waiter.result()  # handed on just as the wait ended
                waiter.cancel()
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    await self._pass_on(waiter.result())
                waiter.cancel()
                raise
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)

    async def _try_slots(self, numbers: list[int]) -> _Slot | None:
        # A random order spreads the processes over the locks.
        random.shuffle(numbers)
        connection = await self._connect()
        try:
            number = await connection.scalar(_TRY_SLOTS, {"space": self._space, "slots": numbers})
        except BaseException:
            await connection.invalidate()
            raise
        if number is None or number in self._held:
            # None: all taken. Held: another request of ours took it meanwhile, which a
            # session lock cannot see; give back the second hold on it.
            if number is not None:
                await self._unlock(connection, int(number))
            await connection.close()
            return None
        self._held.add(int(number))
        return _Slot(connection, int(number), time.monotonic())

    async def _pass_on(self, slot: _Slot) -> None:
        """While the slot is young: to the next waiting request of this process, or kept
        ready for the next one until it is old. Else back to the database."""
        left = slot.taken_at + HOLD_SECONDS - time.monotonic()
        if left <= 0:
            await self._give_back(slot)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._ready.append(slot)
        self._spawn(self._expire(slot, left))

    async def _expire(self, slot: _Slot, after: float) -> None:
        await asyncio.sleep(after)
        if slot in self._ready:
            self._ready.remove(slot)
            await self._give_back(slot)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._lingering.add(task)
        task.add_done_callback(self._lingering.discard)

    async def _reserve_start(
        self, connection: AsyncConnection, deadline: Deadline, min_left: float
    ) -> None:
        while True:
            sent = self._monotonic()
            wait = await connection.scalar(
                _RESERVE_START,
                {
                    "source": self._source,
                    "interval": self._limits.interval,
                    "max_wait": deadline.remaining() - min_left,
                },
            )
            if wait is None:
                raise BudgetExhausted("no_rate_token")
            # The statement read the database's clock after it was sent and before its
            # answer came back: the start is `wait` after a moment in between. Waiting
            # from now on is never early; measured from `sent`, the lateness is never
            # understated.
            if wait > 0:
                await self._sleep(float(wait))
            if self._limits.in_time(sent + float(wait), self._monotonic()):
                ensure_time_left(deadline, min_left)
                return

    async def _unlock(self, connection: AsyncConnection, number: int) -> None:
        await connection.scalar(_RELEASE_SLOT, {"space": self._space, "slot": number})

    async def _give_back(self, slot: _Slot) -> None:
        self._held.discard(slot.number)
        try:
            await self._unlock(slot.connection, slot.number)
            await slot.connection.close()
        except BaseException as error:
            # A connection that cannot say unlock is closed instead, which unlocks; the
            # request itself is done, so only a cancellation goes on up.
            with contextlib.suppress(Exception):
                await slot.connection.invalidate()
            if not isinstance(error, Exception):
                raise
            log.warning("registry_limiter_release_failed", error_type=type(error).__name__)

    def _give_back_later(self, slot: _Slot) -> None:
        async def give_back() -> None:
            try:
                await asyncio.sleep(self._limits.abandon_linger_seconds)
            finally:
                await self._give_back(slot)

        self._spawn(give_back())
