"""One caller's disclosure entry cannot fail another's, though they share a write transaction.

The database is made to refuse entries of one scenario (a trigger that raises a constraint
error, as a column limit or an encoding error would): entries that pass the domain's checks
and still cannot be stored, inside batches shared with good entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from clients import AsyncIntegrityClient, IntegrityCallError
from service.adapters.storage.ledger import SqlDisclosureLedger
from service.adapters.storage.tables import disclosure_ledger
from service.bootstrap import Application, bootstrap
from service.cli.ops import main as ops
from service.domain.callers import CallerKind
from service.domain.disclosure import DisclosureEntry, DisclosureEntryInvalid
from service.domain.errors import FailedPrecondition
from service.settings import PiiKeys, Settings
from tests.builders import disclosure_entry, import_rows, registry_row
from tests.conftest import RunningServer
from tests.integration.test_access_log import ledger_held

POISONED = "poisoned"
# On PostgreSQL: an entry whose insert kills its own connection, as a crash would.
FATAL = "fatal"

_SQLITE_POISON = f"""
CREATE TRIGGER ledger_poison BEFORE INSERT ON disclosure_ledger
WHEN NEW.scenario = '{POISONED}'
BEGIN SELECT RAISE(ABORT, 'refused for its content'); END
"""
_PG_POISON = (
    f"""
CREATE FUNCTION ledger_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.scenario = '{POISONED}' THEN
    RAISE EXCEPTION 'refused for its content' USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.scenario = '{FATAL}' THEN
    PERFORM pg_terminate_backend(pg_backend_pid());
  END IF;
  RETURN NEW;
END $$
""",
    "CREATE TRIGGER ledger_poison BEFORE INSERT ON disclosure_ledger "
    "FOR EACH ROW EXECUTE FUNCTION ledger_poison()",
)


@contextlib.asynccontextmanager
async def poisoned_ledger(engine: AsyncEngine) -> AsyncIterator[None]:
    """The ledger's table refuses entries whose scenario is POISONED."""
    statements = (_SQLITE_POISON,) if engine.dialect.name == "sqlite" else _PG_POISON
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))
    try:
        yield
    finally:
        # PostgreSQL's database is shared by the tests of a run.
        async with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                await connection.execute(text("DROP TRIGGER ledger_poison"))
            else:
                await connection.execute(text("DROP FUNCTION ledger_poison() CASCADE"))


def entry(n: int, scenario: str = "store_opening") -> DisclosureEntry:
    return disclosure_entry(
        scenario=scenario,
        disclose_time=dt.datetime(2026, 11, 23, tzinfo=dt.UTC) + dt.timedelta(seconds=n),
    )


async def stored(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        query = select(disclosure_ledger).order_by(disclosure_ledger.c.sequence)
        return list(await connection.execute(query))


def ops_verify(app: Application, tmp_path: Path) -> str:
    """`integrity-ops ledger verify` against the application's database."""
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(app.settings.pii_keys.to_json()))
    env = {"INTEGRITY_DATABASE_URL": app.settings.database_url, "INTEGRITY_KEYS_FILE": str(keys)}
    result = CliRunner().invoke(ops, ["ledger", "verify"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def test_a_refused_entry_fails_alone_and_the_others_commit_around_it(
    app: Application,
) -> None:
    await app.ledger.record(entry(0))
    ledger = SqlDisclosureLedger(app.engine, commit_interval=3600)
    scenarios = ["store_opening"] * 10
    scenarios[3] = scenarios[7] = POISONED
    try:
        async with poisoned_ledger(app.engine):
            # Queued together, so all ten share one batch, which the database refuses.
            results = await asyncio.gather(
                *(ledger.record(entry(n, s)) for n, s in enumerate(scenarios, start=1)),
                return_exceptions=True,
            )
    finally:
        await ledger.close()
    assert ledger.batches_split == 1
    for index, result in enumerate(results):
        if scenarios[index] == POISONED:
            assert isinstance(result, FailedPrecondition)
            assert result.reason == "LEDGER_ENTRY_REFUSED"
        else:
            assert result is None
    rows = await stored(app.engine)
    # The good ones, in the order they were queued, numbered and chained with no gap where
    # the refused ones would have been.
    assert [r.disclose_time for r in rows] == [
        entry(n).disclose_time for n, s in enumerate(["first", *scenarios]) if s != POISONED
    ]
    first = rows[0].sequence
    assert [r.sequence for r in rows] == list(range(first, first + 9))
    assert all(r.previous_hash == before.entry_hash for before, r in itertools.pairwise(rows))
    check = await app.disclosures.verify()
    assert check.first_broken is None and check.checked == 9
    if app.engine.dialect.name == "postgresql":
        # Its own sequence stays level, for any row inserted without a number.
        async with app.engine.connect() as connection:
            drawn = await connection.scalar(
                text("SELECT last_value FROM disclosure_ledger_sequence_seq")
            )
        assert drawn == rows[-1].sequence


async def test_values_the_database_itself_rejects_fail_only_their_own_entries(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the domain's checks had missed them: the database's own refusals (a NOT NULL
    # column, text it cannot encode, a time without a zone) are told from its failures.
    monkeypatch.setattr("service.adapters.storage.ledger.check_entry", lambda _entry: None)
    bad = {
        2: disclosure_entry(recipient_name=None),
        4: disclosure_entry(recipient_name="平台\ud800"),
        6: disclosure_entry(disclose_time=dt.datetime(2026, 11, 23)),
    }
    results = await asyncio.gather(
        *(app.ledger.record(bad.get(n) or entry(n)) for n in range(8)), return_exceptions=True
    )
    assert app.ledger.batches_split == 1
    assert [getattr(r, "reason", None) for r in results] == [
        "LEDGER_ENTRY_REFUSED" if n in bad else None for n in range(8)
    ]
    rows = await stored(app.engine)
    assert [r.disclose_time for r in rows] == [
        entry(n).disclose_time for n in range(8) if n not in bad
    ]
    check = await app.disclosures.verify()
    assert check.first_broken is None and check.checked == 5


async def test_an_entry_the_ledger_would_not_store_is_refused_before_it_is_queued(
    app: Application,
) -> None:
    bad = disclosure_entry(scenario="x" * 65, recipient_name="平台\x00", fields=("secrets",))
    results = await asyncio.gather(
        *(app.ledger.record(bad if n == 1 else entry(n)) for n in range(3)),
        return_exceptions=True,
    )
    refused = results[1]
    assert isinstance(refused, DisclosureEntryInvalid)
    assert {v.field: v.reason for v in refused.violations} == {
        "scenario": "FORMAT_INVALID",
        "recipient_name": "CHARACTER_NOT_ALLOWED",
        "fields": "FIELD_UNKNOWN",
    }
    assert results[0] is None and results[2] is None
    # Never queued: the others went through in one batch that nothing had to split.
    assert app.ledger.batches_written == 1 and app.ledger.batches_split == 0
    assert len(await stored(app.engine)) == 2


async def test_entry_by_entry_stops_at_a_database_failure(postgres_url: str) -> None:
    app = await bootstrap(Settings(pii_keys=PiiKeys.generate(), database_url=postgres_url))
    try:
        async with app.engine.begin() as connection:
            await connection.execute(text("TRUNCATE disclosure_ledger"))
        scenarios = ["store_opening", POISONED, "store_opening", FATAL, "store_opening"]
        async with poisoned_ledger(app.engine):
            results = await asyncio.gather(
                *(app.ledger.record(entry(n, s)) for n, s in enumerate(scenarios)),
                return_exceptions=True,
            )
            # The connection the database dropped is not handed out again.
            await app.ledger.record(entry(9))
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], FailedPrecondition)
        # From the entry whose write lost the connection on, the batch fails as a whole:
        # retryable, and not tried one by one against a database that is down.
        assert [getattr(r, "reason", None) for r in results[3:]] == ["LEDGER_UNAVAILABLE"] * 2
        check = await app.disclosures.verify()
        assert check.first_broken is None and check.checked == 3
    finally:
        await app.close()


async def _until(condition: Any, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.005)


async def test_concurrent_reads_and_checks_succeed_beside_refused_entries(
    app: Application, server: RunningServer, tmp_path: Path
) -> None:
    rows = [registry_row() for _ in range(3)]
    await import_rows(app, rows)
    usccs = [str(row["uscc"]) for row in rows]
    await app.policies.load(
        {
            "platform": "test-platform",
            "policy": "store_opening",
            "version": 1,
            "announce_time": "2020-01-01T00:00:00+08:00",
            "effective_time": "2020-01-08T00:00:00+08:00",
            "conditions": [{"kind": "business_status"}],
        }
    )
    _gateway, gateway_token = await app.credentials.create_caller(
        CallerKind.GATEWAY, "merchant gateway"
    )

    async def view(uscc: str, viewer: str, scenario: str = "") -> Any:
        async with AsyncIntegrityClient(
            server.target, token=gateway_token, on_behalf_of=f"viewer:{viewer}", timeout=30
        ) as client:
            return await client.get_archive(uscc, scenario=scenario)

    async def check(uscc: str) -> Any:
        async with AsyncIntegrityClient(server.target, token=server.token, timeout=30) as client:
            return await client.check_eligibility(uscc, "store_opening")

    async with poisoned_ledger(app.engine):
        async with ledger_held(server):
            good = [
                *(asyncio.create_task(view(usccs[n % 3], f"good-{n}")) for n in range(12)),
                *(asyncio.create_task(check(usccs[n % 3])) for n in range(8)),
            ]
            refused = [
                asyncio.create_task(view(usccs[n], f"bad-{n}", scenario=POISONED)) for n in range(3)
            ]
            invalid = [
                asyncio.create_task(view(usccs[n], f"odd-{n}", scenario="Page!")) for n in range(2)
            ]
            # Refused at once, while the ledger cannot write at all.
            invalid_results = await asyncio.gather(*invalid, return_exceptions=True)
            # Everything else waits: the first entries in the batch held at the database,
            # the rest queued behind it, to be written together.
            await _until(lambda: app.ledger.unwritten == len(good) + len(refused), "entries queued")
        good_results = await asyncio.gather(*good, return_exceptions=True)
        refused_results = await asyncio.gather(*refused, return_exceptions=True)

    assert app.ledger.batches_split >= 1
    assert [r for r in good_results if isinstance(r, BaseException)] == []
    for failure in refused_results:
        assert isinstance(failure, IntegrityCallError)
        assert failure.code == grpc.StatusCode.FAILED_PRECONDITION
        assert failure.reason == "LEDGER_ENTRY_REFUSED"
    for failure in invalid_results:
        assert isinstance(failure, IntegrityCallError)
        assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
        assert failure.reason == "DISCLOSURE_ENTRY_INVALID"
        assert [v.field for v in failure.field_violations] == ["scenario"]
    ledger = await stored(app.engine)
    assert sorted((r.scenario, r.tier) for r in ledger) == sorted(
        [("archive_page", "logged_in")] * 12 + [("store_opening", "platform")] * 8
    )
    output = await asyncio.to_thread(ops_verify, app, tmp_path)
    assert "ledger intact: 20 entries" in output


async def test_a_scenario_the_ledger_would_refuse_is_refused_before_anything_is_read(
    app: Application, server: RunningServer
) -> None:
    _gateway, token = await app.credentials.create_caller(CallerKind.GATEWAY, "gw")
    async with AsyncIntegrityClient(server.target, token=token, on_behalf_of="viewer:u") as viewer:
        with pytest.raises(IntegrityCallError) as caught:
            # No such archive: had it been looked up first, the answer would be NOT_FOUND.
            await viewer.get_archive(str(registry_row()["uscc"]), scenario="s" * 65)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.reason) for v in caught.value.field_violations] == [
        ("scenario", "FORMAT_INVALID")
    ]
