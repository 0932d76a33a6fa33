"""Credentials and scopes: who may call what."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from clients import AsyncIntegrityClient, IntegrityCallError
from service.adapters.storage.callers import SqlCallerStore
from service.adapters.storage.tables import credentials
from service.app.credentials import CredentialService
from service.bootstrap import Application, SystemClock
from service.domain.callers import CallerKind, Scope
from service.domain.errors import Unauthenticated
from tests.builders import import_rows, registry_row, verification_for
from tests.conftest import OpsCommand, RunningServer


async def call_with(server: RunningServer, token: str, **options: str) -> IntegrityCallError:
    async with AsyncIntegrityClient(server.target, token=token, **options) as client:
        with pytest.raises(IntegrityCallError) as caught:
            await client.create_verification(verification_for(registry_row()))
    return caught.value


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "CREDENTIAL_MISSING"),
        ("not-a-token", "CREDENTIAL_MALFORMED"),
        ("ik_0123456789abcdef_wrongsecret", "CREDENTIAL_INVALID"),
    ],
)
async def test_missing_or_bad_credentials_are_unauthenticated(
    server: RunningServer, token: str, reason: str
) -> None:
    error = await call_with(server, token)
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert error.reason == reason


async def test_a_right_key_with_a_wrong_secret_is_refused(server: RunningServer) -> None:
    key_id = server.token.split("_")[1]
    error = await call_with(server, f"ik_{key_id}_{'x' * 43}")
    assert error.code == grpc.StatusCode.UNAUTHENTICATED


async def test_revoked_credentials_stop_working(app: Application, server: RunningServer) -> None:
    caller, token = await app.credentials.create_caller(CallerKind.PLATFORM, "B", platform="b")
    spare = await app.credentials.add_credential(caller.id)
    row = registry_row()
    await import_rows(app, [row])
    async with AsyncIntegrityClient(server.target, token=token) as client:
        await client.create_verification(verification_for(row))
    await app.credentials.revoke(token.split("_")[1])
    assert (await call_with(server, token)).code == grpc.StatusCode.UNAUTHENTICATED
    async with AsyncIntegrityClient(server.target, token=spare) as client:
        await client.create_verification(verification_for(row))  # the other key still works
    await app.credentials.revoke(caller.id)
    assert (await call_with(server, spare)).code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_revocation_elsewhere_holds_once_the_cache_expires(app: Application) -> None:
    """Another replica (here: another credential service on the same database) revokes;
    this one refuses the token as soon as its cached copy has expired (at once here)."""
    here = CredentialService(SqlCallerStore(app.engine), SystemClock(), cache_seconds=0)
    elsewhere = CredentialService(SqlCallerStore(app.engine), SystemClock())
    caller, token = await elsewhere.create_caller(CallerKind.PLATFORM, "C", platform="c")
    assert (await here.authenticate(token)).id == caller.id
    await elsewhere.revoke(caller.id)
    with pytest.raises(Unauthenticated):
        await here.authenticate(token)


async def test_calls_outside_the_scopes_are_denied(app: Application, server: RunningServer) -> None:
    _gateway, token = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    error = await call_with(server, token)
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "SCOPE_MISSING"

    _reader, reader_token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "reader", platform="reader", scopes=[Scope.READ_ARCHIVE]
    )
    assert (await call_with(server, reader_token)).code == grpc.StatusCode.PERMISSION_DENIED


async def test_only_the_gateway_acts_for_users(server: RunningServer) -> None:
    error = await call_with(server, server.token, on_behalf_of="viewer:u1")
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "ON_BEHALF_OF_DENIED"


async def test_platforms_see_only_their_own_verifications(
    app: Application, server: RunningServer
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    _other, other_token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "O", platform="o"
    )
    async with AsyncIntegrityClient(server.target, token=server.token) as mine:
        made = await mine.create_verification(verification_for(row))
    async with AsyncIntegrityClient(server.target, token=other_token) as theirs:
        with pytest.raises(IntegrityCallError) as caught:
            await theirs.get_verification(made.name)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        assert list((await theirs.list_verifications(row["uscc"])).verifications) == []
    _ops, ops_token = await app.credentials.create_caller(CallerKind.OPS, "ops")
    async with AsyncIntegrityClient(server.target, token=ops_token) as ops_client:
        assert (await ops_client.get_verification(made.name)) == made


async def test_secrets_are_stored_hashed(app: Application, server: RunningServer) -> None:
    secret = server.token.split("_", 2)[2]
    async with app.engine.connect() as connection:
        stored = (await connection.execute(select(credentials))).mappings().all()
    assert stored and all(secret.encode() not in bytes(row["secret_hash"]) for row in stored)
    assert all(len(row["secret_hash"]) == 32 for row in stored)


async def test_one_active_caller_per_platform(app: Application) -> None:
    await app.credentials.create_caller(CallerKind.PLATFORM, "X", platform="x")
    with pytest.raises(Exception) as caught:
        await app.credentials.create_caller(CallerKind.PLATFORM, "X again", platform="x")
    assert getattr(caught.value, "reason", "") == "PLATFORM_CALLER_EXISTS"


def test_ops_commands_issue_list_and_revoke(ops_command: OpsCommand, tmp_path: Path) -> None:
    platform = f"cli-{tmp_path.name[-8:].lower().replace('_', '-')}"
    created = ops_command(
        "callers", "create", "--kind", "platform", "--name", "CLI", "--platform", platform
    )
    assert created.exit_code == 0, created.output
    caller_id = created.output.split()[1]
    assert "token: ik_" in created.output
    listed = ops_command("callers", "list")
    assert f"{caller_id} platform platform={platform} active" in listed.output
    revoked = ops_command("callers", "revoke", caller_id)
    assert revoked.exit_code == 0, revoked.output
    assert (
        f"{caller_id} platform platform={platform} revoked" in ops_command("callers", "list").output
    )
    again = ops_command("callers", "revoke", caller_id)
    assert again.exit_code != 0 and "no active caller" in again.output
    bad = ops_command(
        "callers", "create", "--kind", "platform", "--name", "x", "--platform", "Bad Code!"
    )
    assert bad.exit_code != 0
