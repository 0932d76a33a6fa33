"""TLS on the gRPC listener, with certificates made for the test: the real server (serve)
and the real clients over loopback, and the merchant gateway calling the server over it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from cryptography import x509

from clients import AsyncIntegrityClient, ClientTls, IntegrityCallError, IntegrityClient
from gateway.app import build_app
from gateway.settings import GatewaySettings
from service.api.server import serve
from service.bootstrap import bootstrap
from service.domain.callers import CallerKind
from service.settings import PiiKeys, Settings
from tests.builders import import_rows, registry_row, verification_for
from tests.certificates import CertificateAuthority, Issued
from tests.clock import TestClock
from tests.gateway_rig import served


@dataclasses.dataclass(frozen=True)
class TlsSetup:
    server_ca: CertificateAuthority
    client_ca: CertificateAuthority
    cert_file: Path
    key_file: Path
    client_ca_file: Path
    settings: Settings
    """The server with TLS and no client certificates."""
    token: str

    def client_tls(
        self, ca: CertificateAuthority | None = None, client: Issued | None = None
    ) -> ClientTls:
        return ClientTls(
            root_certificates=(ca or self.server_ca).pem,
            certificate_chain=client.certificate if client else None,
            private_key=client.private_key if client else None,
            server_name="localhost",
        )


@pytest.fixture
async def tls(tmp_path: Path) -> TlsSetup:
    server_ca = CertificateAuthority.create("integrity test server CA")
    client_ca = CertificateAuthority.create("integrity test platform CA")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    server_ca.issue_server(serial=1).write(cert_file, key_file)
    client_ca_file = tmp_path / "platform-ca.pem"
    client_ca_file.write_bytes(client_ca.pem)
    settings = Settings(
        pii_keys=PiiKeys.generate(),
        database_url=f"sqlite:///{tmp_path / 'integrity.db'}",
        listen_address="127.0.0.1:0",
        tls_cert_file=str(cert_file),
        tls_key_file=str(key_file),
    )
    app = await bootstrap(settings)
    try:
        _caller, token = await app.credentials.create_caller(
            CallerKind.PLATFORM, "TLS platform", platform="tls-platform"
        )
    finally:
        await app.close()
    return TlsSetup(server_ca, client_ca, cert_file, key_file, client_ca_file, settings, token)


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """The server as integrity-server runs it, until the block ends; yields its target."""
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, on_ready=ready.set_result))
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    try:
        yield f"127.0.0.1:{ready.result()}"
    finally:
        stop.set()
        await task


def _served_certificate(target: str, ca: CertificateAuthority) -> x509.Certificate:
    """The certificate the server presents to a new connection, verified against ca."""
    host, port = target.rsplit(":", 1)
    context = ssl.create_default_context(cadata=ca.pem.decode())
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as connection,
    ):
        der = connection.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


async def test_both_clients_round_trip_over_tls(tls: TlsSetup) -> None:
    async with serving(tls.settings) as target:
        async with AsyncIntegrityClient(
            target, token=tls.token, tls=tls.client_tls(), timeout=15
        ) as client:
            created = await client.create_verification(verification_for(registry_row()))

        def read_back() -> str:
            with IntegrityClient(target, token=tls.token, tls=tls.client_tls(), timeout=15) as sync:
                return sync.get_verification(created.name).name

        assert await asyncio.to_thread(read_back) == created.name


async def test_a_client_that_does_not_trust_the_ca_is_refused(tls: TlsSetup) -> None:
    stranger = CertificateAuthority.create("some other CA")
    async with serving(tls.settings) as target:
        async with AsyncIntegrityClient(
            target, token=tls.token, tls=tls.client_tls(stranger), timeout=5
        ) as client:
            with pytest.raises(IntegrityCallError) as caught:
                await client.get_verification("enterprises/x/verifications/y")
        # Nor does plain text get through to a TLS listener.
        async with AsyncIntegrityClient(target, token=tls.token, timeout=5) as plain:
            with pytest.raises(IntegrityCallError) as plain_caught:
                await plain.get_verification("enterprises/x/verifications/y")
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert plain_caught.value.code == grpc.StatusCode.UNAVAILABLE


async def test_with_a_client_ca_only_clients_with_its_certificates_get_in(
    tls: TlsSetup, tmp_path: Path
) -> None:
    settings = dataclasses.replace(tls.settings, tls_client_ca_file=str(tls.client_ca_file))
    platform_cert, platform_key = tmp_path / "platform.pem", tmp_path / "platform.key"
    tls.client_ca.issue_client("platform tls-platform", serial=10).write(
        platform_cert, platform_key
    )
    (tmp_path / "server-ca.pem").write_bytes(tls.server_ca.pem)
    platform = ClientTls.from_files(
        tmp_path / "server-ca.pem", platform_cert, platform_key, server_name="localhost"
    )
    impostor = CertificateAuthority.create("not the platform CA").issue_client("x", serial=11)
    row = registry_row()
    async with serving(settings) as target:
        async with AsyncIntegrityClient(
            target, token=tls.token, tls=platform, timeout=15
        ) as client:
            created = await client.create_verification(verification_for(row))
        for presented in (None, impostor):
            async with AsyncIntegrityClient(
                target, token=tls.token, tls=tls.client_tls(client=presented), timeout=5
            ) as refused:
                with pytest.raises(IntegrityCallError) as caught:
                    await refused.get_verification(created.name)
            assert caught.value.code == grpc.StatusCode.UNAVAILABLE, presented


async def test_a_renewed_certificate_reaches_new_connections_without_a_restart(
    tls: TlsSetup, log_stream: io.StringIO
) -> None:
    renewing_ca = CertificateAuthority.create("integrity renewed server CA")
    renewed = renewing_ca.issue_server(serial=2)
    async with serving(tls.settings) as target:
        first = await asyncio.to_thread(_served_certificate, target, tls.server_ca)
        # Half-way through a renewal the key is new and the certificate still old: that
        # pair would fail every handshake, so the server keeps serving the old one.
        tls.key_file.write_bytes(renewed.private_key)
        during = await asyncio.to_thread(_served_certificate, target, tls.server_ca)
        tls.cert_file.write_bytes(renewed.certificate)
        after = await asyncio.to_thread(_served_certificate, target, renewing_ca)
        # A client that trusts only the new CA now gets in, one that trusts only the old
        # CA no longer does, on a new connection.
        async with AsyncIntegrityClient(
            target, token=tls.token, tls=tls.client_tls(renewing_ca), timeout=15
        ) as client:
            await client.create_verification(verification_for(registry_row()))
        async with AsyncIntegrityClient(
            target, token=tls.token, tls=tls.client_tls(tls.server_ca), timeout=5
        ) as stale:
            with pytest.raises(IntegrityCallError):
                await stale.get_verification("enterprises/x/verifications/y")
    assert (first.serial_number, during.serial_number, after.serial_number) == (1, 1, 2)
    logs = log_stream.getvalue()
    assert '"event": "tls_files_not_reloaded"' in logs
    assert '"event": "tls_certificate_reloaded"' in logs and '"serial": "2"' in logs


# The gateway calls integrity-server over TLS where configured: the server's certificate
# checked against the CA the gateway was given, its name against the configured one.


async def _gateway_token_and_row(tls: TlsSetup) -> tuple[str, str]:
    app = await bootstrap(tls.settings)
    try:
        row = registry_row()
        await import_rows(app, [row])
        _caller, token = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    finally:
        await app.close()
    return token, str(row["uscc"])


async def test_the_gateway_reaches_the_server_over_tls(tls: TlsSetup, tmp_path: Path) -> None:
    token, uscc = await _gateway_token_and_row(tls)
    ca_file = tmp_path / "server-ca.pem"
    ca_file.write_bytes(tls.server_ca.pem)
    async with serving(tls.settings) as target:
        trusted = GatewaySettings.load(
            {
                "INTEGRITY_GATEWAY_TOKEN_FILE": str(_write(tmp_path / "t", token)),
                "INTEGRITY_GATEWAY_UPSTREAM": target,
                "INTEGRITY_GATEWAY_UPSTREAM_CA_FILE": str(ca_file),
                "INTEGRITY_GATEWAY_UPSTREAM_SERVER_NAME": "localhost",
            }
        )
        assert trusted.upstream_tls is not None
        async with (
            served(build_app(trusted, TestClock())) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            answer = await http.get(f"/v1/enterprises/{uscc}/archive")
            assert answer.status_code == 200, answer.text
            assert answer.json()["tier"] == "VIEWER_TIER_ANONYMOUS"
        # A server whose certificate another CA signed is not the service: no answer.
        impostor_ca = CertificateAuthority.create("someone else's CA")
        untrusted = GatewaySettings(
            token=token,
            upstream=target,
            upstream_tls=ClientTls(root_certificates=impostor_ca.pem, server_name="localhost"),
            upstream_timeout_seconds=5,
        )
        async with (
            served(build_app(untrusted, TestClock())) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            refused = await http.get(f"/v1/enterprises/{uscc}/archive")
            assert refused.status_code in (503, 504), refused.text
            assert refused.headers["content-type"] == "application/problem+json"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
