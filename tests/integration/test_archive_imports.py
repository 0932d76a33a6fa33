"""Ops imports into the archive: judicial entries and platform records from files."""

from __future__ import annotations

import json
from pathlib import Path

from service.adapters.storage.archive_store import SqlArchiveStore
from service.bootstrap import Application
from service.domain.archive import assemble_archive
from tests.builders import new_uscc
from tests.conftest import OpsCommand


async def invoke(ops_command: OpsCommand, *args: str) -> str:
    result = await ops_command.run(*args)
    assert result.exit_code == 0, result.output
    return result.output


async def archive_of(app: Application, uscc: str):  # type: ignore[no-untyped-def]
    facts = await SqlArchiveStore(app.engine, app.engine).load(uscc, None)
    return assemble_archive(uscc, facts, app.clock.now())


async def test_judicial_import(app: Application, tmp_path: Path, ops_command: OpsCommand) -> None:
    uscc = new_uscc()
    rows = [
        {
            "uscc": uscc,
            "entry_id": "D-1",
            "kind": "dishonest_debtor",
            "authority": "杭州中院",
            "listing_date": "2026-01-05",
            "case_number": "(2026)浙01执9号",
        },
        {
            "uscc": uscc,
            "entry_id": "A-1",
            "kind": "abnormal_operations",
            "authority": "西湖区市场监管局",
            "listing_date": "2019-01-05",
        },
        {
            "uscc": uscc,
            "entry_id": "X-1",
            "kind": "gossip",
            "authority": "x",
            "listing_date": "2020-01-01",
        },
        {
            "uscc": "91330106MA0000000X",
            "entry_id": "X-2",
            "kind": "dishonest_debtor",
            "authority": "x",
            "listing_date": "2020-01-01",
        },
        {
            "uscc": uscc,
            "entry_id": "X-3",
            "kind": "administrative_penalty",
            "authority": "x",
            "listing_date": "2020-01-01",
            "removal_date": "2019-01-01",
        },
    ]
    path = tmp_path / "judicial.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    output = await invoke(ops_command, "judicial", "import", str(path), "--quiet")
    assert "2 entries added or changed, 0 unchanged, 3 rejected" in output
    assert "line 3: kind must be one of" in output
    assert "line 5: removal_date is before listing_date" in output
    assert "0 entries added or changed, 2 unchanged" in await invoke(
        ops_command, "judicial", "import", str(path), "--quiet"
    )

    archive = await archive_of(app, uscc)
    entries = {e.entry_id: e for e in archive.judicial_entries}
    assert (
        entries["D-1"].expiry_date is not None and entries["D-1"].expiry_date.year == 2028
    )  # two years by default
    # Abnormal operations for more than three years reads as a serious violation.
    assert entries["A-1"].kind_on(archive.read_date).value == "serious_violation"

    removed = dict(rows[0], removal_date="2026-06-01")
    path.write_text(json.dumps(removed, ensure_ascii=False) + "\n")
    assert "1 entries added or changed" in await invoke(
        ops_command, "judicial", "import", str(path), "--quiet"
    )
    archive = await archive_of(app, uscc)
    assert not {e.entry_id: e for e in archive.judicial_entries}["D-1"].is_active(archive.read_date)


async def test_platform_import_from_file(
    app: Application, tmp_path: Path, ops_command: OpsCommand
) -> None:
    uscc = new_uscc()
    lines = [
        json.dumps(
            {
                "event_id": "f-1",
                "uscc": uscc,
                "membership": {"memberSince": {"year": 2017, "month": 2, "day": 1}},
            }
        ),
        json.dumps(
            {
                "event_id": "f-2",
                "uscc": uscc,
                "store": {
                    "storeId": "S1",
                    "address": "北京市朝阳区1号",
                    "status": "STORE_STATUS_OPEN",
                },
            }
        ),
        "{not json",
        json.dumps(
            {
                "event_id": "f-3",
                "uscc": uscc,
                "store": {"storeId": "S2", "address": "<b>", "status": "STORE_STATUS_OPEN"},
            }
        ),
    ]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    output = await invoke(
        ops_command, "platform", "import", "--platform", "1688", str(path), "--quiet"
    )
    assert "2 accepted, 0 duplicates, 2 rejected" in output
    assert "line 4: store.address" in output
    again = await invoke(
        ops_command, "platform", "import", "--platform", "1688", str(path), "--quiet"
    )
    assert "0 accepted, 2 duplicates" in again
    archive = await archive_of(app, uscc)
    [platform] = archive.platforms
    assert platform.platform == "1688" and [s.store_id for s in platform.stores] == ["S1"]
