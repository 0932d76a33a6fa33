"""The ledger writer: group commit, durable before it returns, one chain."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select, text

from clients import AsyncIntegrityClient, IntegrityCallError
from service.adapters.storage.ledger import SqlDisclosureLedger
from service.adapters.storage.tables import disclosure_ledger
from service.bootstrap import Application, bootstrap, build_server
from service.domain.callers import CallerKind
from service.domain.disclosure import DisclosureEntry
from service.domain.errors import Unavailable
from service.settings import PiiKeys, Settings
from tests.builders import disclosure_entry, import_rows, registry_row
from tests.clock import TestClock


def entry(n: int) -> DisclosureEntry:
    return disclosure_entry(
        disclose_time=dt.datetime(2026, 11, 23, tzinfo=dt.UTC) + dt.timedelta(seconds=n)
    )


async def test_concurrent_disclosures_share_one_write_transaction(app: Application) -> None:
    ledger = app.ledger
    await asyncio.gather(*(ledger.record(entry(n)) for n in range(50)))
    assert ledger.batches_written == 1
    # Returned means committed: a fresh connection sees every entry.
    async with app.engine.connect() as connection:
        count = (
            await connection.execute(select(func.count()).select_from(disclosure_ledger))
        ).scalar_one()
    assert count == 50
    await asyncio.gather(*(ledger.record(entry(n)) for n in range(50, 60)))
    assert ledger.batches_written == 2
    check = await app.disclosures.verify()
    assert check.first_broken is None and check.checked == 60


async def test_no_answer_leaves_without_its_ledger_entry(tmp_path: Path) -> None:
    settings = Settings(pii_keys=PiiKeys.generate(), database_url=f"sqlite:///{tmp_path / 'l.db'}")
    app = await bootstrap(settings, clock=TestClock())
    row = registry_row()
    await import_rows(app, [row])
    async with app.engine.begin() as connection:
        await connection.execute(text("DROP TABLE disclosure_ledger"))
    _gateway, token = await app.credentials.create_caller(CallerKind.GATEWAY, "gw")
    server, _health = build_server(app)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with AsyncIntegrityClient(
            f"127.0.0.1:{port}", token=token, on_behalf_of="viewer:u1"
        ) as viewer:
            with pytest.raises(IntegrityCallError) as caught:
                await viewer.get_archive(row["uscc"])
    finally:
        await server.stop(None)
        await app.close()
    # Retryable, and says why: the archive was not sent because it could not be recorded.
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert caught.value.reason == "LEDGER_UNAVAILABLE"


async def test_entries_read_back_exactly_as_recorded(app: Application) -> None:
    china = dt.timezone(dt.timedelta(hours=8))
    recorded = [
        disclosure_entry(
            recipient_id=f"caller-{n}",
            recipient_name='杭州"集市"\\平台 𠀀',
            fields=("eligibility_decision", "integrity_level")[: n % 2 + 1],
            disclose_time=dt.datetime(2026, 11, 23, 20, 15, 7, 123456 + n, tzinfo=china),
        )
        for n in range(3)
    ]
    await asyncio.gather(*(app.ledger.record(one) for one in recorded))
    listed = await app.ledger.list_for_subject("91330106MA27XXXXXX", limit=10, before_sequence=None)
    assert [chained.entry for chained in reversed(listed)] == recorded
    assert all(chained.entry.disclose_time.utcoffset() == dt.timedelta(0) for chained in listed)
    assert (await app.disclosures.verify()).checked == 3


async def test_a_lone_entry_is_written_at_once_whatever_the_commit_interval(
    app: Application,
) -> None:
    ledger = SqlDisclosureLedger(app.engine, commit_interval=3600)
    try:
        # Returning at all shows it did not wait out the hour.
        await asyncio.wait_for(ledger.record(entry(1)), timeout=30)
        await asyncio.wait_for(ledger.record(entry(2)), timeout=30)
        assert ledger.batches_written == 2
    finally:
        await ledger.close()


async def test_under_load_entries_gather_until_a_batch_is_full(app: Application) -> None:
    ledger = SqlDisclosureLedger(app.engine, commit_interval=3600, max_batch=8)
    # Two arriving together mark the ledger as under load.
    await asyncio.gather(ledger.record(entry(0)), ledger.record(entry(1)))
    assert ledger.batches_written == 1
    # Eight fill a batch: written without waiting for the interval.
    await asyncio.wait_for(
        asyncio.gather(*(ledger.record(entry(n)) for n in range(2, 10))), timeout=30
    )
    assert ledger.batches_written == 2
    # Three more wait for the interval (or a full batch)...
    waiting = [asyncio.create_task(ledger.record(entry(n))) for n in range(10, 13)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert not any(task.done() for task in waiting)
    # ...and closing writes them rather than dropping them.
    await ledger.close()
    await asyncio.gather(*waiting)
    assert ledger.batches_written == 3
    check = await app.disclosures.verify()
    assert check.first_broken is None and check.checked == 13


async def test_an_entry_whose_caller_gave_up_before_its_batch_is_not_recorded(
    app: Application,
) -> None:
    ledger = SqlDisclosureLedger(app.engine, commit_interval=3600, max_batch=8)
    await asyncio.gather(ledger.record(entry(0)), ledger.record(entry(1)))  # under load
    waiting = [asyncio.create_task(ledger.record(entry(n))) for n in range(2, 5)]
    for _ in range(20):
        await asyncio.sleep(0)
    waiting[1].cancel()  # its deadline passed: no answer left, nothing was disclosed
    await ledger.close()
    await asyncio.gather(waiting[0], waiting[2])
    assert waiting[1].cancelled()
    async with app.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(disclosure_ledger))
    assert count == 4
    assert (await app.disclosures.verify()).first_broken is None


async def test_callers_are_not_left_waiting_when_the_writer_is_cancelled(
    app: Application,
) -> None:
    ledger = SqlDisclosureLedger(app.engine, commit_interval=3600, max_batch=8)
    await asyncio.gather(ledger.record(entry(0)), ledger.record(entry(1)))
    waiting = [asyncio.create_task(ledger.record(entry(n))) for n in range(2, 4)]
    for _ in range(20):
        await asyncio.sleep(0)
    writer = ledger._writer  # cancelled, as a loop shutting down would
    assert writer is not None
    writer.cancel()
    results = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 30)
    assert all(isinstance(r, Unavailable) for r in results)
    await ledger.close()


async def test_a_failed_batch_is_rolled_back_and_the_next_one_chains_on(
    app: Application,
) -> None:
    await app.ledger.record(entry(0))
    async with app.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE disclosure_ledger RENAME TO ledger_away"))
    # Three entries in one batch: a failure of the database itself fails all of them,
    # retryable (nothing was disclosed), and they are not retried one by one against it.
    failed = await asyncio.gather(
        *(app.ledger.record(entry(n)) for n in (1, 1, 1)), return_exceptions=True
    )
    assert all(isinstance(f, Unavailable) and f.reason == "LEDGER_UNAVAILABLE" for f in failed)
    assert "ledger" in str(failed[0]).lower()
    assert app.ledger.batches_split == 0
    async with app.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE ledger_away RENAME TO disclosure_ledger"))
    # The writer's connection is usable again (on PostgreSQL: not left inside the failed
    # transaction), and the chain goes on from the last committed entry.
    await asyncio.gather(*(app.ledger.record(entry(n)) for n in range(2, 6)))
    check = await app.disclosures.verify()
    assert check.first_broken is None and check.checked == 5
