"""integrity-ops against databases in every state: read-only commands never migrate, and
refuse a schema that is not current with one line, leaving the database as it was."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Connection, inspect, text

from service.adapters.storage.engine import create_engine, sqlite_file
from service.adapters.storage.migrate import migrate
from service.settings import PiiKeys
from tests.builders import new_uscc
from tests.clock import TestClock
from tests.conftest import OpsCommand

READ_ONLY = (
    ("callers", "list"),
    ("disputes", "pending"),
    ("disputes", "list", new_uscc()),
    ("ledger", "verify"),
    ("level", "history", new_uscc()),
    ("policy", "list"),
    ("scorecard", "compare"),
)


def ops_on(database_url: str, tmp_path: Path, clock: TestClock, **env: str) -> OpsCommand:
    keys = tmp_path / "ops-keys.json"
    if not keys.exists():
        keys.write_text(json.dumps(PiiKeys.generate().to_json()))
    return OpsCommand(
        {"INTEGRITY_DATABASE_URL": database_url, "INTEGRITY_KEYS_FILE": str(keys), **env}, clock
    )


def _schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    tables = {
        name: [(c["name"], str(c["type"])) for c in inspector.get_columns(name)]
        for name in inspector.get_table_names()
    }
    versions = []
    if "alembic_version" in tables:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return {"tables": tables, "versions": [tuple(row) for row in versions]}


async def schema_of(database_url: str) -> dict[str, Any]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_schema)
    finally:
        await engine.dispose()


def assert_refused_in_one_line(result: Result, *expected: str) -> None:
    assert result.exit_code != 0, result.output
    # A ClickException ends click with SystemExit; anything else would be the exception.
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    for words in expected:
        assert words in line


def test_a_read_only_command_creates_no_database_file(tmp_path: Path, clock: TestClock) -> None:
    database = tmp_path / "never-created.db"
    ops = ops_on(f"sqlite:///{database}", tmp_path, clock)
    for command in READ_ONLY:
        assert_refused_in_one_line(
            ops(*command), f"no database at {database}", "integrity-ops migrate"
        )
    assert list(tmp_path.glob("never-created.db*")) == []


async def prepare(database_url: str, revision: str | None) -> None:
    """The database at `revision` of the migrations; None: an existing database, no tables."""
    path = sqlite_file(database_url)
    if revision is None:
        if path is not None:
            sqlite3.connect(path).close()
        return
    engine = create_engine(database_url)
    try:
        await migrate(engine, revision=revision)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("revision", "refusal"), [(None, "has no schema yet"), ("0005", "at revision 0005")]
)
async def test_read_only_commands_refuse_a_schema_behind_the_code_and_leave_it_as_it_was(
    empty_database_url: str, tmp_path: Path, clock: TestClock, revision: str | None, refusal: str
) -> None:
    await prepare(empty_database_url, revision)
    before = await schema_of(empty_database_url)
    assert before["versions"] == ([(revision,)] if revision else [])
    assert bool(before["tables"]) is bool(revision)
    ops = ops_on(empty_database_url, tmp_path, clock)
    for command in READ_ONLY:
        assert_refused_in_one_line(await ops.run(*command), refusal, "run `integrity-ops migrate`")
        assert await schema_of(empty_database_url) == before, command


async def test_a_revision_newer_than_the_code_is_not_sent_to_migrate(
    empty_database_url: str, tmp_path: Path, clock: TestClock
) -> None:
    ops = ops_on(empty_database_url, tmp_path, clock)
    assert (await ops.run("migrate")).exit_code == 0
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    finally:
        await engine.dispose()
    result = await ops.run("callers", "list")
    assert_refused_in_one_line(result, "at revision 0999", "newer than this version")
    assert "integrity-ops migrate" not in result.output


async def test_after_migrate_every_read_only_command_answers(
    empty_database_url: str, tmp_path: Path, clock: TestClock
) -> None:
    ops = ops_on(empty_database_url, tmp_path, clock)
    migrated = await ops.run("migrate")
    assert migrated.exit_code == 0, migrated.output
    assert migrated.output.strip() == "schema is current"
    for command in READ_ONLY:
        result = await ops.run(*command)
        assert result.exit_code == 0, (command, result.output)
    # migrate loaded the packaged scorecard, so there is an active version to compare.
    compared = await ops.run("scorecard", "compare")
    assert compared.output.split()[:2] == ["class", "2026.1"]


async def test_migrate_brings_a_separate_registry_database_up_to_date_too(
    tmp_path: Path, clock: TestClock
) -> None:
    application, registry = tmp_path / "app.db", tmp_path / "registry.db"
    ops = ops_on(
        f"sqlite:///{application}",
        tmp_path,
        clock,
        INTEGRITY_REGISTRY_URL=f"sqlite:///{registry}",
    )
    result = await ops.run("migrate")
    assert result.exit_code == 0, result.output
    app_schema = await schema_of(f"sqlite:///{application}")
    registry_schema = await schema_of(f"sqlite:///{registry}")
    assert registry_schema["versions"] == app_schema["versions"] != []


@pytest.mark.parametrize("command", ["suspend", "restore"])
async def test_service_state_of_a_malformed_uscc_is_refused_in_one_line(
    command: str, ops_command: OpsCommand
) -> None:
    extra = ["--reason", "violation"] if command == "suspend" else []
    result = await ops_command.run("enterprise", command, "91330106MA0000000X", *extra)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "uscc:" in result.output and "Traceback" not in result.output
