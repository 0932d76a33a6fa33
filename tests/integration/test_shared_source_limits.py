"""The contracted limits shared through the database, PostgreSQL or one SQLite file:
several processes' clients (here, each with an engine of its own) never exceed them
together, and a dead holder's slot returns (on PostgreSQL with its connection, on SQLite
when its lease runs out)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.government import GovernmentRegistryClient
from service.adapters.registry_http.limits import BudgetExhausted, SourceLimits
from service.adapters.registry_http.pg_limits import PostgresLimiter, lock_space
from service.adapters.registry_http.pg_rate_shares import shares_fit
from service.adapters.registry_http.rate_shares import from_column
from service.adapters.registry_http.shared_limits import shared_limiter
from service.adapters.registry_http.sqlite_limits import SqliteLimiter
from service.adapters.storage.engine import create_engine
from service.adapters.storage.migrate import migrate
from service.app.ports import RegistryUnavailable
from tests.builders import new_uscc
from tests.clock import TestClock
from tests.registry_wire import gov_client, vault
from tests.scripted_http import Answer, ScriptedServer

NOT_FOUND = Answer(404, {"error": "not_found"})


# The SQLite limiters' wall clock, where a test judges leases: a fixed time.
NOW = 1_800_000_000.0


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines on the same database: two processes' connection pools."""
    first, second = create_engine(database_url), create_engine(database_url)
    await migrate(first, vault().vault)
    yield first, second
    await first.dispose()
    await second.dispose()


def limited_client(
    engine: AsyncEngine,
    source: str,
    limits: SourceLimits,
    server: ScriptedServer,
    clock: TestClock,
    budget: float = 5.0,
    wall_clock: float | None = None,
) -> GovernmentRegistryClient:
    """A client limited as the service limits it on the engine's database; on SQLite with
    the wall clock at `wall_clock` if given."""
    limiter = shared_limiter(engine, source, limits)
    if wall_clock is not None:
        limiter = SqliteLimiter(engine, source, limits, wall_clock=lambda: wall_clock)
    return gov_client(server.url, vault(), clock, budget=budget, limiter=limiter)


@pytest.fixture
def source() -> str:
    # A source of its own per test: the budgets row and the locks outlive a test.
    return f"test_source_{uuid.uuid4().hex[:8]}"


async def test_concurrency_is_shared_between_processes(
    engines: tuple[AsyncEngine, AsyncEngine],
    source: str,
    scripted: ScriptedServer,
    clock: TestClock,
) -> None:
    scripted.default = NOT_FOUND
    scripted.hold.clear()
    limits = SourceLimits(max_concurrency=2, max_rate=1000)
    clients = [limited_client(engine, source, limits, scripted, clock) for engine in engines]
    calls = [asyncio.create_task(clients[i % 2].lookup(new_uscc())) for i in range(8)]
    await asyncio.to_thread(scripted.wait_until, lambda s: s.in_flight == 2)
    scripted.hold.set()
    assert await asyncio.gather(*calls) == [None] * 8
    for client in clients:
        await client.aclose()
    assert scripted.max_in_flight == 2
    assert len(scripted.seen) == 8


async def test_a_start_beyond_the_deadline_in_another_process_is_unavailable(
    engines: tuple[AsyncEngine, AsyncEngine],
    source: str,
    scripted: ScriptedServer,
    clock: TestClock,
) -> None:
    scripted.default = NOT_FOUND
    # One request every 2.2 s: the second process's next start is beyond its 1 s budget.
    limits = SourceLimits(max_concurrency=4, max_rate=0.5)
    first, second = (limited_client(e, source, limits, scripted, clock, 1.0) for e in engines)
    assert await first.lookup(new_uscc()) is None
    with pytest.raises(RegistryUnavailable, match="no_rate_token"):
        await second.lookup(new_uscc())
    await first.aclose()
    await second.aclose()
    assert len(scripted.seen) == 1
    if engines[0].dialect.name == "sqlite":
        # The slot the refused request had found was not kept: every one is free.
        async with engines[0].connect() as connection:
            held = await connection.scalar(
                text("SELECT count(*) FROM registry_source_slots WHERE holder IS NOT NULL")
            )
        assert held == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_slot_of_a_dead_holder_is_free_again(
    engines: tuple[AsyncEngine, AsyncEngine],
    source: str,
    scripted: ScriptedServer,
    clock: TestClock,
    postgres_url: str,
) -> None:
    scripted.default = NOT_FOUND
    limits = SourceLimits(max_concurrency=2, max_rate=1000)
    client = limited_client(engines[0], source, limits, scripted, clock, 0.1)
    # Another process holds every slot...
    holder = await asyncpg.connect(postgres_url)
    for slot in range(2):
        assert await holder.fetchval(
            "SELECT pg_try_advisory_lock($1, $2)", lock_space(source), slot
        )
    with pytest.raises(RegistryUnavailable, match="no_concurrency_slot"):
        await client.lookup(new_uscc())
    assert scripted.seen == []
    # ...and dies: its connection goes, and its locks with it.
    holder.terminate()
    assert await client.lookup(new_uscc()) is None
    await client.aclose()


@pytest.mark.parametrize(
    "gone_url",
    [
        "postgresql://postgres@127.0.0.1:5432/integrity_no_such_database",
        "sqlite:///{tmp}/never-migrated.db",
    ],
)
async def test_a_limiter_whose_database_is_gone_sends_nothing(
    scripted: ScriptedServer, clock: TestClock, tmp_path: Path, gone_url: str
) -> None:
    scripted.default = NOT_FOUND
    engine = create_engine(gone_url.format(tmp=tmp_path))
    limits = SourceLimits(max_concurrency=2, max_rate=1000)
    client = limited_client(engine, "gone", limits, scripted, clock)
    # A limit that cannot be checked is not honoured by sending anyway.
    with pytest.raises(RegistryUnavailable, match="limiter_unavailable"):
        await client.lookup(new_uscc())
    await client.aclose()
    await engine.dispose()
    assert scripted.seen == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_slot_of_a_dead_holder_returns_when_its_lease_runs_out(
    engines: tuple[AsyncEngine, AsyncEngine],
    source: str,
    scripted: ScriptedServer,
    clock: TestClock,
) -> None:
    scripted.default = NOT_FOUND
    limits = SourceLimits(max_concurrency=2, max_rate=1000)
    # A process took both slots, leased for a minute, and was killed.
    async with engines[1].begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO registry_source_slots (source, slot, holder, lease_expiry) "
                "VALUES (:source, 0, 'dead', :expiry), (:source, 1, 'dead', :expiry)"
            ),
            {"source": source, "expiry": NOW + 60},
        )
    blocked = limited_client(engines[0], source, limits, scripted, clock, 0.1, wall_clock=NOW)
    with pytest.raises(RegistryUnavailable, match="no_concurrency_slot"):
        await blocked.lookup(new_uscc())
    await blocked.aclose()
    assert scripted.seen == []
    later = limited_client(engines[0], source, limits, scripted, clock, wall_clock=NOW + 61)
    assert await later.lookup(new_uscc()) is None
    await later.aclose()
    assert len(scripted.seen) == 1


async def advisory_holders(connection: asyncpg.Connection, source: str) -> dict[int, list[int]]:
    """The slots of a source locked in the database, by the backend holding them."""
    rows = await connection.fetch(
        "SELECT pid, objid::int AS slot FROM pg_locks WHERE locktype = 'advisory'"
        " AND classid = $1::bigint::oid AND granted",
        lock_space(source) & 0xFFFFFFFF,
    )
    holders: dict[int, list[int]] = {}
    for row in rows:
        holders.setdefault(row["pid"], []).append(row["slot"])
    return {pid: sorted(slots) for pid, slots in holders.items()}


@pytest.fixture
async def observer(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, to look at the locks."""
    connection = await asyncpg.connect(postgres_url)
    yield connection
    await connection.close()


async def held_lookups(
    client: GovernmentRegistryClient, scripted: ScriptedServer, count: int
) -> list[asyncio.Task[object]]:
    """`count` lookups in flight, held at the server until the test releases them."""
    scripted.default = NOT_FOUND
    scripted.hold.clear()
    calls = [asyncio.create_task(client.lookup(new_uscc())) for _ in range(count)]
    await asyncio.to_thread(scripted.wait_until, lambda s: s.in_flight == count)
    return calls


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_process_holds_its_slots_on_one_connection(
    engines: tuple[AsyncEngine, AsyncEngine],
    source: str,
    scripted: ScriptedServer,
    clock: TestClock,
    observer: asyncpg.Connection,
) -> None:
    limits = SourceLimits(max_concurrency=6, max_rate=1000)
    client = limited_client(engines[0], source, limits, scripted, clock)
    calls = await held_lookups(client, scripted, 6)
    holders = await advisory_holders(observer, source)
    # Six requests in flight, six slots, one connection to the database.
    assert list(holders.values()) == [[0, 1, 2, 3, 4, 5]]
    scripted.hold.set()
    assert await asyncio.gather(*calls) == [None] * 6
    await client.aclose()
    assert await advisory_holders(observer, source) == {}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_busy_process_gives_slots_back_so_another_gets_its_turn(
    engines: tuple[AsyncEngine, AsyncEngine],
    source: str,
    scripted: ScriptedServer,
    clock: TestClock,
) -> None:
    scripted.default = NOT_FOUND
    limits = SourceLimits(max_concurrency=2, max_rate=10_000)
    busy_limiter = PostgresLimiter(engines[0], source, limits, hold_seconds=0.05)
    busy = gov_client(scripted.url, vault(), clock, budget=5.0, limiter=busy_limiter)
    other = limited_client(engines[1], source, limits, scripted, clock, budget=5.0)
    stop = asyncio.Event()

    async def keep_busy() -> None:
        # Always a request waiting: without turns, the busy process would keep both slots.
        while not stop.is_set():
            await busy.lookup(new_uscc())

    streams = [asyncio.create_task(keep_busy()) for _ in range(4)]
    try:
        await asyncio.to_thread(scripted.wait_until, lambda s: len(s.seen) >= 20)
        assert await other.lookup(new_uscc()) is None
    finally:
        stop.set()
        await asyncio.gather(*streams)
        await busy.aclose()
        await other.aclose()
    assert scripted.max_in_flight <= 2


class CountingLimiter(PostgresLimiter):
    """Counts the slots it gives back to the database."""

    given_back = 0

    async def _execute(self, statement: str, *arguments: Any) -> list[Any]:
        if "pg_advisory_unlock($1, slot)" in statement:
            self.given_back += len(arguments[1])
        return await super()._execute(statement, *arguments)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_process_alone_keeps_its_slots_past_their_hold_until_another_wants_one(
    engines: tuple[AsyncEngine, AsyncEngine],
    source: str,
    scripted: ScriptedServer,
    clock: TestClock,
) -> None:
    """Giving a slot back costs its requests a moment without it: only worth it when
    another process is waiting for one."""
    scripted.default = NOT_FOUND
    limits = SourceLimits(max_concurrency=2, max_rate=10_000)
    busy_limiter = CountingLimiter(engines[0], source, limits, hold_seconds=0.05)
    busy = gov_client(scripted.url, vault(), clock, budget=5.0, limiter=busy_limiter)
    stop = asyncio.Event()

    async def keep_busy() -> None:
        while not stop.is_set():
            await busy.lookup(new_uscc())

    streams = [asyncio.create_task(keep_busy()) for _ in range(4)]
    other = limited_client(engines[1], source, limits, scripted, clock, budget=5.0)
    try:
        # Well past many holds (20 requests of 2 at a time), nothing was given back.
        await asyncio.to_thread(scripted.wait_until, lambda s: len(s.seen) >= 40)
        assert busy_limiter.given_back == 0
        # Another process wants one: it gets its turn.
        assert await other.lookup(new_uscc()) is None
        assert busy_limiter.given_back >= 1
    finally:
        stop.set()
        await asyncio.gather(*streams)
        await busy.aclose()
        await other.aclose()
    assert scripted.max_in_flight <= 2


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_lost_limiter_connection_drops_its_slots_and_takes_new_ones(
    engines: tuple[AsyncEngine, AsyncEngine],
    source: str,
    scripted: ScriptedServer,
    clock: TestClock,
    observer: asyncpg.Connection,
) -> None:
    limits = SourceLimits(max_concurrency=2, max_rate=1000)
    client = limited_client(engines[0], source, limits, scripted, clock)
    [in_flight] = await held_lookups(client, scripted, 1)
    [(pid, slots)] = (await advisory_holders(observer, source)).items()
    assert len(slots) == 1
    # Ended, and waited for: its session's locks are gone before the answer comes.
    await observer.execute("SELECT pg_terminate_backend($1, 5000)", pid)
    scripted.hold.set()
    # The request in flight still gets its answer; the next ones find a new connection,
    # and the slot of the lost one is never handed on.
    assert await in_flight is None
    for _ in range(2):
        assert await client.lookup(new_uscc()) is None
    holders = await advisory_holders(observer, source)
    assert pid not in holders and len(holders) == 1
    await client.aclose()


class LateLoop:
    """A clock whose sleeps end later than asked (a busy event loop), without waiting:
    each sleep moves it on by what was asked and the next of `late`."""

    def __init__(self, now: Callable[[], float], late: list[float]) -> None:
        self._now = now
        self._ahead = 0.0
        self.late = late
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self._now() + self._ahead

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._ahead += seconds + (self.late.pop(0) if self.late else 0.0)
        await asyncio.sleep(0)


def late_limiter(engine: AsyncEngine, source: str, limits: SourceLimits, loop: LateLoop) -> Any:
    if engine.dialect.name == "postgresql":
        return PostgresLimiter(engine, source, limits, monotonic=loop, sleep=loop.sleep)
    return SqliteLimiter(engine, source, limits, wall_clock=loop, sleep=loop.sleep)


async def test_a_request_woken_too_late_for_its_start_does_not_leave_on_it(
    engines: tuple[AsyncEngine, AsyncEngine], source: str
) -> None:
    # Starts 0.22 s apart for a contract of 5 a second with no burst: a request that
    # left 30 ms late would be 0.19 s from the next one, nearer than the contract's 0.2 s.
    limits = SourceLimits(max_concurrency=2, max_rate=5, burst=1)
    loop = LateLoop(time.time if engines[0].dialect.name == "sqlite" else time.monotonic, [])
    limiter = late_limiter(engines[0], source, limits, loop)
    async with limiter.slot(Deadline.after(5), 0.05):
        pass
    loop.late = [0.03]
    async with limiter.slot(Deadline.after(5), 0.05):
        pass
    await limiter.aclose()
    # The second request slept for its start, woke too late, and slept again for a
    # later one, on which it left.
    assert len(loop.sleeps) == 2
    assert loop.sleeps[0] == pytest.approx(limits.interval, abs=0.02)


async def test_a_start_leaving_less_than_an_attempt_is_refused_at_once(
    engines: tuple[AsyncEngine, AsyncEngine], source: str
) -> None:
    # One start every 1.1 s: the second is within the next request's 1.12 s, but would
    # leave it less than the 0.05 s an attempt needs.
    limits = SourceLimits(max_concurrency=2, max_rate=1)
    loop = LateLoop(time.time if engines[0].dialect.name == "sqlite" else time.monotonic, [])
    limiter = late_limiter(engines[0], source, limits, loop)
    async with limiter.slot(Deadline.after(5), 0.05):
        pass
    with pytest.raises(BudgetExhausted, match="no_rate_token"):
        async with limiter.slot(Deadline.after(1.12), 0.05):
            pass
    with pytest.raises(BudgetExhausted, match="no_time_left"):
        async with limiter.slot(Deadline.after(0.04), 0.05):
            pass
    await limiter.aclose()
    assert loop.sleeps == []  # nothing waited for


# Fast enough for shares of the timeline (pg_rate_shares.py): no round trip for a start.
FAST = SourceLimits(max_concurrency=16, max_rate=1000, burst=10)


async def keep_busy(limiter: PostgresLimiter, stop: asyncio.Event, streams: int = 6) -> int:
    """Requests back to back on `streams` streams until stop; how many left."""
    left = 0

    async def stream() -> None:
        nonlocal left
        while not stop.is_set():
            async with limiter.slot(Deadline.after(5), 0.05):
                left += 1

    await asyncio.gather(*(stream() for _ in range(streams)))
    return left


async def shares(observer: asyncpg.Connection, source: str) -> dict[int, dict[str, int]]:
    """The residues each holder holds, by period."""
    rows = await observer.fetch(
        "SELECT period, holder, residues FROM registry_rate_shares WHERE source = $1", source
    )
    held: dict[int, dict[str, int]] = {}
    for row in rows:
        held.setdefault(row["period"], {})[row["holder"]] = from_column(row["residues"])
    return held


async def until_shares(
    observer: asyncpg.Connection, source: str, condition: Callable[[dict[str, int]], bool]
) -> dict[str, int]:
    """The shares of the first period found to meet the condition (within 10 s)."""
    give_up = time.monotonic() + 10
    while True:
        for _, holders in sorted((await shares(observer, source)).items()):
            if condition(holders):
                return holders
        assert time.monotonic() < give_up, await shares(observer, source)
        await asyncio.sleep(0.02)


def disjoint(holders: dict[str, int]) -> bool:
    masks = list(holders.values())
    return all(a & b == 0 for n, a in enumerate(masks) for b in masks[n + 1 :])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_busy_processes_split_a_fast_rate_and_never_hold_the_same_starts(
    engines: tuple[AsyncEngine, AsyncEngine], source: str, observer: asyncpg.Connection
) -> None:
    assert shares_fit(FAST)
    limiters = [PostgresLimiter(engine, source, FAST) for engine in engines]
    stop = asyncio.Event()
    streams = [asyncio.create_task(keep_busy(limiter, stop)) for limiter in limiters]
    seen: list[dict[str, int]] = []
    try:
        both = await until_shares(observer, source, lambda holders: len(holders) == 2)
        # Both busy alike: half the residues each, in one period.
        halves = await until_shares(
            observer, source, lambda h: sorted(m.bit_count() for m in h.values()) == [32, 32]
        )
        seen = [both, halves, *(await shares(observer, source)).values()]
    finally:
        stop.set()
        left = await asyncio.gather(*streams)
        for limiter in limiters:
            await limiter.aclose()
    assert all(count > 0 for count in left)
    assert all(disjoint(holders) for holders in seen)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_newcomer_gets_starts_while_another_process_holds_the_whole_rate(
    engines: tuple[AsyncEngine, AsyncEngine], source: str, observer: asyncpg.Connection
) -> None:
    busy, newcomer = (PostgresLimiter(engine, source, FAST) for engine in engines)
    stop = asyncio.Event()
    stream = asyncio.create_task(keep_busy(busy, stop))
    try:
        await until_shares(observer, source, lambda h: list(h.values()) == [2**64 - 1])
        # A request of its own, on a budget of a few periods: it asks for what is free
        # after the periods already held, and leaves.
        async with newcomer.slot(Deadline.after(2), 0.05):
            pass
        split = await until_shares(observer, source, lambda h: len(h) == 2 and all(h.values()))
    finally:
        stop.set()
        await stream
        await busy.aclose()
        await newcomer.aclose()
    assert disjoint(split)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_share_of_a_process_gone_returns_to_the_others(
    engines: tuple[AsyncEngine, AsyncEngine], source: str, observer: asyncpg.Connection
) -> None:
    staying, leaving = (PostgresLimiter(engine, source, FAST) for engine in engines)
    stop_staying, stop_leaving = asyncio.Event(), asyncio.Event()
    stays = asyncio.create_task(keep_busy(staying, stop_staying))
    leaves = asyncio.create_task(keep_busy(leaving, stop_leaving))
    try:
        await until_shares(observer, source, lambda h: len(h) == 2 and all(h.values()))
        stop_leaving.set()
        await leaves
        await leaving.aclose()  # as if it died: its rows stay until their periods pass
        alone = await until_shares(observer, source, lambda h: list(h.values()) == [2**64 - 1])
    finally:
        stop_staying.set()
        stop_leaving.set()
        await stays
        await staying.aclose()
    assert len(alone) == 1
