"""An unreachable registry gives PENDING, never a mismatch, and the service keeps serving."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator

import pytest
from integrity.v1 import verification_pb2

from clients import AsyncIntegrityClient
from service.bootstrap import Application, bootstrap, build_server
from service.domain.callers import CallerKind
from service.settings import Settings
from tests.builders import registry_row, verification_for
from tests.clock import TestClock

UNREACHABLE = [
    # A PostgreSQL that answers but has no such database.
    "postgresql://postgres@127.0.0.1:5432/integrity_no_such_database",
    # Nothing listens on this port.
    "postgresql://postgres@127.0.0.1:1/test",
]


@pytest.fixture(params=UNREACHABLE, ids=["no-database", "no-server"])
async def app_without_registry(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[Application]:
    configured = Settings(
        pii_keys=settings.pii_keys,
        database_url=settings.database_url,
        registry_url=request.param,
        registry_timeout_seconds=5,
    )
    application = await bootstrap(configured, clock=TestClock())
    yield application
    await application.close()


async def test_unreachable_registry_is_pending(
    app_without_registry: Application, log_stream: io.StringIO
) -> None:
    _caller, token = await app_without_registry.credentials.create_caller(
        CallerKind.PLATFORM, "p", platform=f"p-{uuid.uuid4().hex[:8]}"
    )
    server, _health = build_server(app_without_registry)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with AsyncIntegrityClient(f"127.0.0.1:{port}", token=token) as client:
            row = registry_row()
            result = await client.create_verification(verification_for(row))
            assert result.outcome == verification_pb2.VERIFICATION_OUTCOME_PENDING
            assert [r.code for r in result.reasons] == [
                verification_pb2.VERIFICATION_REASON_CODE_REGISTRY_UNAVAILABLE
            ]
            # The PENDING verification is kept and can be read back.
            assert (await client.get_verification(result.name)) == result
    finally:
        await server.stop(None)
    assert '"event": "registry_unavailable"' in log_stream.getvalue()
