"""integrity-ops and integrity-worker, run as operators run them, stop on what ops can act
on (a database that cannot be opened, a file that cannot be written, a change feed that
cannot be read) with one line naming it and the setting or path, never a traceback."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from service.bootstrap import Application
from service.domain import batches
from tests.builders import new_uscc
from tests.conftest import OpsCommand
from tests.integration.console_process import Exited, assert_one_line, run_to_exit
from tests.scripted_http import Answer, ScriptedServer

OPS, WORKER = "integrity-ops", "integrity-worker"


def _env(ops_command: OpsCommand, **settings: str) -> dict[str, str]:
    return {**os.environ, **ops_command.env, **settings}


async def _ops(env: dict[str, str], *args: str) -> Exited:
    return await run_to_exit(OPS, env, *args)


async def test_a_change_feed_nobody_answers_is_named(
    ops_command: OpsCommand, closed_port: int
) -> None:
    env = _env(ops_command, INTEGRITY_REGISTRY_CHANGES_URL=f"http://127.0.0.1:{closed_port}")
    result = await _ops(env, "batch", "start", "--changed-since", "2026-11-01", "--from-feed")
    line = assert_one_line(result, OPS, 1, "INTEGRITY_REGISTRY_CHANGES_URL", "ConnectError")
    assert str(closed_port) not in line


async def test_a_change_feed_answering_an_error_is_named(
    ops_command: OpsCommand, scripted: ScriptedServer
) -> None:
    scripted.default = Answer(404, {"error": "not_found"})
    env = _env(ops_command, INTEGRITY_REGISTRY_CHANGES_URL=scripted.url)
    result = await _ops(env, "batch", "start", "--changed-since", "2026-11-01", "--from-feed")
    assert_one_line(result, OPS, 1, "INTEGRITY_REGISTRY_CHANGES_URL", "HTTP 404")
    assert [seen.path.split("?")[0] for seen in scripted.seen] == ["/v1/changes"]


async def test_a_report_file_that_cannot_be_written_is_named(
    app: Application, ops_command: OpsCommand, tmp_path: Path
) -> None:
    started = await app.batches.start(
        batches.named_in_file("codes", [new_uscc()]), created_by="ops"
    )
    missing = tmp_path / "no-such-dir" / "report.csv"
    result = await _ops(_env(ops_command), "batch", "report", started.id, "--csv", str(missing))
    assert_one_line(result, OPS, 1, str(missing), "No such file or directory")


# Each: the database URL (given the test's directory and a closed port), what the line
# names beyond the setting.
UNUSABLE_DATABASES: dict[str, tuple[Callable[[Path, int], str], str]] = {
    "postgresql refusing connections": (
        lambda _tmp, port: f"postgresql://postgres:secret@127.0.0.1:{port}/integrity",
        "ConnectionRefusedError",
    ),
    "postgresql database missing": (
        lambda _tmp, _port: "postgresql://postgres:secret@127.0.0.1:5432/integrity_no_such_db",
        "InvalidCatalogNameError",
    ),
    "sqlite file that is a directory": (
        lambda tmp, _port: f"sqlite:///{tmp}",
        "unable to open database file",
    ),
}
COMMANDS = {
    "batch status": (OPS, "batch", "status", "7b0c6d3e-5a2f-4f43-9d0e-2f1d7e9a6c11"),
    "batch list": (OPS, "batch", "list"),
    "batch start": (OPS, "batch", "start", "--not-verified-within", "30"),
    "integrity-worker": (WORKER, "--until-idle"),
}


@pytest.mark.parametrize("database", list(UNUSABLE_DATABASES))
@pytest.mark.parametrize("command", list(COMMANDS))
async def test_a_database_that_cannot_be_opened_is_named(
    ops_command: OpsCommand, tmp_path: Path, closed_port: int, database: str, command: str
) -> None:
    make_url, reason = UNUSABLE_DATABASES[database]
    url = make_url(tmp_path, closed_port)
    program, *args = COMMANDS[command]
    result = await run_to_exit(program, _env(ops_command, INTEGRITY_DATABASE_URL=url), *args)
    line = assert_one_line(result, program, 1, "INTEGRITY_DATABASE_URL", reason)
    # The URL may carry a password: it is never repeated.
    assert "secret" not in result.stderr + result.stdout
    assert url not in line


async def test_a_bad_setting_stops_ops_with_exit_code_2(ops_command: OpsCommand) -> None:
    env = _env(ops_command, INTEGRITY_BATCH_LEASE="soon")
    result = await _ops(env, "batch", "list")
    assert_one_line(result, OPS, 2, "INTEGRITY_BATCH_LEASE")
