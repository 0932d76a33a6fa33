"""The contracted concurrency and rate shared by every process on one SQLite file.

integrity-server and integrity-worker run side by side on the embedded default, and each
asks the same source under one contract: so the budget lives in the file they share, as
it lives in PostgreSQL for replicas (pg_limits.py).

- Concurrency: one row per slot in registry_source_slots. A request takes a free one (no
  holder, or a lease that has run out) by writing its own token and a lease expiry, and
  clears it when done. The lease covers the request's whole deadline and the linger of an
  abandoned request, so a process killed mid-request gives its slots back when their
  leases run out, never while the request could still be at the source.
- Rate: the row of the source in registry_source_budgets holds the next free start time.
  A request reserves a start (start = max(next, now); next = start + interval), only if
  that start is within its deadline, then sleeps until it, and leaves only if it is then
  no later than `start_slack` after it (the commit, or a busy event loop, can make it
  late); else it reserves another start, keeping its slot.

Both are taken in one write transaction: a slot without a start in time is never taken.
"Now" is the wall clock, the one clock every process on the machine that holds the file
shares. Within a process, an asyncio semaphore of the contracted size comes first, so the
process never asks the file for more slots than the contract has.

No slot or no start before the deadline is BudgetExhausted ("registry unavailable"); a
file that cannot be read or written is the same: a limit that cannot be checked is not
honoured by sending anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.limits import (
    BudgetExhausted,
    SourceLimits,
    ensure_time_left,
)
from service.adapters.storage.engine import write_transaction

log = structlog.get_logger(__name__)

_ADD_SLOTS = text(
    "INSERT OR IGNORE INTO registry_source_slots (source, slot, holder, lease_expiry) "
    "VALUES (:source, :slot, NULL, 0)"
)
_TAKE_SLOT = text(
    """
    UPDATE registry_source_slots SET holder = :holder, lease_expiry = :expiry
     WHERE source = :source AND slot = (
           SELECT slot FROM registry_source_slots
            WHERE source = :source AND slot < :slots
              AND (holder IS NULL OR lease_expiry < :now)
            ORDER BY random() LIMIT 1)
    RETURNING slot
    """
)
# The first request of a source creates its row; a start beyond max_wait updates nothing
# and returns no row.
_RESERVE_START = text(
    """
    INSERT INTO registry_source_budgets (source, next_start) VALUES (:source, :now + :interval)
    ON CONFLICT (source) DO UPDATE
       SET next_start = max(next_start, :now) + :interval
     WHERE max(next_start, :now) - :now <= :max_wait
    RETURNING next_start - :interval - :now AS wait
    """
)
_GIVE_BACK = text(
    "UPDATE registry_source_slots SET holder = NULL, lease_expiry = 0 "
    "WHERE source = :source AND slot = :slot AND holder = :holder"
)
_POLL_SECONDS = (0.005, 0.02)
# Beyond the deadline and the linger: time for the last write of a request to land.
_LEASE_MARGIN_SECONDS = 1.0


class _NoStartInTime(Exception):
    """Rolls back the slot taken in the same transaction."""


def _limiter_unavailable(error: Exception) -> BudgetExhausted:
    log.warning("registry_limiter_unavailable", error_type=type(error).__name__)
    return BudgetExhausted("limiter_unavailable")


class SqliteLimiter:
    def __init__(
        self,
        engine: AsyncEngine,
        source: str,
        limits: SourceLimits,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sleep = sleep
        self._engine = engine
        self._source = source
        self._limits = limits
        self._wall_clock = wall_clock
        self._in_process = asyncio.Semaphore(limits.max_concurrency)
        self._slots_added = False
        self._lingering: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        """Nothing of its own to give back: it writes through the service's engine, and
        a slot it still holds lapses with its lease."""
        return None

    @contextlib.asynccontextmanager
    async def slot(self, deadline: Deadline, min_left: float) -> AsyncIterator[None]:
        ensure_time_left(deadline, min_left)
        try:
            await asyncio.wait_for(self._in_process.acquire(), deadline.remaining() - min_left)
        except TimeoutError:
            raise BudgetExhausted("no_concurrency_slot") from None
        try:
            number, holder, start = await self._take(deadline, min_left)
        except BaseException:
            self._in_process.release()
            raise
        try:
            await self._leave_in_time(start, deadline, min_left)
        except BaseException:
            # Never sent: the slot goes back at once.
            await self._give_back(number, holder)
            raise
        try:
            yield
        except BaseException:
            self._give_back_later(number, holder)
            raise
        await self._give_back(number, holder)

    async def _leave_in_time(self, start: float, deadline: Deadline, min_left: float) -> None:
        while True:
            # Until the start on the wall clock, not for `wait` from now: the commit took
            # its time, which must not push this start nearer the next one.
            wait = start - self._wall_clock()
            if wait > 0:
                await self._sleep(wait)
            if self._limits.in_time(start, self._wall_clock()):
                ensure_time_left(deadline, min_left)
                return
            start = await self._reserve_again(deadline, min_left)

    async def _reserve_again(self, deadline: Deadline, min_left: float) -> float:
        """Another start for a request that holds its slot and was late for its start."""
        try:
            async with write_transaction(self._engine) as connection:
                now = self._wall_clock()
                wait = await connection.scalar(
                    _RESERVE_START, self._start_parameters(now, deadline.remaining() - min_left)
                )
        except Exception as error:  # the file failed us: the limit is unknown
            raise _limiter_unavailable(error) from None
        if wait is None:
            raise BudgetExhausted("no_rate_token")
        return now + float(wait)

    def _start_parameters(self, now: float, max_wait: float) -> dict[str, object]:
        return {
            "source": self._source,
            "now": now,
            "interval": self._limits.interval,
            "max_wait": max_wait,
        }

    async def _take(self, deadline: Deadline, min_left: float) -> tuple[int, str, float]:
        """A slot and a start: (slot, holder token, start time on the wall clock)."""
        while True:
            try:
                taken = await self._try_take(deadline, min_left)
            except BudgetExhausted:
                raise
            except Exception as error:  # the file failed us: the limit is unknown
                raise _limiter_unavailable(error) from None
            if taken is not None:
                return taken
            pause = random.uniform(*_POLL_SECONDS)  # noqa: S311
            if pause >= deadline.remaining() - min_left:
                raise BudgetExhausted("no_concurrency_slot")
            await asyncio.sleep(pause)

    async def _try_take(self, deadline: Deadline, min_left: float) -> tuple[int, str, float] | None:
        holder = uuid.uuid4().hex
        try:
            async with write_transaction(self._engine) as connection:
                if not self._slots_added:
                    await connection.execute(
                        _ADD_SLOTS,
                        [
                            {"source": self._source, "slot": number}
                            for number in range(self._limits.max_concurrency)
                        ],
                    )
                taken = await self._take_in(connection, holder, deadline.remaining(), min_left)
        except _NoStartInTime:
            raise BudgetExhausted("no_rate_token") from None
        self._slots_added = True  # committed
        return taken

    async def _take_in(
        self, connection: AsyncConnection, holder: str, remaining: float, min_left: float
    ) -> tuple[int, str, float] | None:
        now = self._wall_clock()
        lease = remaining + self._limits.abandon_linger_seconds + _LEASE_MARGIN_SECONDS
        number = await connection.scalar(
            _TAKE_SLOT,
            {
                "source": self._source,
                "slots": self._limits.max_concurrency,
                "holder": holder,
                "now": now,
                "expiry": now + lease,
            },
        )
        if number is None:
            return None
        wait = await connection.scalar(
            _RESERVE_START, self._start_parameters(now, remaining - min_left)
        )
        if wait is None:
            raise _NoStartInTime
        return int(number), holder, now + float(wait)

    async def _give_back(self, number: int, holder: str) -> None:
        try:
            async with write_transaction(self._engine) as connection:
                await connection.execute(
                    _GIVE_BACK, {"source": self._source, "slot": number, "holder": holder}
                )
        except Exception as error:
            # The request is done; its slot returns when its lease runs out.
            log.warning("registry_limiter_release_failed", error_type=type(error).__name__)
        finally:
            self._in_process.release()

    def _give_back_later(self, number: int, holder: str) -> None:
        async def give_back() -> None:
            await asyncio.sleep(self._limits.abandon_linger_seconds)
            await self._give_back(number, holder)

        task = asyncio.get_running_loop().create_task(give_back())
        self._lingering.add(task)
        task.add_done_callback(self._lingering.discard)
