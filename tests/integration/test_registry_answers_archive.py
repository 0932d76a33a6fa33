"""The government registry's answers update the archive, against the registry simulator
(a real process over HTTP) and the gRPC API, on both storage backends: a verification
records the registry fact, a change at the registry seen by a later verification or a
re-check updates the archive's business status, level and standing, an unchanged record
writes nothing, and a failing write still answers."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from integrity.v1 import licence_pb2 as L
from integrity.v1 import verification_pb2 as V
from sqlalchemy import func, select, text
from structlog.testing import capture_logs

from clients import AsyncIntegrityClient
from clients.errors import IntegrityCallError
from service.adapters.storage.tables import archive_facts, verifications
from service.bootstrap import Application
from service.domain.archive import FactKind
from service.domain.callers import CallerKind
from service.domain.licence import RegistrationStatus
from service.settings import PiiKeys, Settings
from tests.builders import registry_row, verification_for
from tests.clock import TestClock
from tests.conftest import RunningServer
from tests.registry_simulator import RegistrySimulator, service_settings

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def simulator(registry_simulator: RegistrySimulator) -> RegistrySimulator:
    return registry_simulator


@pytest.fixture
def settings(database_url: str, pii_keys: PiiKeys, simulator: RegistrySimulator) -> Settings:
    """The service asking the simulator's government registry, and nothing else."""
    return service_settings(simulator, database_url, pii_keys, sources=("gov",))


@pytest.fixture
async def viewer(server: RunningServer) -> AsyncIterator[AsyncIntegrityClient]:
    """A logged-in viewer through the gateway: the public archive and the level."""
    _caller, token = await server.app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    target = server.target
    async with AsyncIntegrityClient(target, token=token, on_behalf_of="viewer:u-1") as client:
        yield client


def truth_of(simulator: RegistrySimulator) -> dict[str, Any]:
    return dict(simulator.control.record(simulator.control.code())["record"])


async def registry_versions(app: Application, uscc: str) -> int:
    query = select(func.count()).where(
        archive_facts.c.uscc == uscc, archive_facts.c.kind == FactKind.REGISTRY.value
    )
    async with app.engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


async def test_a_verification_records_what_the_registry_says_in_the_archive(
    server: RunningServer,
    client: AsyncIntegrityClient,
    viewer: AsyncIntegrityClient,
    simulator: RegistrySimulator,
) -> None:
    truth = truth_of(simulator)
    result = await client.create_verification(verification_for(truth))
    assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED, result.reasons
    public = (await viewer.get_archive(truth["uscc"])).public_information
    assert public.enterprise_name == truth["name"]
    assert public.status == L.REGISTRATION_STATUS_IN_BUSINESS
    assert public.registered_address == truth["address"]
    # Personal data as an import keeps it: the legal representative only masked, in the
    # answer and at rest.
    query = select(archive_facts.c.payload).where(archive_facts.c.uscc == truth["uscc"])
    async with server.app.engine.connect() as connection:
        stored = json.dumps(list((await connection.execute(query)).scalars()), ensure_ascii=False)
    assert truth["name"] in stored
    for personal in truth["legal_representative"].values():
        assert personal not in str(public) and personal not in stored


@pytest.mark.parametrize("seen_by", ["verification", "recheck"])
async def test_a_revocation_at_the_registry_reaches_the_archive_level_and_standing(
    server: RunningServer,
    client: AsyncIntegrityClient,
    viewer: AsyncIntegrityClient,
    simulator: RegistrySimulator,
    clock: TestClock,
    seen_by: str,
) -> None:
    app, truth = server.app, truth_of(simulator)
    uscc = truth["uscc"]
    first = await client.create_verification(verification_for(truth))
    assert first.outcome == V.VERIFICATION_OUTCOME_VERIFIED, first.reasons
    before = await viewer.get_archive(uscc)
    assert before.integrity_level.cap_reason == ""
    assert (await app.standings.get(uscc)).status is RegistrationStatus.IN_BUSINESS  # cached

    # A minute on, so the archive read as of before tells the versions apart.
    simulator.move_clocks(clock, dt.timedelta(minutes=1))
    simulator.control.schedule_change(uscc, status="revoked")
    if seen_by == "verification":
        again = await client.create_verification(verification_for(truth))
        assert again.outcome == V.VERIFICATION_OUTCOME_REJECTED
    else:
        outcome = await app.rechecks.recheck_enterprise(
            uscc, trigger="batch", key=f"test-{uuid.uuid4().hex}"
        )
        assert outcome.applied
        assert (await client.get_verification(first.name)).outcome == (
            V.VERIFICATION_OUTCOME_REJECTED
        )

    after = await viewer.get_archive(uscc)
    assert after.public_information.status == L.REGISTRATION_STATUS_REVOKED
    assert after.integrity_level.cap_reason == "NOT_IN_BUSINESS"
    assert (await app.standings.get(uscc)).status is RegistrationStatus.REVOKED
    # History kept: the version before the revocation still reads as it was.
    assert await registry_versions(app, uscc) == 2
    as_before = await viewer.get_archive(
        uscc, read_time=before.integrity_level.compute_time.ToDatetime()
    )
    assert as_before.public_information.status == L.REGISTRATION_STATUS_IN_BUSINESS


async def test_an_unchanged_record_writes_nothing(
    server: RunningServer, client: AsyncIntegrityClient, simulator: RegistrySimulator
) -> None:
    truth = truth_of(simulator)
    for _ in range(3):
        result = await client.create_verification(verification_for(truth))
        assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED
    assert await registry_versions(server.app, truth["uscc"]) == 1
    assert simulator.control.stats()["shapes"]["gov"]["statuses"] == {"200": 3}


REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_archive_facts BEFORE INSERT ON archive_facts "
        "BEGIN SELECT RAISE(ABORT, 'archive refused'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_archive_facts() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'archive refused'; END $$",
        "CREATE TRIGGER refuse_archive_facts BEFORE INSERT ON archive_facts "
        "FOR EACH ROW EXECUTE FUNCTION refuse_archive_facts()",
    ],
}
ALLOW = {
    "sqlite": ["DROP TRIGGER IF EXISTS refuse_archive_facts"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS refuse_archive_facts ON archive_facts",
        "DROP FUNCTION IF EXISTS refuse_archive_facts()",
    ],
}


async def run_all(app: Application, statements: list[str]) -> None:
    async with app.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def test_a_failing_archive_write_still_answers_the_verification(
    server: RunningServer, client: AsyncIntegrityClient, simulator: RegistrySimulator
) -> None:
    app, truth = server.app, truth_of(simulator)
    dialect = app.engine.dialect.name
    await run_all(app, REFUSE[dialect])
    try:
        with capture_logs() as logs:
            result = await client.create_verification(verification_for(truth))
    finally:
        await run_all(app, ALLOW[dialect])
    assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED, result.reasons
    assert await registry_versions(app, truth["uscc"]) == 0
    [refused] = [entry for entry in logs if entry["event"] == "registry_fact_not_recorded"]
    assert refused["uscc"] == truth["uscc"]
    logged = str(logs)
    assert truth["legal_representative"]["name"] not in logged
    assert truth["legal_representative"]["id_number"] not in logged
    # Once the archive takes writes again, the next answer is recorded.
    await client.create_verification(verification_for(truth))
    assert await registry_versions(app, truth["uscc"]) == 1


async def test_a_record_first_seen_by_another_verification_makes_the_pending_ones_due(
    server: RunningServer,
    client: AsyncIntegrityClient,
    simulator: RegistrySimulator,
    clock: TestClock,
) -> None:
    app = server.app
    clock.freeze()
    row = registry_row()
    # Published by the government registry two minutes from now.
    simulator.control.put_record(row, publish_at=simulator.control.now() + 2 * MINUTE)
    waiting = await client.create_verification(verification_for(row))
    assert waiting.outcome == V.VERIFICATION_OUTCOME_PENDING
    waiting_id = waiting.name.rsplit("/", 1)[1]
    scheduled = await recheck_time_of(app, waiting_id)
    assert scheduled is not None and scheduled > clock.now() + 3 * MINUTE

    simulator.move_clocks(clock, 3 * MINUTE)
    # Another platform asks about the enterprise: the registry's answer reaches the archive,
    # and the first verification need not wait for its next scheduled re-check.
    _caller, token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "other platform", platform="other-platform"
    )
    async with AsyncIntegrityClient(server.target, token=token, timeout=15) as other:
        seen = await other.create_verification(verification_for(row))
    assert seen.outcome == V.VERIFICATION_OUTCOME_VERIFIED, seen.reasons
    assert await recheck_time_of(app, waiting_id) == clock.now()
    assert await app.rechecks.run_due(10) == 1
    assert (await client.get_verification(waiting.name)).outcome == (
        V.VERIFICATION_OUTCOME_VERIFIED
    )


async def test_an_enterprise_known_from_the_registrys_answers_is_found_by_name(
    client: AsyncIntegrityClient, viewer: AsyncIntegrityClient, simulator: RegistrySimulator
) -> None:
    truth = truth_of(simulator)
    with pytest.raises(IntegrityCallError) as unknown:
        await viewer.lookup_archive(truth["name"])
    assert unknown.value.reason == "ARCHIVE_NOT_FOUND"  # no snapshot, not asked yet
    verified = await client.create_verification(verification_for(truth))
    assert verified.outcome == V.VERIFICATION_OUTCOME_VERIFIED, verified.reasons
    found = await viewer.lookup_archive(truth["name"])
    assert found.public_information.uscc == truth["uscc"]


async def recheck_time_of(app: Application, verification_id: str) -> dt.datetime | None:
    query = select(verifications.c.recheck_time).where(verifications.c.id == verification_id)
    async with app.engine.connect() as connection:
        return (await connection.execute(query)).scalar_one()
