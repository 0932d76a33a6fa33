"""Batch items the registry cannot answer for, against the real simulator in an outage
window, on both backends: they wait and are asked again later (the clocks moved, never
slept), are not done with the decision they had, and end unavailable after their last try.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from integrity.v1 import verification_pb2 as V

from clients import AsyncIntegrityClient
from service.bootstrap import Application
from service.domain import batches
from service.domain.batches import BatchState, ItemState, RegistryRetries
from service.settings import PiiKeys, Settings
from tests.builders import verification_for
from tests.clock import TestClock
from tests.conftest import OpsCommand
from tests.registry_simulator import RegistrySimulator, service_settings

RETRIES = RegistryRetries()


@pytest.fixture
def simulator(registry_simulator: RegistrySimulator) -> RegistrySimulator:
    return registry_simulator


@pytest.fixture
def settings(database_url: str, pii_keys: PiiKeys, simulator: RegistrySimulator) -> Settings:
    # One call per question and no breaker: each try asks the simulator itself, so the
    # test can count what was asked (an open breaker ends the same way, unanswered).
    return dataclasses.replace(
        service_settings(simulator, database_url, pii_keys),
        registry_retry_attempts=1,
        registry_breaker_failures=1_000_000,
    )


async def _verified(
    client: AsyncIntegrityClient, simulator: RegistrySimulator, count: int
) -> list[str]:
    usccs = []
    for index in range(count):
        truth = simulator.control.record(simulator.control.code(index))["record"]
        simulator.control.put_record(truth, provider_returns_id_number=True)
        result = await client.create_verification(verification_for(truth))
        assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED, result.reasons
        usccs.append(truth["uscc"])
    return sorted(usccs)


def _outage(simulator: RegistrySimulator) -> None:
    now = simulator.control.now()
    window = {"start": now.isoformat(), "end": (now + dt.timedelta(days=365)).isoformat()}
    simulator.control.change_settings(
        {"gov": {"outages": [window]}, "provider": {"outages": [window]}}
    )


def _asked(simulator: RegistrySimulator) -> int:
    return int(simulator.control.stats()["requests"])


async def _start(app: Application, usccs: list[str]) -> str:
    return (await app.batches.start(batches.named_in_file("codes", usccs), created_by="ops")).id


async def test_items_wait_backing_off_and_end_unavailable_not_done(
    app: Application,
    client: AsyncIntegrityClient,
    simulator: RegistrySimulator,
    clock: TestClock,
    ops_command: OpsCommand,
    tmp_path: Path,
) -> None:
    usccs = await _verified(client, simulator, 3)
    batch_id = await _start(app, usccs)
    _outage(simulator)
    clock.freeze()

    wait = RETRIES.first_wait
    for tries in range(1, RETRIES.tries):
        before = _asked(simulator)
        assert await app.batch_worker().run(until_idle=True) == 0
        assert _asked(simulator) > before  # each item was asked, and the registry was out
        status = await app.batches.status(batch_id)
        assert status.by_state == {ItemState.WAITING: 3}
        assert status.batch.state is BatchState.RUNNING
        assert status.next_attempt_time == clock.now() + wait
        # Before their time nothing is asked again: a worker does not spin on them.
        asked = _asked(simulator)
        assert await app.batch_worker().run(until_idle=True) == 0
        simulator.move_clocks(clock, wait - dt.timedelta(seconds=1))
        assert await app.batch_worker().run(until_idle=True) == 0
        assert _asked(simulator) == asked
        simulator.move_clocks(clock, dt.timedelta(seconds=1))
        wait *= RETRIES.factor
        assert tries < RETRIES.tries

    # The last try: unavailable, and the batch, with every item ended, is finished.
    assert await app.batch_worker().run(until_idle=True) == 3
    status = await app.batches.status(batch_id)
    assert status.by_state == {ItemState.UNAVAILABLE: 3}
    assert status.by_outcome == {}
    assert status.batch.state is BatchState.FINISHED and status.ended
    report = await app.batches.report(batch_id)
    assert [r.uscc for r in report.unavailable] == usccs
    assert report.failed == () and report.changed == ()
    assert {r.unanswered for r in report.unavailable} == {RETRIES.tries}

    # The verifications were not touched: still VERIFIED, with no history from the batch.
    for uscc in usccs:
        (found,) = (await client.list_verifications(uscc)).verifications
        assert found.outcome == V.VERIFICATION_OUTCOME_VERIFIED

    shown = await ops_command.run("batch", "status", batch_id)
    assert "  items: unavailable 3" in shown.output, shown.output
    csv_path = tmp_path / "report.csv"
    reported = await ops_command.run("batch", "report", batch_id, "--csv", str(csv_path))
    assert reported.exit_code == 0, reported.output
    assert "  registry unavailable, not re-verified: 3" in reported.output
    with csv_path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["uscc"] for row in rows) == usccs
    assert {(row["state"], row["registry_unanswered"], row["outcome_after"]) for row in rows} == {
        ("unavailable", str(RETRIES.tries), "")
    }


async def test_an_item_asked_again_after_the_outage_is_re_verified(
    app: Application, client: AsyncIntegrityClient, simulator: RegistrySimulator, clock: TestClock
) -> None:
    usccs = await _verified(client, simulator, 2)
    cancelled_one = usccs[0]
    simulator.control.schedule_change(cancelled_one, status="cancelled")
    batch_id = await _start(app, usccs)
    _outage(simulator)
    clock.freeze()
    assert await app.batch_worker().run(until_idle=True) == 0
    assert (await app.batches.status(batch_id)).by_state == {ItemState.WAITING: 2}

    # A paused batch's waiting items are not handed out when their time comes.
    simulator.control.change_settings({"gov": {"outages": []}, "provider": {"outages": []}})
    simulator.move_clocks(clock, RETRIES.first_wait)
    await app.batches.pause(batch_id)
    assert await app.batch_worker().run(until_idle=True) == 0
    await app.batches.resume(batch_id)
    assert await app.batch_worker().run(until_idle=True) == 2

    status = await app.batches.status(batch_id)
    assert status.by_state == {ItemState.DONE: 2}
    assert status.by_outcome == {"rejected": 1, "verified": 1}
    assert status.batch.state is BatchState.FINISHED
    results = {r.uscc: r async for r in app.batches.results(batch_id)}
    assert results[cancelled_one].outcome_after == "rejected"
    assert results[cancelled_one].unanswered == 1


async def test_cancelling_cancels_the_waiting_items(
    app: Application, client: AsyncIntegrityClient, simulator: RegistrySimulator, clock: TestClock
) -> None:
    usccs = await _verified(client, simulator, 2)
    batch_id = await _start(app, usccs)
    _outage(simulator)
    assert await app.batch_worker().run(until_idle=True) == 0
    await app.batches.cancel(batch_id)
    simulator.move_clocks(clock, RETRIES.first_wait)
    assert await app.batch_worker().run(until_idle=True) == 0
    status = await app.batches.status(batch_id)
    assert status.by_state == {ItemState.CANCELLED: 2} and status.ended
