"""integrity-server refuses to start, in one line naming the setting, when it cannot serve
as configured; and serves over TLS on any address, plain text only on loopback."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from clients import AsyncIntegrityClient, ClientTls, IntegrityCallError
from tests.builders import registry_row, verification_for
from tests.certificates import CertificateAuthority
from tests.integration.console_process import assert_one_line
from tests.integration.server_process import FailedStart, failed_start, start_server


def _assert_refused(result: FailedStart, exit_code: int, *named: str) -> str:
    return assert_one_line(result, "integrity-server", exit_code, *named)


def _tls_files(tmp_path: Path) -> tuple[CertificateAuthority, dict[str, str]]:
    ca = CertificateAuthority.create("startup test CA")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    ca.issue_server(serial=1).write(cert_file, key_file)
    return ca, {"INTEGRITY_TLS_CERT_FILE": str(cert_file), "INTEGRITY_TLS_KEY_FILE": str(key_file)}


def _bad_key(tmp_path: Path) -> dict[str, str]:
    _ca, env = _tls_files(tmp_path)
    other = CertificateAuthority.create("other").issue_server(serial=2)
    Path(env["INTEGRITY_TLS_KEY_FILE"]).write_bytes(other.private_key)
    return env


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
    "certificate unreadable": (
        lambda tmp, _port: {
            **_tls_files(tmp)[1],
            "INTEGRITY_TLS_CERT_FILE": str(tmp / "missing.pem"),
        },
        2,
        "INTEGRITY_TLS_CERT_FILE",
    ),
    "key of another certificate": (
        lambda tmp, _port: _bad_key(tmp),
        2,
        "INTEGRITY_TLS_KEY_FILE",
    ),
    "client CA without TLS": (
        lambda tmp, _port: {"INTEGRITY_TLS_CLIENT_CA_FILE": str(tmp / "ca.pem")},
        2,
        "INTEGRITY_TLS_CLIENT_CA_FILE",
    ),
    "plain text beyond loopback": (
        lambda _tmp, _port: {"INTEGRITY_LISTEN": "0.0.0.0:0"},
        2,
        "INTEGRITY_ALLOW_PLAINTEXT",
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


async def test_plain_text_beyond_loopback_only_when_allowed(server_env: dict[str, str]) -> None:
    env = {**server_env, "INTEGRITY_ALLOW_PLAINTEXT": "true"}
    server = await start_server(env, listen="0.0.0.0:0")
    server.process.kill()
    await server.process.wait()
    assert server.port > 0  # refused without the setting: see the problems above


async def test_tls_serves_beyond_loopback(
    server_env: dict[str, str], token: str, tmp_path: Path
) -> None:
    ca, tls_env = _tls_files(tmp_path)
    server = await start_server({**server_env, **tls_env}, listen="0.0.0.0:0")
    try:
        tls = ClientTls(root_certificates=ca.pem, server_name="localhost")
        async with AsyncIntegrityClient(server.target, token=token, tls=tls, timeout=30) as client:
            created = await client.create_verification(verification_for(registry_row()))
        async with AsyncIntegrityClient(server.target, token=token, timeout=5) as plain:
            with pytest.raises(IntegrityCallError):
                await plain.get_verification(created.name)
    finally:
        server.process.kill()
        await server.process.wait()
