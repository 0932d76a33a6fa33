"""Re-verification batches worked by real integrity-worker processes, on both backends:
a worker killed mid-batch loses nothing and no effect is applied twice; two workers share a
batch; paused batches wait; ops follow, read and export a batch from other processes."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from clients import AsyncIntegrityClient
from service.bootstrap import Application
from service.domain import batches
from service.domain.batches import BatchState, ItemState
from tests.builders import import_rows, registry_row, verification_for
from tests.clock import TestClock
from tests.conftest import OpsCommand
from tests.integration.worker_process import TIMEOUT, start_worker, until_done

OPS = str(Path(sys.executable).parent / "integrity-ops")
LEASE_SECONDS = 30


async def _enterprises(
    app: Application, client: AsyncIntegrityClient, count: int
) -> tuple[list[str], set[str]]:
    """Verified enterprises, every other one revoked in the registry since."""
    rows = [registry_row() for _ in range(count)]
    await import_rows(app, rows)
    for row in rows:
        await client.create_verification(verification_for(row))
    revoked = rows[::2]
    await import_rows(app, [{**row, "status": "revoked"} for row in revoked])
    return sorted(str(r["uscc"]) for r in rows), {str(r["uscc"]) for r in revoked}


async def _effects(app: Application) -> tuple[Counter[str], Counter[str]]:
    """Per enterprise: history entries a batch wrote, and outbox events."""
    async with app.engine.connect() as connection:
        history = await connection.execute(
            text(
                "SELECT v.uscc FROM verification_history h "
                "JOIN verifications v ON v.id = h.verification_id WHERE h.trigger = 'batch'"
            )
        )
        events = await connection.execute(text("SELECT uscc FROM outbox"))
        return Counter(row[0] for row in history), Counter(row[0] for row in events)


async def _each_applied_once(
    app: Application, revoked: set[str], before: tuple[Counter[str], Counter[str]]
) -> None:
    """Since `before`: one history entry and one outbox event for each revoked enterprise
    (its outcome changed once), none for the others."""
    history, events = await _effects(app)
    expected = Counter({uscc: 1 for uscc in revoked})
    assert history - before[0] == expected
    assert events - before[1] == expected


def _env(ops_command: OpsCommand, concurrency: int = 3) -> dict[str, str]:
    return {
        **ops_command.env,
        "INTEGRITY_BATCH_CONCURRENCY": str(concurrency),
        "INTEGRITY_BATCH_LEASE": str(LEASE_SECONDS),
        "INTEGRITY_BATCH_POLL_INTERVAL": "0.05",
    }


async def _start(app: Application, usccs: list[str]) -> str:
    batch = await app.batches.start(batches.named_in_file("codes", usccs), created_by="ops")
    return batch.id


async def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    app: Application, client: AsyncIntegrityClient, ops_command: OpsCommand, clock: TestClock
) -> None:
    usccs, revoked = await _enterprises(app, client, 120)
    before = await _effects(app)
    batch_id = await _start(app, usccs)

    doomed = await start_worker(_env(ops_command), clock.now())
    await doomed.wait_for("batch_item_done", 5)
    doomed.process.kill()
    await doomed.finish()
    killed_status = await app.batches.status(batch_id)
    assert killed_status.by_state.get(ItemState.DONE, 0) < len(usccs)

    # Past the dead worker's leases, on the clock the test gives the second worker.
    late = clock.now() + dt.timedelta(seconds=2 * LEASE_SECONDS)
    survivor = await start_worker(_env(ops_command), late, "--until-idle")
    assert await survivor.finish() == 0

    status = await app.batches.status(batch_id)
    assert status.by_state == {ItemState.DONE: len(usccs)}
    assert status.batch.state is BatchState.FINISHED
    assert status.by_outcome == {"rejected": len(revoked), "verified": len(usccs) - len(revoked)}
    await _each_applied_once(app, revoked, before)
    # What the dead worker held was taken again; each item's done-marking happened once.
    results = [r async for r in app.batches.results(batch_id)]
    assert sorted(r.uscc for r in results) == usccs
    assert max(r.attempts for r in results) >= 2
    assert not set(doomed.done_items()) & set(survivor.done_items())


async def test_sigterm_finishes_the_items_in_flight_and_stops(
    app: Application, client: AsyncIntegrityClient, ops_command: OpsCommand, clock: TestClock
) -> None:
    usccs, _revoked = await _enterprises(app, client, 60)
    batch_id = await _start(app, usccs)
    worker = await start_worker(_env(ops_command, concurrency=4), clock.now())
    await worker.wait_for("batch_item_done", 3)
    worker.process.terminate()
    assert await worker.finish() == 0
    stopped = worker.events[-1]
    assert stopped["event"] == "worker_stopped"
    # Nothing is left in its hands: what it had leased was finished and recorded.
    status = await app.batches.status(batch_id)
    assert ItemState.LEASED not in status.by_state
    assert status.by_state[ItemState.DONE] == len(worker.done_items()) == stopped["worked"]


async def test_a_retry_after_the_recheck_committed_records_the_first_outcome(
    app: Application, client: AsyncIntegrityClient, ops_command: OpsCommand, clock: TestClock
) -> None:
    usccs, revoked = await _enterprises(app, client, 2)
    batch_id = await _start(app, usccs)
    (first_revoked,) = revoked
    # As if a worker re-checked this item, committed, and died before marking it done.
    applied = await app.rechecks.recheck_enterprise(
        first_revoked, trigger="batch", key=f"batch:{batch_id}:{first_revoked}"
    )
    assert applied.applied
    history_before, events_before = await _effects(app)

    worker = await start_worker(_env(ops_command), clock.now(), "--until-idle")
    assert await worker.finish() == 0
    results = {r.uscc: r async for r in app.batches.results(batch_id)}
    assert results[first_revoked].outcome_before == "verified"
    assert results[first_revoked].outcome_after == "rejected"
    assert results[first_revoked].state is ItemState.DONE
    assert {e["applied"] for e in worker.events if e.get("event") == "batch_item_done"} == {
        False,
        True,
    }
    assert await _effects(app) == (history_before, events_before)


# Several worker processes on one database is the PostgreSQL deployment.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_workers_share_a_batch_and_no_item_is_done_twice(
    app: Application, client: AsyncIntegrityClient, ops_command: OpsCommand, clock: TestClock
) -> None:
    usccs, revoked = await _enterprises(app, client, 160)
    before = await _effects(app)
    batch_id = await _start(app, usccs)
    await app.batches.pause(batch_id)
    # Both are up and polling before there is anything to take.
    workers = [await start_worker(_env(ops_command, concurrency=4), clock.now()) for _ in range(2)]
    readers = [asyncio.create_task(w.finish()) for w in workers]
    await app.batches.resume(batch_id)
    await until_done(workers, len(usccs))
    # SIGTERM: each stops, with nothing in flight, and exits cleanly.
    for worker in workers:
        worker.process.terminate()
    assert await asyncio.gather(*readers) == [0, 0]
    assert all(w.events[-1]["event"] == "worker_stopped" for w in workers)

    first, second = (set(w.done_items()) for w in workers)
    assert first and second and not first & second
    assert len(first | second) == len(usccs)
    status = await app.batches.status(batch_id)
    assert status.by_state == {ItemState.DONE: len(usccs)}
    await _each_applied_once(app, revoked, before)


async def test_a_paused_batch_waits_and_ops_steer_it(
    app: Application, client: AsyncIntegrityClient, ops_command: OpsCommand, clock: TestClock
) -> None:
    usccs, _revoked = await _enterprises(app, client, 4)
    batch_id = await _start(app, usccs)
    paused = await ops_command.run("batch", "pause", batch_id)
    assert paused.exit_code == 0 and paused.output.strip() == f"batch {batch_id}: paused"

    idle = await start_worker(_env(ops_command), clock.now(), "--until-idle")
    assert await idle.finish() == 0 and idle.done_items() == []
    assert (await app.batches.status(batch_id)).by_state == {ItemState.QUEUED: 4}

    assert (await ops_command.run("batch", "resume", batch_id)).exit_code == 0
    worker = await start_worker(_env(ops_command), clock.now(), "--until-idle")
    assert await worker.finish() == 0
    assert len(worker.done_items()) == 4
    refused = await ops_command.run("batch", "cancel", batch_id)
    assert refused.exit_code == 1 and "finished" in refused.output


async def test_a_cancelled_batch_is_not_worked(
    app: Application, client: AsyncIntegrityClient, ops_command: OpsCommand, clock: TestClock
) -> None:
    usccs, _revoked = await _enterprises(app, client, 3)
    batch_id = await _start(app, usccs)
    assert (await ops_command.run("batch", "cancel", batch_id)).exit_code == 0
    worker = await start_worker(_env(ops_command), clock.now(), "--until-idle")
    assert await worker.finish() == 0 and worker.done_items() == []
    status = await app.batches.status(batch_id)
    assert status.by_state == {ItemState.CANCELLED: 3} and status.ended


async def test_status_from_another_process_and_the_report_with_its_csv(
    app: Application,
    client: AsyncIntegrityClient,
    ops_command: OpsCommand,
    clock: TestClock,
    tmp_path: Path,
) -> None:
    usccs, revoked = await _enterprises(app, client, 6)
    batch_id = await _start(app, usccs)
    worker = await start_worker(_env(ops_command), clock.now(), "--until-idle")
    assert await worker.finish() == 0

    status = await asyncio.create_subprocess_exec(
        OPS,
        "batch",
        "status",
        batch_id,
        env={**os.environ, **ops_command.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(status.communicate(), TIMEOUT)
    assert status.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == f"batch {batch_id}: finished, 6 enterprises"
    assert "  items: done 6" in lines
    assert "  outcomes: rejected 3, verified 3" in lines

    csv_path = tmp_path / "report.csv"
    report = await ops_command.run("batch", "report", batch_id, "--csv", str(csv_path))
    assert report.exit_code == 0, report.output
    assert "  reasons: REVOKED 3" in report.output
    assert "  changed: 3" in report.output
    for uscc in revoked:
        assert f"    {uscc} verified -> rejected" in report.output
    with csv_path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["uscc"] for row in rows) == usccs
    changed = {row["uscc"] for row in rows if row["changed"] == "yes"}
    assert changed == revoked
    assert {row["reasons"] for row in rows if row["uscc"] in revoked} == {"REVOKED"}


async def test_follow_works_the_batch_itself(
    app: Application, client: AsyncIntegrityClient, ops_command: OpsCommand
) -> None:
    usccs, revoked = await _enterprises(app, client, 3)
    batch_id = await _start(app, usccs)
    followed = await ops_command.run("batch", "follow", batch_id, "--work", "--quiet")
    assert followed.exit_code == 0, followed.output
    assert f"batch {batch_id}: finished, 3 enterprises" in followed.output
    assert (await app.batches.status(batch_id)).by_outcome == {
        "rejected": len(revoked),
        "verified": len(usccs) - len(revoked),
    }
