"""A bug or a broken database answers INTERNAL with a request id, and logs no data."""

from __future__ import annotations

import io
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from clients import AsyncIntegrityClient, IntegrityCallError
from service.bootstrap import bootstrap, build_server
from service.domain.callers import CallerKind
from service.settings import PiiKeys, Settings
from tests.builders import registry_row, verification_for
from tests.clock import TestClock


async def test_unexpected_failure_is_internal_and_quotable(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    settings = Settings(pii_keys=PiiKeys.generate(), database_url=f"sqlite:///{tmp_path / 'x.db'}")
    app = await bootstrap(settings, clock=TestClock())
    async with app.engine.begin() as connection:
        await connection.execute(text("DROP TABLE verifications"))
    _caller, token = await app.credentials.create_caller(CallerKind.PLATFORM, "p", platform="p")
    server, _health = build_server(app)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    row = registry_row()
    try:
        async with AsyncIntegrityClient(f"127.0.0.1:{port}", token=token) as client:
            with pytest.raises(IntegrityCallError) as caught:
                await client.create_verification(verification_for(row))
    finally:
        await server.stop(None)
        await app.close()
    error = caught.value
    assert error.code == grpc.StatusCode.INTERNAL
    assert error.reason == "INTERNAL"
    assert error.request_id and error.request_id in error.message
    logs = log_stream.getvalue()
    assert '"event": "unhandled_error"' in logs and '"error_type": "OperationalError"' in logs
    assert row["legal_representative"]["id_number"] not in logs
    assert "王小明" not in logs
