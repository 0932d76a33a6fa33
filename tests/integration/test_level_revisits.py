"""Levels recomputed when time alone changes them, over gRPC, on both backends.

The clock is the application's (a manual one here): the scheduler is driven by calling
its one pass, or by starting its loop and awaiting the outcome within a bound.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import pytest
from integrity.v1 import eligibility_pb2
from sqlalchemy import func, select, text

from clients import AsyncIntegrityClient
from service.adapters.storage.tables import change_log, integrity_levels
from service.app.levels import REVISIT_LEASE
from service.bootstrap import Application, bootstrap, build_server
from service.domain.callers import CallerKind
from service.domain.level_timing import china_midnight
from service.jobs.level_revisits import LevelRevisitScheduler
from service.settings import PiiKeys, Settings
from tests.builders import import_rows, registry_row, verification_for
from tests.clock import TestClock
from tests.conftest import _clean
from tests.integration.test_eligibility import policy

E = eligibility_pb2
T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
EXPIRY = dt.date(2027, 6, 1)  # two years after the listing below
MIN_CLASS_A = [{"kind": "min_class", "class": "A"}]


class Rig:
    def __init__(self, app: Application, clock: TestClock, port: int) -> None:
        self.app, self.clock, self.port = app, clock, port
        self.platform_token = ""
        self.viewer_token = ""

    def platform(self) -> AsyncIntegrityClient:
        return AsyncIntegrityClient(f"127.0.0.1:{self.port}", token=self.platform_token)

    def viewer(self) -> AsyncIntegrityClient:
        return AsyncIntegrityClient(
            f"127.0.0.1:{self.port}", token=self.viewer_token, on_behalf_of="viewer:u1"
        )

    async def enterprise(self, **row: Any) -> str:
        """A verified enterprise, in business, that scores A on its own."""
        found = registry_row(**row)
        await import_rows(self.app, [found])
        verification = verification_for(found)
        verification.authorization.grant_time.FromDatetime(self.clock.now() - dt.timedelta(days=1))
        async with self.platform() as client:
            await client.create_verification(verification)
        return str(found["uscc"])

    async def list_dishonest_debtor(self, uscc: str) -> None:
        row = {
            "uscc": uscc,
            "entry_id": f"D-{uscc}",
            "kind": "dishonest_debtor",
            "authority": "杭州市西湖区人民法院",
            "listing_date": "2025-06-01",  # listed for the default two years
        }
        report = await self.app.judicial_importer.run([(1, row)])
        assert report.changed == 1

    async def classes_shown(self, uscc: str) -> tuple[str, str, bool]:
        """(class in GetArchive, class in CheckEligibility, whether the check allowed)."""
        async with self.viewer() as viewer:
            archive = await viewer.get_archive(uscc)
        async with self.platform() as client:
            check = await client.check_eligibility(uscc, "store_opening")
        allowed = check.decision == E.ELIGIBILITY_DECISION_ALLOW
        return archive.integrity_level.level_class, check.level_class, allowed


async def start_rig(settings: Settings, clock: TestClock) -> tuple[Rig, Any]:
    app = await bootstrap(settings, clock=clock)
    await _clean(app)
    server, _health = build_server(app)
    rig = Rig(app, clock, server.add_insecure_port("127.0.0.1:0"))
    _caller, rig.platform_token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "Shop", platform="shop"
    )
    _caller, rig.viewer_token = await app.credentials.create_caller(CallerKind.GATEWAY, "gw")
    await app.policies.load(policy(1, T0 - dt.timedelta(days=1), MIN_CLASS_A))
    await server.start()
    return rig, server


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    started, server = await start_rig(settings, TestClock(T0))
    yield started
    await server.stop(None)
    await started.app.close()


async def last_change(app: Application, uscc: str) -> int:
    async with app.engine.connect() as connection:
        query = select(func.max(change_log.c.sequence)).where(change_log.c.uscc == uscc)
        return int((await connection.execute(query)).scalar() or 0)


async def pending_revisits(app: Application, uscc: str) -> int:
    async with app.engine.connect() as connection:
        query = select(func.count()).where(
            integrity_levels.c.uscc == uscc, integrity_levels.c.revisit_time.is_not(None)
        )
        return int((await connection.execute(query)).scalar() or 0)


async def test_a_listing_expiring_raises_the_class_with_no_new_fact(rig: Rig) -> None:
    uscc = await rig.enterprise()
    await rig.list_dishonest_debtor(uscc)
    held = await rig.app.levels.current(uscc)
    assert held is not None and (held.level_class, held.cap_reason) == ("B", "DISHONEST_DEBTOR")
    assert held.revisit_time == china_midnight(EXPIRY)
    assert await pending_revisits(rig.app, uscc) == 1  # the levels it replaced are not due
    assert await rig.classes_shown(uscc) == ("B", "B", False)  # the standing is cached now
    assert await rig.app.revisits.run_once() == 0  # nothing is due yet
    logged = await last_change(rig.app, uscc)

    rig.clock.set(china_midnight(EXPIRY) + dt.timedelta(minutes=1))
    assert await rig.app.revisits.run_once() == 1

    raised = await rig.app.levels.current(uscc)
    assert raised is not None and (raised.level_class, raised.cap_reason) == ("A", "")
    assert raised.revisit_time is not None and raised.revisit_time > rig.clock.now()
    assert [h.level_class for h in await rig.app.levels.history(uscc)][:2] == ["A", "B"]
    assert await last_change(rig.app, uscc) > logged
    assert await rig.classes_shown(uscc) == ("A", "A", True)
    assert await rig.app.revisits.run_once() == 0  # done once for this due time
    assert await pending_revisits(rig.app, uscc) == 1
    async with rig.viewer() as viewer:
        archive = await viewer.get_archive(uscc)
    assert [e.active for e in archive.public_information.judicial_entries] == [False]


async def test_a_licence_term_ending_drops_the_class_to_c(rig: Rig) -> None:
    uscc = await rig.enterprise(term_end="2027-01-15")
    level = await rig.app.levels.current(uscc)
    assert level is not None and level.level_class == "A"
    assert level.revisit_time == china_midnight(dt.date(2027, 1, 16))
    assert await rig.classes_shown(uscc) == ("A", "A", True)

    rig.clock.set(china_midnight(dt.date(2027, 1, 16)))
    assert await rig.app.revisits.run_once() == 1

    dropped = await rig.app.levels.current(uscc)
    assert dropped is not None and (dropped.level_class, dropped.cap_reason) == (
        "C",
        "LICENCE_EXPIRED",
    )
    assert await rig.classes_shown(uscc) == ("C", "C", False)


async def test_the_running_loop_recomputes_when_the_clock_passes_the_time(
    settings: Settings,
) -> None:
    clock = TestClock(T0)
    fast = dataclasses.replace(settings, level_revisit_interval_seconds=0.05)
    started, server = await start_rig(fast, clock)
    try:
        uscc = await started.enterprise()
        await started.list_dishonest_debtor(uscc)
        await started.app.revisits.start()
        clock.set(china_midnight(EXPIRY))
        async with asyncio.timeout(10):
            await started.app.revisits.wait_revisited(1)
        level = await started.app.levels.current(uscc)
        assert level is not None and level.level_class == "A"
        assert await started.classes_shown(uscc) == ("A", "A", True)
    finally:
        await server.stop(None)
        await started.app.close()


async def test_the_due_time_survives_a_restart(settings: Settings) -> None:
    first, server = await start_rig(settings, TestClock(T0))
    uscc = await first.enterprise()
    await first.list_dishonest_debtor(uscc)
    await server.stop(None)
    await first.app.close()

    later = TestClock(china_midnight(EXPIRY) + dt.timedelta(hours=3))
    restarted = await bootstrap(settings, clock=later)
    try:
        await restarted.revisits.start()  # the loop finds the due level on its first pass
        async with asyncio.timeout(10):
            await restarted.revisits.wait_revisited(1)
        # Imported, verified, listed, and revisited once.
        assert [h.level_class for h in await restarted.levels.history(uscc)] == [
            "A",
            "B",
            "A",
            "B",
        ]
    finally:
        await restarted.close()


async def test_a_check_after_the_time_reloads_a_level_another_replica_recomputed(
    rig: Rig, settings: Settings
) -> None:
    uscc = await rig.enterprise()
    await rig.list_dishonest_debtor(uscc)
    assert await rig.classes_shown(uscc) == ("B", "B", False)  # cached, with its time
    rig.clock.set(china_midnight(EXPIRY))
    other = await bootstrap(settings, clock=rig.clock)
    try:
        assert await other.revisits.run_once() == 1
    finally:
        await other.close()
    # This replica does not follow the change log here: the cached standing expired with
    # its level's revisit time, and the check loaded the recomputed one.
    assert await rig.classes_shown(uscc) == ("A", "A", True)


@pytest.fixture
def postgres_settings(postgres_url: str, pii_keys: PiiKeys) -> Settings:
    return Settings(pii_keys=pii_keys, database_url=postgres_url, listen_address="127.0.0.1:0")


async def test_two_replicas_never_recompute_one_level_twice_for_one_due_time(
    postgres_settings: Settings,
) -> None:
    clock = TestClock(T0)
    started, server = await start_rig(postgres_settings, clock)
    replica = await bootstrap(postgres_settings, clock=clock)
    try:
        usccs = [await started.enterprise() for _ in range(24)]
        for uscc in usccs:
            await started.list_dishonest_debtor(uscc)
        clock.set(china_midnight(EXPIRY))
        # Small batches, so the two replicas claim side by side many times over.
        schedulers = [
            LevelRevisitScheduler(app.levels, clock, interval=1, batch=2)
            for app in (started.app, replica)
        ]
        done = await asyncio.gather(*(s.run_once() for s in schedulers))
        assert sum(done) == len(usccs)
        for uscc in usccs:
            history = await replica.levels.history(uscc)
            # Imported, verified, listed, and revisited once.
            assert [h.level_class for h in history] == ["A", "B", "A", "B"]
    finally:
        await replica.close()
        await server.stop(None)
        await started.app.close()


async def test_a_level_another_replica_is_claiming_is_skipped_not_waited_for(
    postgres_settings: Settings,
) -> None:
    clock = TestClock(T0)
    started, server = await start_rig(postgres_settings, clock)
    try:
        uscc = await started.enterprise()
        await started.list_dishonest_debtor(uscc)
        clock.set(china_midnight(EXPIRY))
        async with started.app.engine.connect() as holder:
            transaction = await holder.begin()
            await holder.execute(
                text("SELECT id FROM integrity_levels WHERE revisit_time IS NOT NULL FOR UPDATE")
            )
            async with asyncio.timeout(5):
                assert await started.app.levels.revisit_due(10) == 0
            await transaction.rollback()
        assert await started.app.levels.revisit_due(10) == 1
    finally:
        await server.stop(None)
        await started.app.close()


async def test_a_level_of_a_scorecard_no_longer_in_use_is_not_revisited_again(rig: Rig) -> None:
    packaged = resources.files("service.config.scorecards") / "2026.1.json"
    shadow = dict(json.loads(packaged.read_text(encoding="utf-8")), version="revisit-test")
    await rig.app.levels.load_scorecard(shadow, shadow=True)
    try:
        uscc = await rig.enterprise()
        await rig.list_dishonest_debtor(uscc)  # levels under both versions, due at expiry
        await rig.app.levels.activate("revisit-test")  # no shadow version any more
        rig.clock.set(china_midnight(EXPIRY))
        assert await rig.app.revisits.run_once() == 1
        rig.clock.advance(REVISIT_LEASE * 2)  # past any claim
        assert await rig.app.revisits.run_once() == 0
        revisited = await rig.app.levels.current(uscc)
        assert revisited is not None and revisited.scorecard_version == "revisit-test"
    finally:
        # Scorecards outlive a test on the shared PostgreSQL database.
        await rig.app.levels.activate("2026.1")
