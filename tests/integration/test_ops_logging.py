"""integrity-ops run as a console script logs like the server: JSON on stderr, personal
data redacted; stdout carries only the command's report."""

from __future__ import annotations

import json
import os

from tests.conftest import OpsCommand
from tests.integration.console_process import run_to_exit


async def test_the_console_script_logs_json_to_stderr_and_reports_on_stdout(
    ops_command: OpsCommand,
) -> None:
    env = {**os.environ, **ops_command.env, "INTEGRITY_LOG_LEVEL": "info"}
    assert (await run_to_exit("integrity-ops", env, "migrate")).exit_code == 0
    result = await run_to_exit("integrity-ops", env, "level", "recompute", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [line for line in result.stdout.splitlines()
                                          if line.startswith("recomputed ")]  # fmt: skip
    events = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert "levels_recomputed" in [event["event"] for event in events]
    assert all("timestamp" in event and "level" in event for event in events)
