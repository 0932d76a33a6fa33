"""integrity-server refuses to start, in one line naming the setting, when it cannot serve
as configured."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.server_process import FailedStart, failed_start, start_server


def _assert_refused(result: FailedStart, exit_code: int, *named: str) -> str:
    """One line on stderr naming the settings, the exit code, and no traceback anywhere."""
    assert result.exit_code == exit_code, result
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.problem_lines) == 1, result.problem_lines
    line = result.problem_lines[0]
    assert line.startswith("integrity-server: ")
    for setting in named:
        assert setting in line, line
    return line


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on: bound here and never listened on, so connecting is refused."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


# Each: the environment it adds (given tmp_path and a closed port), the exit code, the
# setting named.
STARTUP_PROBLEMS: dict[str, tuple[Callable[[Path, int], dict[str, str]], int, str]] = {
    "database unreachable": (
        lambda _tmp, port: {"INTEGRITY_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/x"},
        1,
        "INTEGRITY_DATABASE_URL",
    ),
    "sqlite directory missing": (
        lambda tmp, _port: {"INTEGRITY_DATABASE_URL": f"sqlite:///{tmp / 'no-such-dir' / 'x.db'}"},
        2,
        "INTEGRITY_DATABASE_URL",
    ),
    "bad setting": (
        lambda _tmp, _port: {"INTEGRITY_SHUTDOWN_GRACE": "soon"},
        2,
        "INTEGRITY_SHUTDOWN_GRACE",
    ),
    "listen address not host:port": (
        lambda _tmp, _port: {"INTEGRITY_LISTEN": "localhost"},
        2,
        "INTEGRITY_LISTEN",
    ),
}


@pytest.mark.parametrize("problem", list(STARTUP_PROBLEMS))
async def test_a_server_that_cannot_start_says_why_in_one_line(
    server_env: dict[str, str], tmp_path: Path, closed_port: int, problem: str
) -> None:
    make_env, exit_code, setting = STARTUP_PROBLEMS[problem]
    env = {**os.environ, **server_env, "INTEGRITY_LISTEN": "127.0.0.1:0"}
    env.update(make_env(tmp_path, closed_port))
    _assert_refused(await failed_start(env), exit_code, setting)


async def test_a_missing_sqlite_directory_is_not_created(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "typo"
    env = {**os.environ, **server_env, "INTEGRITY_DATABASE_URL": f"sqlite:///{missing / 'x.db'}"}
    _assert_refused(await failed_start(env, "--listen", "127.0.0.1:0"), 2, str(missing))
    assert not missing.exists()


async def test_a_second_server_on_a_taken_address_refuses_to_start(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    first = await start_server(server_env)
    try:
        second_env = {**os.environ, **server_env}
        second_env["INTEGRITY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'second.db'}"
        result = await failed_start(second_env, "--listen", first.target)
    finally:
        first.process.kill()
        await first.process.wait()
    line = _assert_refused(result, 1, "INTEGRITY_LISTEN", first.target)
    assert "in use" in line


async def test_with_reuse_port_two_servers_share_an_address(server_env: dict[str, str]) -> None:
    env = {**server_env, "INTEGRITY_REUSE_PORT": "true"}
    first = await start_server(env)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(first.process.wait)
        stack.callback(first.process.kill)
        second = await start_server(env, listen=first.target)
        stack.push_async_callback(second.process.wait)
        stack.callback(second.process.kill)
        assert second.port == first.port
