"""Starting re-verification batches: each selection covers exactly the enterprises it names."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from clients import AsyncIntegrityClient
from service.adapters.storage.tables import registry_records, verifications
from service.bootstrap import Application
from service.domain import batches
from service.domain.batches import Batch, BatchState, ItemState
from service.domain.errors import NotFound
from service.domain.licence import china_today
from tests.builders import (
    SNAPSHOT_TIME,
    import_rows,
    new_uscc,
    registry_row,
    verification_for,
)
from tests.clock import TestClock
from tests.conftest import OpsCommand


async def _verified(app: Application, client: AsyncIntegrityClient, **row: object) -> str:
    record = registry_row(**row)
    await import_rows(app, [record])
    await client.create_verification(verification_for(record))
    return str(record["uscc"])


async def _items(app: Application, batch: Batch) -> set[str]:
    status = await app.batches.status(batch.id)
    assert status.by_state == ({ItemState.QUEUED: batch.item_count} if batch.item_count else {})
    return {
        item.uscc
        for item in await app.batch_store.claim("t", app.clock.now(), app.clock.now(), 10**6)
    }


async def test_licences_expiring_within_days(
    app: Application, client: AsyncIntegrityClient
) -> None:
    today = china_today(app.clock.now())
    soon = await _verified(app, client, term_end=(today + dt.timedelta(days=10)).isoformat())
    on_the_day = await _verified(app, client, term_end=(today + dt.timedelta(days=30)).isoformat())
    await _verified(app, client, term_end=(today + dt.timedelta(days=100)).isoformat())
    await _verified(app, client)  # open-ended
    # Expiring, but never verified: nothing to re-check.
    await import_rows(app, [registry_row(term_end=(today + dt.timedelta(days=5)).isoformat())])

    batch = await app.batches.start(batches.expiring_within(30), created_by="ops")
    assert batch.item_count == 2 and batch.state is BatchState.RUNNING
    assert await _items(app, batch) == {soon, on_the_day}


async def test_registry_records_changed_since(
    app: Application, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    unchanged = registry_row()
    changed = registry_row()
    await import_rows(app, [unchanged, changed])
    for row in (unchanged, changed):
        await client.create_verification(verification_for(row))
    clock.advance(dt.timedelta(days=2))
    since = clock.now()
    clock.advance(dt.timedelta(hours=1))
    # Re-imported: the unchanged row changes nothing, the other has a new address.
    await import_rows(app, [unchanged, {**changed, "address": "浙江省杭州市西湖区文二路1号"}])

    batch = await app.batches.start(batches.changed_since(since), created_by="ops")
    assert await _items(app, batch) == {changed["uscc"]}


async def test_enterprises_not_verified_within_days(
    app: Application, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    stale = await _verified(app, client)
    clock.advance(dt.timedelta(days=40))
    await _verified(app, client)
    batch = await app.batches.start(batches.not_verified_within(30), created_by="ops")
    assert await _items(app, batch) == {stale}


async def test_a_recheck_that_confirms_takes_the_enterprise_out_of_not_verified_within(
    app: Application, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    confirmed = await _verified(app, client)
    stale = await _verified(app, client)
    clock.advance(dt.timedelta(days=40))
    outcome = await app.rechecks.recheck_enterprise(confirmed, trigger="batch", key="sweep-1")
    assert outcome.outcome_before == outcome.outcome_after  # nothing changed but the check
    (checked,) = (await client.list_verifications(confirmed)).verifications
    check_time = checked.check_time.ToDatetime(dt.UTC)
    assert abs(check_time - clock.now()) < dt.timedelta(seconds=1)
    assert checked.create_time.ToDatetime(dt.UTC) < clock.now() - dt.timedelta(days=39)
    batch = await app.batches.start(batches.not_verified_within(30), created_by="ops")
    assert await _items(app, batch) == {stale}


async def test_enterprises_with_judicial_entries_since(
    app: Application, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    earlier = await _verified(app, client)
    listed = await _verified(app, client)

    def entry(uscc: str, entry_id: str) -> dict[str, str]:
        return {
            "uscc": uscc,
            "entry_id": entry_id,
            "kind": "dishonest_debtor",
            "authority": "杭州中院",
            "listing_date": "2026-01-05",
        }

    await app.judicial_importer.run([(1, entry(earlier, "J-1"))])
    clock.advance(dt.timedelta(days=1))
    since = clock.now()
    await app.judicial_importer.run([(1, entry(listed, "J-2"))])
    batch = await app.batches.start(batches.judicial_since(since), created_by="ops")
    assert await _items(app, batch) == {listed}


async def test_enterprises_named_in_a_file_from_the_command_line(
    app: Application, client: AsyncIntegrityClient, ops_command: OpsCommand, tmp_path: Path
) -> None:
    verified = await _verified(app, client)
    never_verified = new_uscc()
    path = tmp_path / "codes.txt"
    path.write_text(f"{verified}\n{never_verified}\n{verified}\n")
    result = await ops_command.run("batch", "start", "--file", str(path), "--created-by", "ops-1")
    assert result.exit_code == 0, result.output
    batch_id = result.stdout.splitlines()[0]
    batch = await app.batch_store.get(batch_id)
    assert batch is not None and batch.created_by == "ops-1" and batch.item_count == 2
    assert await _items(app, batch) == {verified, never_verified}

    path.write_text(f"{verified}\nnonsense\n\n{verified[:-1]}\n")
    refused = await ops_command.run("batch", "start", "--file", str(path))
    assert refused.exit_code == 1
    assert "line 2:" in refused.output and "line 4:" in refused.output
    assert "no batch created" in refused.output
    assert [b.id for b in await app.batches.recent()] == [batch_id]


async def test_a_selection_with_nothing_in_it_is_a_finished_batch(app: Application) -> None:
    batch = await app.batches.start(batches.expiring_within(30), created_by="ops")
    assert batch.item_count == 0 and batch.state is BatchState.FINISHED
    assert (await app.batches.status(batch.id)).ended


async def test_one_selection_option_at_a_time(ops_command: OpsCommand) -> None:
    both = await ops_command.run(
        "batch", "start", "--expiring-within", "3", "--not-verified-within", "3"
    )
    assert both.exit_code == 2 and "exactly one of" in both.output
    bad_time = await ops_command.run("batch", "start", "--changed-since", "2026-11-01T00:00")
    assert bad_time.exit_code == 1 and "changed_since" in bad_time.output


async def test_a_hundred_thousand_items_are_created_in_one_transaction(app: Application) -> None:
    usccs = [f"TEST{number:014d}" for number in range(100_000)]
    batch = Batch(
        str(uuid.uuid4()), {"kind": "file"}, BatchState.PAUSED, "ops", app.clock.now(), None, 0
    )
    await app.batch_store.create(batch, usccs)
    status = await app.batches.status(batch.id)
    assert status.batch.item_count == 100_000
    assert status.by_state == {ItemState.QUEUED: 100_000}


async def test_an_unknown_batch_is_not_found(app: Application) -> None:
    with pytest.raises(NotFound) as missing:
        await app.batches.status(str(uuid.uuid4()))
    assert missing.value.reason == "BATCH_NOT_FOUND"


async def _learn_term(app: Application, uscc: str, term_end: dt.date, later: dt.timedelta) -> None:
    """As if the enterprise's verification had since been decided on an answer of the
    government registry (asked over HTTP), published `later` than the snapshot's record,
    giving the licence this end."""
    async with app.engine.begin() as connection:
        (summary,) = (
            await connection.execute(
                select(verifications.c.registry_summary).where(verifications.c.uscc == uscc)
            )
        ).one()
        snapshot_time = dt.datetime.fromisoformat(summary["snapshot_time"]) + later
        learned = {
            **summary,
            "snapshot_time": snapshot_time.isoformat(),
            "term": {**summary["term"], "end": term_end.isoformat(), "open_ended": False},
        }
        await connection.execute(
            update(verifications)
            .where(verifications.c.uscc == uscc)
            .values(registry_summary=learned)
        )


async def test_licences_expiring_as_the_verifications_learned_them(
    app: Application, client: AsyncIntegrityClient
) -> None:
    today = china_today(app.clock.now())
    soon, far = today + dt.timedelta(days=10), today + dt.timedelta(days=400)
    # Known only from the registry's answers: the snapshot holds no record of it.
    answered_only = await _verified(app, client, term_end=soon.isoformat())
    async with app.registry_engine.begin() as connection:
        await connection.execute(
            delete(registry_records).where(registry_records.c.uscc == answered_only)
        )
    # The snapshot says open-ended; the registry answered later that it ends soon.
    learned_expiring = await _verified(app, client)
    await _learn_term(app, learned_expiring, soon, dt.timedelta(days=3))
    # The snapshot says it ends soon; the registry answered later that it was renewed.
    learned_renewed = await _verified(app, client, term_end=soon.isoformat())
    await _learn_term(app, learned_renewed, far, dt.timedelta(days=3))
    # The registry answered that it ends soon; a newer snapshot says it was renewed.
    imported_renewed = registry_row(term_end=soon.isoformat())
    await import_rows(app, [imported_renewed])
    await client.create_verification(verification_for(imported_renewed))
    renewed = {**imported_renewed, "term_end": far.isoformat()}
    await app.importer.run([(1, renewed)], SNAPSHOT_TIME + dt.timedelta(days=5))

    batch = await app.batches.start(batches.expiring_within(30), created_by="ops")
    assert await _items(app, batch) == {answered_only, learned_expiring}
