"""Shared fixtures: the two storage backends, a real gRPC server on loopback, clients."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from clients import AsyncIntegrityClient
from service.bootstrap import Application, bootstrap, build_server
from service.cli.ops import main as ops
from service.domain.callers import CallerKind
from service.logging import configure_logging
from service.settings import PiiKeys, Settings
from tests.clock import TestClock

# The scripted HTTP server fixture, for the registry clients' tests.
pytest_plugins = ["tests.scripted_http"]

PG_ADMIN_DSN = os.environ.get("INTEGRITY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own inside the shared PostgreSQL, dropped after the run."""
    name = f"integrity_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(drop_database(name))


async def drop_database(name: str) -> None:
    """The database and the key store the service made beside it (`<name>_keys`)."""
    for database in (name, f"{name}_keys"):
        await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'integrity.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def empty_database_url(database_url: str) -> AsyncIterator[str]:
    """A database nothing has migrated yet (the shared PostgreSQL one is already current);
    on SQLite a file that does not exist yet."""
    if database_url.startswith("sqlite"):
        yield database_url
        return
    name = f"integrity_empty_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        await drop_database(name)


@pytest.fixture(scope="session")
def pii_keys() -> PiiKeys:
    # One set per run (per worker): the PostgreSQL key store is shared by a worker's tests
    # as its database is, and keys another test left there must open with these.
    return PiiKeys.generate()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("debug", stream)
    yield stream
    configure_logging("info")


@pytest.fixture
def settings(database_url: str, pii_keys: PiiKeys) -> Settings:
    return Settings(pii_keys=pii_keys, database_url=database_url, listen_address="127.0.0.1:0")


async def _clean(app: Application) -> None:
    # PostgreSQL is shared across tests within a run: start every test from empty tables.
    if app.engine.dialect.name == "postgresql":
        async with app.engine.begin() as connection:
            await connection.execute(
                text(
                    "TRUNCATE batch_items, reverification_batches, verification_history, "
                    "verifications, enterprise_rechecks, outbox, registry_records, credentials, "
                    "callers, "
                    "archive_facts, ingested_events, disclosure_ledger, integrity_levels, "
                    "change_log, eligibility_policies, registry_source_budgets, registry_rate_shares, "
                    "ledger_tree_nodes, "
                    "ledger_checkpoints, disputes, data_requests"
                )
            )
        async with app.subject_keys.engine.begin() as connection:
            await connection.execute(text("TRUNCATE subject_keys"))


@pytest.fixture
def clock() -> TestClock:
    """The test's "now": every application the test builds runs on it."""
    return TestClock()


@dataclass
class OpsCommand:
    """integrity-ops as an operator runs it: on the test's database, keys and clock."""

    env: dict[str, str]
    clock: TestClock

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(ops, list(args), env=self.env, obj={"clock": self.clock})

    async def run(self, *args: str) -> Result:
        """The same from a test that serves gRPC meanwhile: the command runs on a thread."""
        return await asyncio.to_thread(self, *args)


@pytest.fixture
def ops_command(settings: Settings, clock: TestClock, tmp_path: Path) -> OpsCommand:
    keys = tmp_path / "ops-keys.json"
    keys.write_text(json.dumps(settings.pii_keys.to_json()))
    env = {"INTEGRITY_DATABASE_URL": settings.database_url, "INTEGRITY_KEYS_FILE": str(keys)}
    return OpsCommand(env, clock)


@pytest.fixture
async def app(settings: Settings, clock: TestClock) -> AsyncIterator[Application]:
    application = await bootstrap(settings, clock=clock)
    await _clean(application)
    yield application
    await application.close()


@dataclass
class RunningServer:
    app: Application
    port: int
    # A platform caller's credential ("test-platform"), with the platform's default scopes.
    token: str

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serving(app: Application) -> AsyncIterator[RunningServer]:
    """The application served over gRPC on loopback, with a platform caller's credential."""
    _caller, token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "test platform", platform="test-platform"
    )
    grpc_server, _health = build_server(app)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    try:
        yield RunningServer(app, port, token)
    finally:
        await grpc_server.stop(None)


@pytest.fixture
async def server(app: Application, log_stream: io.StringIO) -> AsyncIterator[RunningServer]:
    async with serving(app) as running:
        yield running


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[AsyncIntegrityClient]:
    async with AsyncIntegrityClient(server.target, token=server.token, timeout=15) as integrity:
        yield integrity


class _Credential(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds a caller's credential to every call on a raw channel."""

    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        details = details._replace(metadata=tuple(details.metadata or ()) + self._metadata)
        return await continuation(details, request)


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    """A raw channel carrying the platform's credential, for requests clients would not send."""
    async with grpc.aio.insecure_channel(
        server.target, interceptors=[_Credential(server.token)]
    ) as raw:
        yield raw
