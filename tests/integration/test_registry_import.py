"""The registry snapshot import, as ops run it: the integrity-ops command on both backends."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import pytest

from service.adapters.registry_snapshot import SqlRegistrySnapshot
from service.adapters.storage.engine import create_engine
from tests.builders import registry_row
from tests.conftest import OpsCommand


@pytest.fixture
def ops_env(database_url: str, ops_command: OpsCommand) -> OpsCommand:
    if database_url.startswith("postgresql"):
        # Shared database across the run: start from an empty snapshot.
        async def truncate() -> None:
            from sqlalchemy import text

            from service.adapters.storage.migrate import migrate

            engine = create_engine(database_url)
            await migrate(engine)
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "TRUNCATE verification_history, verifications, registry_records, "
                        "archive_facts"
                    )
                )
            await engine.dispose()

        asyncio.run(truncate())
    return ops_command


def run_import(ops_command: OpsCommand, path: Path, *extra: str) -> str:
    result = ops_command("registry", "import", str(path), *extra)
    assert result.exit_code == 0, result.output
    return result.output


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def lookup(database_url: str, uscc: str) -> Any:
    async def run() -> Any:
        engine = create_engine(database_url)
        try:
            return await SqlRegistrySnapshot(engine).lookup(uscc)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_import_reports_rejected_rows_and_keeps_going(ops_env: OpsCommand, tmp_path: Path) -> None:
    good = [registry_row() for _ in range(3)]
    bad_check = registry_row()
    bad_check["uscc"] = bad_check["uscc"][:-1] + ("0" if bad_check["uscc"][-1] != "0" else "1")
    no_status = registry_row(status="")
    bad_id = registry_row(legal_representative={"name": "张三", "id_number": "110105194912310021"})
    path = write_jsonl(
        tmp_path / "snapshot.jsonl",
        [good[0], bad_check, "{not json", good[1], no_status, bad_id, good[2]],
    )
    output = run_import(ops_env, path, "--snapshot-time", "2026-11-01T00:00:00+08:00")
    assert "3 inserted" in output and "4 rejected" in output
    assert "line 2: uscc:" in output
    assert "line 3: not valid JSON" in output
    assert "line 5: status is missing" in output
    assert "line 6: legal_representative.id_number" in output
    assert "110105194912310021" not in output  # reasons never repeat personal data
    record = lookup(ops_env.env["INTEGRITY_DATABASE_URL"], good[1]["uscc"])
    assert record is not None and record.name == good[1]["name"]
    assert record.legal_representative.name.masked == "王**"


def test_import_is_idempotent_and_old_snapshots_do_not_win(
    ops_env: OpsCommand, tmp_path: Path
) -> None:
    rows = [registry_row() for _ in range(5)]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    assert "5 inserted" in run_import(ops_env, path)
    again = run_import(ops_env, path)
    assert "0 inserted, 0 updated, 5 unchanged" in again

    newer = dict(rows[0], status="cancelled", snapshot_time="2026-11-20T00:00:00+00:00")
    assert "1 updated" in run_import(ops_env, write_jsonl(tmp_path / "b.jsonl", [newer]))
    older = dict(rows[0], status="in_business", snapshot_time="2026-10-01T00:00:00+00:00")
    assert "1 older than held" in run_import(ops_env, write_jsonl(tmp_path / "c.jsonl", [older]))
    record = lookup(ops_env.env["INTEGRITY_DATABASE_URL"], rows[0]["uscc"])
    assert record.status.value == "cancelled"


def test_csv_import(ops_env: OpsCommand, tmp_path: Path) -> None:
    rows = [registry_row(), registry_row(legal_representative={"name": "李四", "id_number": None})]
    path = tmp_path / "snapshot.csv"
    columns = [k for k in rows[0] if k != "legal_representative"] + [
        "legal_representative_name",
        "legal_representative_id_number",
    ]
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            flat = {k: v for k, v in row.items() if k != "legal_representative"}
            flat["shareholders"] = json.dumps(row["shareholders"], ensure_ascii=False)
            flat["changes"] = json.dumps(row["changes"], ensure_ascii=False)
            flat["term_end"] = row["term_end"] or ""
            flat["legal_representative_name"] = row["legal_representative"]["name"]
            flat["legal_representative_id_number"] = row["legal_representative"]["id_number"] or ""
            writer.writerow(flat)
    assert "2 inserted" in run_import(ops_env, path)
    record = lookup(ops_env.env["INTEGRITY_DATABASE_URL"], rows[1]["uscc"])
    assert record.legal_representative.id_number is None
    assert record.term.open_ended
    # A natural person's name is sealed and masked like the legal representative's.
    assert record.shareholders[0].name == "王**" and record.shareholders[0].sealed_name


def test_generated_registry_imports_cleanly(ops_env: OpsCommand, tmp_path: Path) -> None:
    path = tmp_path / "generated.jsonl"
    generated = ops_env(
        "registry", "generate", "--count", "1500", "--seed", "7", "--out", str(path)
    )
    assert generated.exit_code == 0, generated.output
    output = run_import(ops_env, path, "--quiet")
    assert "1500 inserted" in output and "0 rejected" in output


def test_a_repeated_enterprise_keeps_its_later_line(ops_env: OpsCommand, tmp_path: Path) -> None:
    first = registry_row()
    later = dict(first, status="revoked")
    output = run_import(ops_env, write_jsonl(tmp_path / "r.jsonl", [first, later]))
    assert "1 inserted" in output and "1 repeated" in output
    assert lookup(ops_env.env["INTEGRITY_DATABASE_URL"], first["uscc"]).status.value == "revoked"
