"""PENDING verifications decided again, on both backends: the registry source is the
imported snapshot, "now" the test clock (frozen, so a test names the exact times)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from integrity.v1 import eligibility_pb2, verification_pb2
from sqlalchemy import func, select

from clients import AsyncIntegrityClient
from service.adapters.storage.authorisations import SqlAuthorisationRecords
from service.adapters.storage.levels import SqlLevelStore
from service.adapters.storage.tables import (
    integrity_levels,
    outbox,
    verification_history,
    verifications,
)
from service.bootstrap import Application, bootstrap
from service.domain.callers import CallerKind
from service.domain.verification import AuthorisationScope, Outcome, ReasonCode
from service.settings import Settings
from tests.builders import import_rows, registry_row, verification_for
from tests.clock import TestClock
from tests.conftest import RunningServer, _clean, serving
from tests.integration.test_eligibility import policy

V = verification_pb2
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def frozen(clock: TestClock) -> None:
    clock.freeze()


def verification_id(message: V.Verification) -> str:
    return message.name.rsplit("/", 1)[1]


async def pending(client: AsyncIntegrityClient) -> tuple[dict[str, Any], V.Verification]:
    """A verification of an enterprise the registry has not published yet."""
    row = registry_row()
    created = await client.create_verification(verification_for(row))
    assert created.outcome == V.VERIFICATION_OUTCOME_PENDING
    return row, created


async def schedule_of(app: Application, vid: str) -> tuple[dt.datetime | None, int]:
    async with app.engine.connect() as connection:
        row = (
            await connection.execute(
                select(verifications.c.recheck_time, verifications.c.recheck_attempts).where(
                    verifications.c.id == vid
                )
            )
        ).one()
    return row.recheck_time, row.recheck_attempts


async def history_of(app: Application, vid: str) -> list[tuple[int, str, str]]:
    query = (
        select(
            verification_history.c.sequence,
            verification_history.c.outcome,
            verification_history.c.trigger,
        )
        .where(verification_history.c.verification_id == vid)
        .order_by(verification_history.c.sequence)
    )
    async with app.engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(query)]  # type: ignore[misc]


async def events_of(app: Application) -> list[dict[str, Any]]:
    async with app.engine.connect() as connection:
        rows = await connection.execute(select(outbox).order_by(outbox.c.create_time))
        return [dict(row) for row in rows.mappings()]


async def level_rows(app: Application, uscc: str) -> int:
    async with app.engine.connect() as connection:
        query = select(func.count()).where(integrity_levels.c.uscc == uscc)
        return int((await connection.execute(query)).scalar() or 0)


async def test_a_pending_verification_is_verified_once_the_registry_publishes_it(
    server: RunningServer, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    app = server.app
    row, created = await pending(client)
    vid = verification_id(created)
    made = clock.now()
    assert await schedule_of(app, vid) == (made + 5 * MINUTE, 0)

    # Not due yet: nothing is asked.
    assert await app.rechecks.run_due(10) == 0
    await import_rows(app, [row])
    levels_before = await level_rows(app, row["uscc"])
    clock.advance(5 * MINUTE)
    assert await app.rechecks.run_due(10) == 1

    assert await history_of(app, vid) == [
        (1, "pending", "create"),
        (2, "verified", "pending_recheck"),
    ]
    assert await schedule_of(app, vid) == (None, 1)
    level = await app.levels.current(row["uscc"])
    assert level is not None and level.compute_time == clock.now()
    assert await level_rows(app, row["uscc"]) == levels_before + 1
    [event] = await events_of(app)
    assert event["event_type"] == "verification.outcome_changed"
    assert event["aggregate_id"] == vid and event["uscc"] == row["uscc"]
    assert event["dispatch_time"] is None
    assert event["payload"]["outcome_before"] == "pending"
    assert event["payload"]["outcome_after"] == "verified"
    assert event["payload"]["trigger"] == "pending_recheck"
    # No personal data in the event.
    text = repr(event["payload"])
    assert row["legal_representative"]["name"] not in text
    assert row["legal_representative"]["id_number"] not in text
    # Nothing more is due.
    clock.advance(dt.timedelta(days=2))
    assert await app.rechecks.run_due(10) == 0


async def test_a_failure_midway_leaves_nothing_written(
    server: RunningServer,
    client: AsyncIntegrityClient,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = server.app
    row, created = await pending(client)
    vid = verification_id(created)
    await import_rows(app, [row])
    levels_before = await level_rows(app, row["uscc"])

    async def refuse(*_args: Any) -> None:
        raise RuntimeError("level store down")

    monkeypatch.setattr(SqlLevelStore, "save", refuse)
    with pytest.raises(RuntimeError, match="level store down"):
        await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="k-1")
    # The scheduled path fails alike, and keeps its claim to fall due again.
    clock.advance(5 * MINUTE)
    assert await app.rechecks.run_due(10) == 1

    assert await history_of(app, vid) == [(1, "pending", "create")]
    assert await events_of(app) == []
    assert await level_rows(app, row["uscc"]) == levels_before
    fetched = await client.get_verification(created.name)
    assert fetched.outcome == V.VERIFICATION_OUTCOME_PENDING
    recheck_time, attempts = await schedule_of(app, vid)
    assert attempts == 0 and recheck_time is not None and recheck_time > clock.now()

    # Once the store is back, the same key applies (nothing of it was kept).
    monkeypatch.undo()
    outcome = await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="k-1")
    assert outcome.applied and outcome.outcome_after is Outcome.VERIFIED
    assert await history_of(app, vid) == [(1, "pending", "create"), (2, "verified", "batch")]


async def test_the_waits_between_rechecks_grow(
    server: RunningServer, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    app = server.app
    _row, created = await pending(client)
    vid = verification_id(created)
    waits = []
    for attempt in range(1, 7):
        due, _attempts = await schedule_of(app, vid)
        assert due is not None
        clock.set(due - dt.timedelta(seconds=1))
        assert await app.rechecks.run_due(10) == 0  # not a second early
        clock.set(due)
        assert await app.rechecks.run_due(10) == 1
        after, attempts = await schedule_of(app, vid)
        assert after is not None and attempts == attempt
        waits.append(after - due)
    assert waits == [
        15 * MINUTE,
        dt.timedelta(hours=1),
        dt.timedelta(hours=6),
        dt.timedelta(days=1),
        dt.timedelta(days=1),
        dt.timedelta(days=1),
    ]
    # Still PENDING, and a single history entry: asking again changed nothing.
    assert await history_of(app, vid) == [(1, "pending", "create")]
    assert await events_of(app) == []


@pytest.fixture
async def short_lived(settings: Settings, clock: TestClock) -> AsyncIterator[RunningServer]:
    """A server whose PENDING verifications are asked about daily and last three days."""
    quick = dataclasses.replace(
        settings, pending_recheck_delays_seconds=(86400.0,), pending_max_age_days=3.0
    )
    app = await bootstrap(quick, clock=clock)
    await _clean(app)
    try:
        async with serving(app) as running:
            yield running
    finally:
        await app.close()


async def test_a_pending_that_outlives_its_maximum_age_ends_with_its_own_reason(
    short_lived: RunningServer, clock: TestClock
) -> None:
    app = short_lived.app
    async with AsyncIntegrityClient(short_lived.target, token=short_lived.token) as client:
        row, created = await pending(client)
        vid = verification_id(created)
        made = clock.now()
        checks = []
        while (await schedule_of(app, vid))[0] is not None:
            due, _attempts = await schedule_of(app, vid)
            assert due is not None
            clock.set(due)
            checks.append(due - made)
            assert await app.rechecks.run_due(10) == 1
        fetched = await client.get_verification(created.name)
    assert checks == [dt.timedelta(days=d) for d in (1, 2, 3)]
    assert fetched.outcome == V.VERIFICATION_OUTCOME_REJECTED
    assert [r.code for r in fetched.reasons] == [V.VERIFICATION_REASON_CODE_PENDING_EXPIRED]
    assert await history_of(app, vid) == [
        (1, "pending", "create"),
        (2, "rejected", "pending_recheck"),
    ]
    [event] = await events_of(app)
    assert event["payload"]["reasons_after"] == ["PENDING_EXPIRED"]

    # The registry publishes it later: a re-check of the enterprise still finds it.
    await import_rows(app, [row])
    outcome = await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="late")
    assert outcome.outcome_before is Outcome.REJECTED
    assert outcome.outcome_after is Outcome.VERIFIED


async def test_recheck_enterprise_is_idempotent_by_key(
    server: RunningServer, client: AsyncIntegrityClient
) -> None:
    app = server.app
    row, created = await pending(client)
    vid = verification_id(created)

    unchanged = await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="b-0")
    assert unchanged.applied and unchanged.verifications_checked == 1
    assert unchanged.outcome_before is unchanged.outcome_after is Outcome.PENDING
    assert unchanged.reasons_after == (ReasonCode.REGISTRY_RECORD_NOT_FOUND,)

    await import_rows(app, [row])
    first = await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="b-1")
    assert first.applied
    assert (first.verification_id, first.outcome_before, first.outcome_after) == (
        vid,
        Outcome.PENDING,
        Outcome.VERIFIED,
    )
    assert first.reasons_after == ()
    assert first.level_class_after is not None
    again = await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="b-1")
    assert again == dataclasses.replace(first, applied=False)
    assert await history_of(app, vid) == [(1, "pending", "create"), (2, "verified", "batch")]
    assert len(await events_of(app)) == 1
    # Decided: the PENDING schedule is over.
    assert (await schedule_of(app, vid))[0] is None

    nobody = await app.rechecks.recheck_enterprise(
        registry_row()["uscc"], trigger="batch", key="b-2"
    )
    assert nobody.applied and nobody.verification_id is None
    assert nobody.verifications_checked == 0


async def test_each_callers_newest_verification_is_rechecked(
    server: RunningServer, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    app = server.app
    row, older = await pending(client)
    clock.advance(MINUTE)
    newer = await client.create_verification(verification_for(row))
    _other, token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "another platform", platform="other"
    )
    clock.advance(MINUTE)
    async with AsyncIntegrityClient(server.target, token=token) as other:
        theirs = await other.create_verification(verification_for(row))
    await import_rows(app, [row])
    outcome = await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="k")
    assert outcome.verifications_checked == 2
    assert outcome.verification_id == verification_id(theirs)
    assert len(await history_of(app, verification_id(older))) == 1
    assert len(await history_of(app, verification_id(newer))) == 2
    assert len(await history_of(app, verification_id(theirs))) == 2


async def test_concurrent_passes_recheck_each_due_verification_once(
    server: RunningServer, client: AsyncIntegrityClient, settings: Settings, clock: TestClock
) -> None:
    app = server.app
    rows = []
    for _ in range(8):
        row, _created = await pending(client)
        rows.append(row)
    await import_rows(app, rows)
    clock.advance(5 * MINUTE)
    # Another replica on the same database.
    replica = await bootstrap(settings, clock=clock)
    try:
        claimed = await asyncio.gather(
            app.rechecks.run_due(3),
            replica.rechecks.run_due(3),
            app.rechecks.run_due(3),
            replica.rechecks.run_due(3),
        )
    finally:
        await replica.close()
    assert sum(claimed) == 8
    async with app.engine.connect() as connection:
        per_verification = (
            await connection.execute(
                select(verification_history.c.verification_id, func.count()).group_by(
                    verification_history.c.verification_id
                )
            )
        ).all()
    assert sorted(count for _vid, count in per_verification) == [2] * 8
    assert len(await events_of(app)) == 8


async def test_an_eligibility_check_sees_the_new_standing(
    server: RunningServer, clock: TestClock, settings: Settings
) -> None:
    app = server.app
    await app.policies.load(
        policy(
            1,
            clock.now() - dt.timedelta(days=1),
            [{"kind": "identity_verified", "within_days": 365}],
        )
    )
    _caller, token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "Shop", platform="shop"
    )
    replica = await bootstrap(settings, clock=clock, run_migrations=False)
    try:
        await replica.follower.start()
        async with AsyncIntegrityClient(server.target, token=token) as shop:
            row, _created = await pending(shop)
            await import_rows(app, [row])
            before = await shop.check_eligibility(row["uscc"], "store_opening")
            assert before.decision == eligibility_pb2.ELIGIBILITY_DECISION_DENY
            # The replica's cache holds the PENDING standing too.
            assert (await replica.standings.get(row["uscc"])).last_verified is None

            await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="k")
            after = await shop.check_eligibility(row["uscc"], "store_opening")
        assert after.decision == eligibility_pb2.ELIGIBILITY_DECISION_ALLOW
        # Elsewhere the change log carries it, exactly as for a new verification.
        assert row["uscc"] in await replica.follower.poll()
        assert (await replica.standings.get(row["uscc"])).last_verified == clock.now()
    finally:
        await replica.close()


async def test_the_servers_loop_rechecks_what_falls_due(
    server: RunningServer, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    app = server.app
    row, created = await pending(client)
    await import_rows(app, [row])
    clock.advance(5 * MINUTE)
    await app.pending_rechecks.start()
    await asyncio.wait_for(app.pending_rechecks.wait_done(1), timeout=30)
    fetched = await client.get_verification(created.name)
    assert fetched.outcome == V.VERIFICATION_OUTCOME_VERIFIED
    assert await app.rechecks.next_due_time() is None


async def test_an_archive_read_as_of_before_the_recheck_sees_no_authorisation(
    server: RunningServer, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    app = server.app
    row, _created = await pending(client)
    await import_rows(app, [row])
    before = clock.now()
    clock.advance(dt.timedelta(hours=1))
    await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="k")
    records = SqlAuthorisationRecords(app.engine)
    # The authorisation speaks for the archive from when the verification was VERIFIED.
    assert await records.archive_scopes(row["uscc"], before) == frozenset()
    assert AuthorisationScope.ARCHIVE in await records.archive_scopes(row["uscc"], clock.now())


async def test_a_registry_import_makes_its_pending_verifications_due_at_once(
    server: RunningServer, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    app = server.app
    row, created = await pending(client)
    _other, elsewhere = await pending(client)
    clock.advance(MINUTE)
    await import_rows(app, [row])
    assert await schedule_of(app, verification_id(created)) == (clock.now(), 0)
    assert await app.rechecks.run_due(10) == 1
    assert (await client.get_verification(created.name)).outcome == V.VERIFICATION_OUTCOME_VERIFIED
    # The enterprise the import did not publish keeps its schedule.
    due, _attempts = await schedule_of(app, verification_id(elsewhere))
    assert due is not None and due > clock.now()
