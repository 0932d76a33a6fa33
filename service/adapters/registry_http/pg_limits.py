"""The contracted concurrency and rate shared by every process, through PostgreSQL.

Replicas of the server and workers all ask the same source under one contract, so the
budget lives in the database they share. Each process talks to it over ONE connection of
its own (the limiter's), whatever its number of requests in flight:

- Concurrency: N session advisory locks, (source key, 0..N-1), are the N slots. A process
  holds the slots its requests use as locks on its limiter connection (a session holds
  any number). When its requests need more, one statement tries the numbers it does not
  hold (`pg_try_advisory_lock`, so nobody queues inside the database); while some are
  still wanted, it tries again every few milliseconds. A request that ends hands its slot
  to the process's next request, or keeps it ready, for up to HOLD_SECONDS from when the
  slot was taken. Past that, a slot in use goes back to the database (and the process
  leaves it alone for a moment) only if another process wants one, so that the processes
  take turns; while nobody else does, it is kept and its hold begins again. A process
  whose requests wait for slots it could not take says so by holding the demand lock
  (source key, -1) shared; a process holding slots looks for other holders of it every
  quarter of HOLD_SECONDS. A ready slot nobody uses goes back when its hold ends. A
  process killed outright loses its connection, and PostgreSQL releases every lock it
  held with it: no slot is ever lost to a crash, and there is no lease to expire.
- Rate: starts on the database's clock, one every SourceLimits.interval, each taken by
  one request at most and within the slack it may be taken late by. Where the contract is
  fast (pg_rate_shares.shares_fit), each process holds shares of the start timeline
  granted ahead, and its requests take their starts with no round trip at all
  (pg_rate_shares.py); otherwise the requests reserve their starts in the database, a few
  ahead (pg_reserved_starts.py). Both run their statements on the limiter connection.

Both steps are bounded by the caller's deadline, less the `min_left` an attempt needs:
no slot or no start in time is BudgetExhausted, which the caller answers as "registry
unavailable" (PENDING). A database
that cannot be reached is the same: a limit that cannot be checked is not honoured by
sending anyway. A limiter connection lost mid-way loses this process's locks: its requests
still in flight finish, their slots are dropped rather than reused, and new slots are taken
on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.registry_http.clock_offset import ClockOffset
from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.limits import (
    BudgetExhausted,
    SourceLimits,
    ensure_time_left,
    limiter_unavailable,
)
from service.adapters.registry_http.pg_rate_shares import SharedStarts, shares_fit
from service.adapters.registry_http.pg_reserved_starts import ReservedStarts

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Up to $3 of the given slot numbers ($2) that are free, locked: the executor stops once
# that many rows passed, so no more locks are taken than asked for.
_TRY_SLOTS = (
    "SELECT slot FROM unnest($2::int[]) AS slot WHERE pg_try_advisory_lock($1, slot) LIMIT $3"
)
_RELEASE_SLOTS = "SELECT pg_advisory_unlock($1, slot) FROM unnest($2::int[]) AS slot"
# The demand lock: held shared by each process whose requests wait for a slot it could
# not take. Another session holds it when this one cannot take it exclusively (a session's
# own shared hold does not stand in its way); taken, it is given back at once.
_MARK_DEMAND = "SELECT pg_try_advisory_lock_shared($1, -1)"
_UNMARK_DEMAND = "SELECT pg_advisory_unlock_shared($1, -1)"
_OTHERS_WANT = """
    SELECT CASE WHEN pg_try_advisory_lock($1, -1) THEN NOT pg_advisory_unlock($1, -1)
                ELSE true END
"""
_POLL_SECONDS = (0.005, 0.02)
HOLD_SECONDS = 1.0
"""How long a process may keep handing a slot from one of its requests to the next."""


@dataclass(eq=False)
class _Slot:
    """A lock held on the current limiter connection. Compared by identity: a slot taken
    on a connection since lost is not the one `_held` has under its number, if any."""

    number: int
    taken_at: float


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
        hold_seconds: float = HOLD_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """monotonic and sleep: how the wait for a start is measured and waited."""
        self._engine = engine
        self._hold = hold_seconds
        self._monotonic = monotonic
        self._sleep = sleep
        self._source = source
        self._limits = limits
        self._space = lock_space(source)
        self._connection: asyncpg.Connection | None = None
        self._statements = asyncio.Lock()
        self._held: dict[int, _Slot] = {}
        """Locked on the current limiter connection: in use, ready, or being given back."""
        self._ready: list[_Slot] = []
        self._cooling: dict[int, float] = {}
        self._slot_waiters: deque[asyncio.Future[_Slot]] = deque()
        self._to_release: list[_Slot] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wanting = False
        """This process holds the demand lock (its requests wait for slots)."""
        self._others_want = True
        """Another process held the demand lock when last looked (so, at first)."""
        clock_offset = ClockOffset()
        # Where the rate is fast, starts from shares of the timeline; else reserved.
        self._starts: SharedStarts | ReservedStarts = (
            SharedStarts(
                source, self._space, limits, self._run, clock_offset,
                monotonic=monotonic, sleep=sleep,
            )
            if shares_fit(limits)
            else ReservedStarts(
                source, limits, self._execute, clock_offset, monotonic=monotonic, sleep=sleep
            )
        )  # fmt: skip

    @contextlib.asynccontextmanager
    async def slot(self, deadline: Deadline, min_left: float) -> AsyncIterator[None]:
        ensure_time_left(deadline, min_left)
        slot = await self._take_slot(deadline, min_left)
        try:
            await self._starts.take(deadline, min_left)
        except BaseException:
            self._pass_on(slot)
            raise
        try:
            yield
        except BaseException:
            self._pass_on_later(slot)
            raise
        self._pass_on(slot)

    async def aclose(self) -> None:
        await self._starts.aclose()
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Closing the connection releases every lock it holds.
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
        self._held.clear()
        self._ready.clear()

    # Slots

    async def _take_slot(self, deadline: Deadline, min_left: float) -> _Slot:
        if self._ready:
            return self._ready.pop()
        waiter: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        self._keep_running("fill", self._fill)
        try:
            # A slot that comes too late for a start is no use either: not waited for.
            wait = deadline.remaining() - min_left
            return await asyncio.wait_for(asyncio.shield(waiter), wait)
        except BaseException as error:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._pass_on(waiter.result())  # handed over just as the wait ended: unused
            waiter.cancel()
            if isinstance(error, TimeoutError):
                raise BudgetExhausted("no_concurrency_slot") from None
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._slot_waiters.remove(waiter)

    async def _fill(self) -> None:
        """Take slots from the database while requests of this process wait for one."""
        while True:
            wanted = sum(1 for waiter in self._slot_waiters if not waiter.done())
            if not wanted:
                await self._mark_demand(False)
                return
            now = time.monotonic()
            room = self._limits.max_concurrency - len(self._held)
            free = [
                n
                for n in range(self._limits.max_concurrency)
                if n not in self._held and self._cooling.get(n, 0.0) <= now
            ]
            taken: list[_Slot] = []
            if room > 0 and free:
                random.shuffle(free)  # spreads the processes over the locks
                try:
                    taken = await self._lock(free, min(wanted, room))
                except Exception as error:
                    self._fail_waiters(self._slot_waiters, limiter_unavailable(error))
                    return
            for slot in taken:
                self._pass_on(slot)
            if len(taken) < wanted:
                await self._mark_demand(True)
                await asyncio.sleep(random.uniform(*_POLL_SECONDS))  # noqa: S311

    async def _mark_demand(self, wanting: bool) -> None:
        """Hold the demand lock while requests wait for slots, and only then. A failure
        here is one of the database's: the next statement finds it too."""
        if wanting == self._wanting:
            return
        try:
            if wanting:
                rows = await self._execute(_MARK_DEMAND, self._space)
                self._wanting = bool(rows[0][0])  # held exclusively a moment: next poll
            else:
                await self._execute(_UNMARK_DEMAND, self._space)
                self._wanting = False
        except Exception as error:
            log.warning("registry_limiter_demand_failed", error_type=type(error).__name__)

    async def _watch_demand(self) -> None:
        """While this process holds slots: whether another one wants some."""
        while self._held:
            try:
                rows = await self._execute(_OTHERS_WANT, self._space)
                self._others_want = bool(rows[0][0])
            except Exception as error:  # turns are taken, as if someone wanted
                self._others_want = True
                log.warning("registry_limiter_demand_failed", error_type=type(error).__name__)
            await asyncio.sleep(self._hold / 4)
        self._others_want = True

    def _pass_on(self, slot: _Slot) -> None:
        """While the slot is young: to the next waiting request of this process, or kept
        ready for the next one until it is old. Else back to the database."""
        if self._held.get(slot.number) is not slot:
            return  # its lock went with a lost connection
        now = time.monotonic()
        left = slot.taken_at + self._hold - now
        if left <= 0 and not self._others_want:
            # Nobody else wants it: its hold begins again, at a point of its own, so that
            # when someone does, the slots come back one by one rather than all at once.
            slot.taken_at = now - random.uniform(0.0, self._hold / 2)  # noqa: S311
            left = slot.taken_at + self._hold - now
        if left <= 0:
            self._release(slot)
            return
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._ready.append(slot)
        asyncio.get_running_loop().call_later(left, self._expire_ready)

    def _expire_ready(self) -> None:
        now = time.monotonic()
        for slot in [s for s in self._ready if s.taken_at + self._hold <= now]:
            self._ready.remove(slot)
            self._release(slot)

    def _pass_on_later(self, slot: _Slot) -> None:
        # An abandoned request may still be running at the source: its slot waits.
        asyncio.get_running_loop().call_later(
            self._limits.abandon_linger_seconds, self._pass_on, slot
        )

    def _release(self, slot: _Slot) -> None:
        self._to_release.append(slot)
        self._keep_running("release", self._release_due)

    async def _release_due(self) -> None:
        while self._to_release:
            slots, self._to_release = self._to_release, []
            current = [s for s in slots if self._held.get(s.number) is s]
            if not current:
                continue
            try:
                await self._execute(_RELEASE_SLOTS, self._space, [s.number for s in current])
            except Exception as error:
                # The connection is closed instead, which unlocks all of them.
                log.warning("registry_limiter_release_failed", error_type=type(error).__name__)
                continue
            # Left alone for a moment: another process polling for a slot gets its turn.
            cool_until = time.monotonic() + _POLL_SECONDS[0]
            for slot in current:
                if self._held.get(slot.number) is slot:
                    del self._held[slot.number]
                    self._cooling[slot.number] = cool_until

    async def _lock(self, numbers: list[int], wanted: int) -> list[_Slot]:
        rows = await self._execute(_TRY_SLOTS, self._space, numbers, wanted)
        now = time.monotonic()
        taken = []
        for (number,) in rows:
            slot = _Slot(int(number), now)
            self._held[slot.number] = slot
            taken.append(slot)
        if taken:
            self._keep_running("demand", self._watch_demand)
        return taken

    # The limiter connection

    async def _execute(self, statement: str, *arguments: Any) -> list[Any]:
        async def fetch(connection: asyncpg.Connection) -> list[Any]:
            return list(await connection.fetch(statement, *arguments))

        return await self._run(fetch)

    async def _run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """work on the limiter connection, alone on it."""
        async with self._statements:
            # A kept connection lost meanwhile (a restarted or failed-over database) is
            # tried once more on a new one. Safe to repeat: a lost session holds no locks,
            # and a start reserved twice only leaves one unused.
            for last_try in (False, True):
                fresh = self._connection is None
                connection = await self._connect()
                try:
                    return await work(connection)
                except BaseException:
                    lost = connection.is_closed()
                    await self._lose_connection()
                    if fresh or not lost or last_try:
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> asyncpg.Connection:
        # The driver's own connection: a handful of small statements a second, each
        # prepared once, cost a fraction of what SQLAlchemy's execution path would.
        if self._connection is None:
            dsn = self._engine.url.set(drivername="postgresql")
            self._connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
            self._connection.add_termination_listener(self._connection_ended)
        return self._connection

    def _connection_ended(self, connection: asyncpg.Connection) -> None:
        # Closed under us (the database restarted, or ended the session): its locks are
        # gone now, and no statement of ours may come soon to find out (starts from shares
        # need none), so ready slots are dropped at once.
        if connection is self._connection:
            self._connection = None
            self._forget_locks()

    async def _lose_connection(self) -> None:
        connection, self._connection = self._connection, None
        self._forget_locks()
        if connection is not None:
            connection.terminate()

    def _forget_locks(self) -> None:
        # Its locks are gone with it (or will be once it closes): nothing it held is
        # handed on, and what is in flight is dropped when it ends (_pass_on).
        self._held.clear()
        self._ready.clear()
        self._wanting = False  # held by the lost session, and gone with it

    def _fail_waiters(self, waiters: Iterable[asyncio.Future[Any]], error: BudgetExhausted) -> None:
        for waiter in list(waiters):
            if not waiter.done():
                waiter.set_exception(error)

    def _keep_running(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = self._tasks.get(name)
        if task is None or task.done():
            self._tasks[name] = asyncio.get_running_loop().create_task(work())
