"""Every call gets a request id, returned in its trailers and written on its access-log line."""

from __future__ import annotations

import io
import json
from typing import Any

import grpc
import pytest
import structlog
from integrity.v1 import verification_pb2, verification_pb2_grpc

from clients.aio import parent_of
from tests.builders import registry_row
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
