"""Every call gets a request id, returned in its trailers and written on its access-log line."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
import structlog
from integrity.v1 import verification_pb2, verification_pb2_grpc

from clients import AsyncIntegrityClient, IntegrityCallError
from clients.aio import parent_of
from service.adapters.storage.engine import sqlite_write_slot
from service.adapters.storage.ledger_append import PG_LEDGER_LOCK
from service.domain.callers import CallerKind
from tests.builders import import_rows, registry_row
from tests.conftest import RunningServer

LIST = "/integrity.v1.VerificationService/ListVerifications"


def access_lines(log_stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == "rpc"]


def request(uscc: str) -> verification_pb2.ListVerificationsRequest:
    return verification_pb2.ListVerificationsRequest(parent=parent_of(uscc))


async def test_the_callers_request_id_is_echoed_and_logged_with_the_caller(
    server: RunningServer, channel: grpc.aio.Channel, log_stream: io.StringIO
) -> None:
    stub = verification_pb2_grpc.VerificationServiceStub(channel)
    call = stub.ListVerifications(
        request(registry_row()["uscc"]), metadata=(("x-request-id", "order-42-abc"),)
    )
    await call
    assert ("x-request-id", "order-42-abc") in tuple(await call.trailing_metadata())
    (line,) = access_lines(log_stream)
    assert line["request_id"] == "order-42-abc"
    assert line["method"] == LIST and line["code"] == "OK"
    platform = next(
        c for c, _ in await server.app.credentials.list_callers() if c.kind.value == "platform"
    )
    assert line["caller"] == platform.id
    # The call's context ends with the call: a line logged here belongs to no call.
    structlog.get_logger("t").warning("after")
    after = json.loads(log_stream.getvalue().splitlines()[-1])
    assert "request_id" not in after and "caller" not in after


async def test_a_refused_call_has_a_fresh_request_id_in_trailers_and_log(
    server: RunningServer, log_stream: io.StringIO
) -> None:
    async with grpc.aio.insecure_channel(server.target) as anonymous:
        stub = verification_pb2_grpc.VerificationServiceStub(anonymous)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            # A malformed id is not echoed: the service makes its own.
            await stub.ListVerifications(
                request(registry_row()["uscc"]), metadata=(("x-request-id", "<script>"),)
            )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    trailers = dict(caught.value.trailing_metadata() or ())
    request_id = trailers["x-request-id"]
    assert len(request_id) == 32 and request_id.isalnum()
    (line,) = access_lines(log_stream)
    assert line["request_id"] == request_id
    assert line["code"] == "UNAUTHENTICATED" and "caller" not in line


@contextlib.asynccontextmanager
async def ledger_held(server: RunningServer) -> AsyncIterator[None]:
    """Hold the ledger's writers off, so a call that discloses cannot finish meanwhile."""
    engine = server.app.engine
    if engine.dialect.name == "sqlite":
        async with sqlite_write_slot(engine):
            yield
        return
    holder = await asyncpg.connect(
        engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        await holder.execute(f"SELECT pg_advisory_lock({PG_LEDGER_LOCK})")
        yield
    finally:
        await holder.close()


async def test_a_call_its_client_gave_up_on_is_logged_as_cancelled(
    server: RunningServer, log_stream: io.StringIO
) -> None:
    row = registry_row()
    await import_rows(server.app, [row])
    _gateway, token = await server.app.credentials.create_caller(CallerKind.GATEWAY, "gw")
    viewer = AsyncIntegrityClient(server.target, token=token, on_behalf_of="viewer:u1")
    async with viewer, ledger_held(server):
        with pytest.raises(IntegrityCallError) as caught:
            await viewer.get_archive(row["uscc"], timeout=0.5)
        assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        deadline = asyncio.get_running_loop().time() + 10
        while not access_lines(log_stream):  # the server notices the cancellation itself
            assert asyncio.get_running_loop().time() < deadline, "no access-log line"
            await asyncio.sleep(0.01)
    (line,) = access_lines(log_stream)
    assert line["code"] == "CANCELLED" and line["method"].endswith("/GetArchive")
