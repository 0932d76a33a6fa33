"""The HTTP registry sources against the registry simulator, a real process: retries and
Retry-After, the circuit breaker, the contracted limits (several clients, two processes
on PostgreSQL or one SQLite file), and through the gRPC API, an outage and sources that disagree."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integrity.v1 import verification_pb2 as V

from clients import AsyncIntegrityClient
from service.adapters.registry_http.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from service.adapters.registry_http.limits import LocalLimiter, SourceLimits
from service.adapters.registry_http.pg_rate_shares import shares_fit
from service.adapters.registry_http.transport import BreakerOpen
from service.adapters.storage.engine import create_engine
from service.adapters.storage.migrate import migrate
from service.app.ports import RegistryUnavailable
from service.bootstrap import bootstrap, build_server
from service.domain.callers import CallerKind
from service.domain.sealed import PiiKind
from service.settings import PiiKeys, Settings
from tests.builders import verification_for
from tests.clock import TestClock
from tests.registry_simulator import (
    GOV_TOKEN,
    PROVIDER_APP_ID,
    PROVIDER_SECRET,
    RegistrySimulator,
    running_simulator,
    service_settings,
)
from tests.registry_wire import gov_client, provider_client, submission, vault
from tests.unit.adapters.test_circuit_breaker import FakeMonotonic

GOV_STATS = "gov:test"


def gov_statuses(simulator: RegistrySimulator) -> dict[str, int]:
    return dict(simulator.control.stats()["shapes"]["gov"]["statuses"])


async def test_clients_read_both_shapes_of_the_simulator(
    registry_simulator: RegistrySimulator, clock: TestClock
) -> None:
    keys = vault()
    uscc = registry_simulator.control.code()
    control = registry_simulator.control
    truth = control.record(uscc)["record"]
    control.put_record(truth, provider_returns_id_number=True)
    gov = gov_client(registry_simulator.url, keys, clock, token=GOV_TOKEN)
    record = await gov.lookup(uscc)
    provider = provider_client(
        registry_simulator.url, keys, clock, app_id=PROVIDER_APP_ID, secret=PROVIDER_SECRET
    )
    rep = truth["legal_representative"]
    answer = await provider.verify(
        await submission(
            keys, uscc, name=truth["name"], rep_name=rep["name"], id_number=rep["id_number"]
        )
    )
    await gov.aclose()
    await provider.aclose()
    assert record is not None and record.name == truth["name"]
    assert record.legal_representative.id_number is None
    assert record.legal_representative.name.same_as(
        await keys.seal(uscc, PiiKind.PERSON_NAME, rep["name"])
    )
    assert answer is not None and answer.legal_rep_id_number is not None
    assert answer.legal_rep_id_number.same_as(
        await keys.seal(uscc, PiiKind.ID_NUMBER, rep["id_number"])
    )


async def test_rate_limited_requests_are_retried_after_retry_after(
    registry_simulator: RegistrySimulator, clock: TestClock
) -> None:
    # Another client of the same contract used this second's request: the simulator says
    # 429 with Retry-After 1, and the client asks again only after it.
    control = registry_simulator.control
    control.change_settings({"gov": {"limits": {"rate_per_second": 1, "burst": 1}}})
    waits: list[float] = []

    async def wait_out(seconds: float) -> None:
        # The wait is recorded, not waited: the simulator's second passes at once instead
        # (a new contract, the same rate, starts with a full bucket).
        waits.append(seconds)
        patch = {"gov": {"limits": {"rate_per_second": 1, "burst": 2}}}
        await asyncio.to_thread(control.change_settings, patch)

    uscc = registry_simulator.control.code()
    client = gov_client(registry_simulator.url, vault(), clock, token=GOV_TOKEN, sleep=wait_out)
    assert await client.lookup(uscc) is not None
    assert await client.lookup(uscc) is not None
    await client.aclose()
    assert waits == [1.0]
    assert gov_statuses(registry_simulator) == {"200": 2, "429": 1}


async def test_retry_after_beyond_the_budget_gives_up_at_once(
    registry_simulator: RegistrySimulator, clock: TestClock
) -> None:
    control = registry_simulator.control
    control.change_settings({"gov": {"limits": {"rate_per_second": 0.001, "burst": 1}}})
    uscc = registry_simulator.control.code()
    client = gov_client(registry_simulator.url, vault(), clock, token=GOV_TOKEN, budget=2.0)
    assert await client.lookup(uscc) is not None
    with pytest.raises(RegistryUnavailable, match="rate_limited"):
        await client.lookup(uscc)
    await client.aclose()
    assert gov_statuses(registry_simulator) == {"200": 1, "429": 1}


async def test_server_errors_are_retried_up_to_the_attempts(
    registry_simulator: RegistrySimulator, clock: TestClock
) -> None:
    registry_simulator.control.change_settings({"gov": {"error_rate": 1}})
    client = gov_client(registry_simulator.url, vault(), clock, token=GOV_TOKEN)
    with pytest.raises(RegistryUnavailable, match="status_500"):
        await client.lookup(registry_simulator.control.code())
    await client.aclose()
    assert gov_statuses(registry_simulator) == {"500": 3}


async def test_the_breaker_opens_on_an_outage_and_a_probe_closes_it_after(
    registry_simulator: RegistrySimulator, clock: TestClock
) -> None:
    control = registry_simulator.control
    control.change_settings({"gov": {"unavailable_rate": 1}})
    monotonic = FakeMonotonic()
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=3, cool_down_seconds=30), monotonic)
    client = gov_client(registry_simulator.url, vault(), clock, token=GOV_TOKEN, breaker=breaker)
    uscc = registry_simulator.control.code()
    with pytest.raises(RegistryUnavailable):
        await client.lookup(uscc)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(BreakerOpen):
        await client.lookup(uscc)
    assert gov_statuses(registry_simulator) == {"503": 3}  # the open breaker asked nobody

    control.change_settings({"gov": {"unavailable_rate": 0}})
    monotonic.now += 30
    assert breaker.state is BreakerState.HALF_OPEN
    assert await client.lookup(uscc) is not None  # the probe
    assert breaker.state is BreakerState.CLOSED
    assert await client.lookup(uscc) is not None
    await client.aclose()
    assert gov_statuses(registry_simulator) == {"503": 3, "200": 2}


LIMITED = {"limits": {"concurrency": 2, "rate_per_second": 20}, "latency": {
    "distribution": "fixed", "ms": 100}}  # fmt: skip


async def test_several_concurrent_clients_keep_within_the_contract(
    registry_simulator: RegistrySimulator, clock: TestClock
) -> None:
    control = registry_simulator.control
    control.change_settings({"gov": LIMITED})
    usccs = control.codes(limit=10)
    limiter = LocalLimiter(SourceLimits(max_concurrency=2, max_rate=20))
    # Clients of one process share its limiter (as the composition root wires them).
    clients = [
        gov_client(registry_simulator.url, vault(), clock, token=GOV_TOKEN, limiter=limiter)
        for _ in range(3)
    ]
    found = await asyncio.gather(*(client.lookup(uscc) for client in clients for uscc in usccs))
    for client in clients:
        await client.aclose()
    assert all(record is not None for record in found)
    stats = control.stats()
    assert stats["limit_violations"] == 0
    assert stats["clients"][GOV_STATS]["in_flight_max"] <= 2
    assert gov_statuses(registry_simulator) == {"200": 30}


def start_worker(
    simulator: RegistrySimulator,
    database_url: str,
    source: str,
    usccs: list[str],
    limits: SourceLimits,
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.registry_load_worker", simulator.url, GOV_TOKEN,
         database_url, source, str(limits.max_concurrency), str(limits.max_rate),
         str(limits.bucket), *usccs],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert json.loads(process.stdout.readline()) == {"ready": True}
    return process


async def _processes_ask(
    simulator: RegistrySimulator,
    database_url: str,
    count: int,
    limits: SourceLimits,
    processes: int = 2,
) -> dict[str, Any]:
    """Processes on one database ask about `count` enterprises under one contract; the
    simulator's stats once all are done."""
    engine = create_engine(database_url)
    await migrate(engine, vault().vault)
    await engine.dispose()
    held = simulator.control.codes(limit=count)
    usccs = (held * (count // len(held) + 1))[:count]  # each asked about again if need be
    source = f"gov_{uuid.uuid4().hex[:8]}"
    workers = [
        start_worker(simulator, database_url, source, usccs[n::processes], limits)
        for n in range(processes)
    ]
    for worker in workers:  # all ready: start them together
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        output, _ = await asyncio.to_thread(worker.communicate, timeout=120)
        assert worker.returncode == 0
        results.extend(json.loads(output.splitlines()[-1])["outcomes"])
    assert results == ["found"] * count
    return simulator.control.stats()


async def test_two_processes_on_postgresql_keep_within_the_contract_together(
    registry_simulator: RegistrySimulator, postgres_url: str
) -> None:
    registry_simulator.control.change_settings({"gov": LIMITED})
    limits = SourceLimits(max_concurrency=2, max_rate=20)
    stats = await _processes_ask(registry_simulator, postgres_url, 12, limits)
    assert stats["limit_violations"] == 0
    assert stats["clients"][GOV_STATS]["in_flight_max"] <= 2
    assert gov_statuses(registry_simulator) == {"200": 12}


# No burst: two requests closer than 1/rate apart are a violation.
UNBURSTABLE = {"limits": {"concurrency": 2, "rate_per_second": 5, "burst": 1}, "latency": {
    "distribution": "fixed", "ms": 100}}  # fmt: skip


async def test_several_processes_on_postgresql_keep_a_rate_without_burst_together(
    registry_simulator: RegistrySimulator, postgres_url: str
) -> None:
    registry_simulator.control.change_settings({"gov": UNBURSTABLE})
    limits = SourceLimits(max_concurrency=2, max_rate=5, burst=1)
    stats = await _processes_ask(registry_simulator, postgres_url, 15, limits, processes=3)
    assert stats["limit_violations"] == 0, stats["clients"]
    assert stats["clients"][GOV_STATS]["in_flight_max"] <= 2
    assert gov_statuses(registry_simulator) == {"200": 15}


# A fast contract whose rate binds long before its concurrency does (1 ms answers): the
# processes take their starts from shares of the timeline, with no round trip each.
FAST = {"limits": {"concurrency": 32, "rate_per_second": 300, "burst": 24}, "latency": {
    "distribution": "fixed", "ms": 1}}  # fmt: skip


async def test_several_processes_on_postgresql_keep_a_fast_rate_together(
    registry_simulator: RegistrySimulator, postgres_url: str
) -> None:
    registry_simulator.control.change_settings({"gov": FAST})
    limits = SourceLimits(max_concurrency=32, max_rate=300, burst=24)
    assert shares_fit(limits)
    stats = await _processes_ask(registry_simulator, postgres_url, 900, limits, processes=3)
    assert stats["limit_violations"] == 0, stats["clients"]
    assert gov_statuses(registry_simulator) == {"200": 900}


async def test_two_processes_on_one_sqlite_file_keep_within_the_contract_together(
    registry_simulator: RegistrySimulator, tmp_path: Path
) -> None:
    # integrity-server and integrity-worker side by side on the embedded default.
    registry_simulator.control.change_settings({"gov": UNBURSTABLE})
    limits = SourceLimits(max_concurrency=2, max_rate=5, burst=1)
    database_url = f"sqlite:///{tmp_path / 'integrity.db'}"
    stats = await _processes_ask(registry_simulator, database_url, 12, limits)
    assert stats["limit_violations"] == 0, stats["clients"]
    assert stats["clients"][GOV_STATS]["in_flight_max"] <= 2
    assert gov_statuses(registry_simulator) == {"200": 12}


# -- through the gRPC API ---------------------------------------------------------------


@pytest.fixture
def simulator(clock: TestClock) -> Iterator[RegistrySimulator]:
    with running_simulator(start=clock.now()) as running:
        yield running


@pytest.fixture
def settings(database_url: str, pii_keys: PiiKeys, simulator: RegistrySimulator) -> Settings:
    """The service asking the simulator's government registry and data provider."""
    return service_settings(simulator, database_url, pii_keys)


def truth_of(simulator: RegistrySimulator, index: int = 0) -> dict[str, Any]:
    return dict(simulator.control.record(simulator.control.code(index))["record"])


def check_of(result: V.Verification, field: str) -> V.FieldCheck:
    return next(c for c in result.field_checks if c.field == field)


async def test_an_outage_of_both_sources_is_pending_through_the_api(
    client: AsyncIntegrityClient, simulator: RegistrySimulator
) -> None:
    control = simulator.control
    now = control.now()
    window = {"start": now.isoformat(), "end": (now.replace(year=now.year + 1)).isoformat()}
    control.change_settings({"gov": {"outages": [window]}, "provider": {"outages": [window]}})
    result = await client.create_verification(verification_for(truth_of(simulator)))
    assert result.outcome == V.VERIFICATION_OUTCOME_PENDING
    assert [r.code for r in result.reasons] == [V.VERIFICATION_REASON_CODE_REGISTRY_UNAVAILABLE]
    assert not result.HasField("registry_record")


async def test_the_provider_fills_the_id_number_through_the_api(
    client: AsyncIntegrityClient, simulator: RegistrySimulator
) -> None:
    truth = truth_of(simulator)
    simulator.control.put_record(truth, provider_returns_id_number=True)
    result = await client.create_verification(verification_for(truth))
    assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED, result.reasons
    name = check_of(result, "licence.enterprise_name")
    assert name.source == V.REGISTRY_SOURCE_GOVERNMENT_REGISTRY
    assert name.source_snapshot_time.seconds > 0
    rep_id = check_of(result, "licence.legal_representative.id_number")
    assert (rep_id.result, rep_id.source) == (
        V.FIELD_CHECK_RESULT_MATCH,
        V.REGISTRY_SOURCE_DATA_PROVIDER,
    )
    # Read back from storage, the same.
    assert await client.get_verification(result.name) == result


# The registry matched the name and says in business: the provider's other name, or its
# 吊销 (revoked), is reported on that field, not a rejection.
@pytest.mark.parametrize(
    ("provider_says", "field"),
    [
        ({"name": "另一家有限公司"}, "licence.enterprise_name"),
        ({"status": "吊销"}, "registry_record.status"),
    ],
)
async def test_sources_that_disagree_are_reported_per_field_through_the_api(
    client: AsyncIntegrityClient,
    simulator: RegistrySimulator,
    provider_says: dict[str, str],
    field: str,
) -> None:
    truth = truth_of(simulator)
    simulator.control.put_record(truth, provider=provider_says)
    result = await client.create_verification(verification_for(truth))
    assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED
    assert [(r.code, r.field) for r in result.reasons] == [
        (V.VERIFICATION_REASON_CODE_SOURCES_DISAGREE, field)
    ]
    check = check_of(result, field)
    assert (check.result, check.source, check.disagreeing_source, check.disagreeing_result) == (
        V.FIELD_CHECK_RESULT_MATCH,
        V.REGISTRY_SOURCE_GOVERNMENT_REGISTRY,
        V.REGISTRY_SOURCE_DATA_PROVIDER,
        V.FIELD_CHECK_RESULT_MISMATCH,
    )
    assert await client.get_verification(result.name) == result


async def test_a_registry_mismatch_rejects_whatever_the_provider_says_through_the_api(
    client: AsyncIntegrityClient, simulator: RegistrySimulator
) -> None:
    truth = truth_of(simulator)
    renamed = "新名字科技有限公司"
    # The provider already has the new name; the registry has not published it.
    simulator.control.put_record(truth, provider={"name": renamed})
    result = await client.create_verification(verification_for(truth, name=renamed))
    assert result.outcome == V.VERIFICATION_OUTCOME_REJECTED
    assert [(r.code, r.field) for r in result.reasons] == [
        (V.VERIFICATION_REASON_CODE_NAME_MISMATCH, "licence.enterprise_name"),
        (V.VERIFICATION_REASON_CODE_SOURCES_DISAGREE, "licence.enterprise_name"),
    ]


async def test_the_provider_down_leaves_the_id_unchecked_and_pending_through_the_api(
    client: AsyncIntegrityClient, simulator: RegistrySimulator
) -> None:
    simulator.control.change_settings({"provider": {"unavailable_rate": 1}})
    result = await client.create_verification(verification_for(truth_of(simulator)))
    assert result.outcome == V.VERIFICATION_OUTCOME_PENDING
    assert [(r.code, r.field) for r in result.reasons] == [
        (
            V.VERIFICATION_REASON_CODE_REGISTRY_UNAVAILABLE,
            "licence.legal_representative.id_number",
        )
    ]
    assert check_of(result, "licence.enterprise_name").source == (
        V.REGISTRY_SOURCE_GOVERNMENT_REGISTRY
    )


async def test_an_exhausted_budget_is_pending_never_a_mismatch_through_the_api(
    settings: Settings, clock: TestClock, simulator: RegistrySimulator
) -> None:
    # One registry request every 110 s: the second verification finds no start time
    # within its deadline, and is not sent.
    limited = dataclasses.replace(settings, gov_registry_max_rate=0.01, registry_timeout_seconds=1)
    app = await bootstrap(limited, clock=clock)
    _caller, token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "p", platform=f"p-{uuid.uuid4().hex[:8]}"
    )
    server, _health = build_server(app)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with AsyncIntegrityClient(f"127.0.0.1:{port}", token=token) as client:
            first = await client.create_verification(verification_for(truth_of(simulator, 0)))
            second = await client.create_verification(verification_for(truth_of(simulator, 1)))
    finally:
        await server.stop(None)
        await app.close()
    assert first.outcome != V.VERIFICATION_OUTCOME_PENDING
    assert second.outcome == V.VERIFICATION_OUTCOME_PENDING
    assert [(r.code, r.field) for r in second.reasons] == [
        (V.VERIFICATION_REASON_CODE_REGISTRY_UNAVAILABLE, "licence.uscc")
    ]
    assert simulator.control.stats()["shapes"]["gov"]["statuses"] == {"200": 1}
