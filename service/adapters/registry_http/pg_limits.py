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
  interval), only if that start is within its deadline, then sleeps until it.

Both steps are bounded by the caller's deadline: no slot or no start in time is
BudgetExhausted, which the caller answers as "registry unavailable" (PENDING). A database
that cannot be reached is the same: a limit that cannot be checked is not honoured by
sending anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import zlib
from collections.abc import AsyncIterator

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.limits import BudgetExhausted, SourceLimits

log = structlog.get_logger(__name__)

_TRY_SLOT = text("SELECT pg_try_advisory_lock(:space, :slot)")
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


def _limiter_unavailable(error: Exception) -> BudgetExhausted:
    log.warning("registry_limiter_unavailable", error_type=type(error).__name__)
    return BudgetExhausted("limiter_unavailable")


def lock_space(source: str) -> int:
    """The first key of the source's advisory locks (a signed 32-bit integer)."""
    return zlib.crc32(f"integrity.registry_source:{source}".encode()) - 2**31


class PostgresLimiter:
    def __init__(self, engine: AsyncEngine, source: str, limits: SourceLimits) -> None:
        self._engine = engine
        self._source = source
        self._limits = limits
        self._space = lock_space(source)
        self._lingering: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def slot(self, deadline: Deadline) -> AsyncIterator[None]:
        try:
            connection, number = await self._take_slot(deadline)
        except BudgetExhausted:
            raise
        except Exception as error:  # the database failed us mid-way: the limit is unknown
            raise _limiter_unavailable(error) from None
        try:
            await self._reserve_start(connection, deadline)
        except BaseException as error:
            await self._give_back(connection, number)
            if isinstance(error, Exception) and not isinstance(error, BudgetExhausted):
                raise _limiter_unavailable(error) from None
            raise
        try:
            yield
        except BaseException:
            self._give_back_later(connection, number)
            raise
        await self._give_back(connection, number)

    async def _connect(self) -> AsyncConnection:
        try:
            connection = await self._engine.connect()
            return await connection.execution_options(isolation_level="AUTOCOMMIT")
        except Exception as error:  # the driver's own errors on connect
            raise _limiter_unavailable(error) from None

    async def _take_slot(self, deadline: Deadline) -> tuple[AsyncConnection, int]:
        while True:
            connection = await self._connect()
            try:
                # A random first slot spreads the processes over the locks.
                first = random.randrange(self._limits.max_concurrency)  # noqa: S311
                for offset in range(self._limits.max_concurrency):
                    number = (first + offset) % self._limits.max_concurrency
                    taken = await connection.scalar(
                        _TRY_SLOT, {"space": self._space, "slot": number}
                    )
                    if taken:
                        return connection, number
            except BaseException:
                await connection.invalidate()
                raise
            await connection.close()
            pause = random.uniform(*_POLL_SECONDS)  # noqa: S311
            if pause >= deadline.remaining():
                raise BudgetExhausted("no_concurrency_slot")
            await asyncio.sleep(pause)

    async def _reserve_start(self, connection: AsyncConnection, deadline: Deadline) -> None:
        wait = await connection.scalar(
            _RESERVE_START,
            {
                "source": self._source,
                "interval": self._limits.interval,
                "max_wait": deadline.remaining(),
            },
        )
        if wait is None:
            raise BudgetExhausted("no_rate_token")
        # The start is on the database's clock as it was when the statement ran, which is
        # before its answer came back: waiting from now on is never early.
        if wait > 0:
            await asyncio.sleep(float(wait))

    async def _give_back(self, connection: AsyncConnection, number: int) -> None:
        try:
            await connection.scalar(_RELEASE_SLOT, {"space": self._space, "slot": number})
            await connection.close()
        except BaseException as error:
            # A connection that cannot say unlock is closed instead, which unlocks; the
            # request itself is done, so only a cancellation goes on up.
            with contextlib.suppress(Exception):
                await connection.invalidate()
            if not isinstance(error, Exception):
                raise
            log.warning("registry_limiter_release_failed", error_type=type(error).__name__)

    def _give_back_later(self, connection: AsyncConnection, number: int) -> None:
        async def give_back() -> None:
            await asyncio.sleep(self._limits.abandon_linger_seconds)
            await self._give_back(connection, number)

        task = asyncio.get_running_loop().create_task(give_back())
        self._lingering.add(task)
        task.add_done_callback(self._lingering.discard)
