"""The blocking client against the real server, from a worker thread."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from integrity.v1 import verification_pb2

from clients import IntegrityCallError, IntegrityClient
from service.bootstrap import Application
from tests.builders import import_rows, registry_row, verification_for
from tests.conftest import RunningServer


async def test_sync_client_wraps_every_call(app: Application, server: RunningServer) -> None:
    row = registry_row()
    await import_rows(app, [row])

    def scenario() -> None:
        with IntegrityClient(server.target, token=server.token) as client:
            request_id = str(uuid.uuid4())
            submission = verification_for(row)
            created = client.create_verification(submission, request_id=request_id)
            assert created.outcome == verification_pb2.VERIFICATION_OUTCOME_VERIFIED
            assert client.create_verification(submission, request_id=request_id) == created
            assert client.get_verification(created.name) == created
            assert [v.name for v in client.iter_verifications(row["uscc"], page_size=1)] == [
                created.name
            ]
            with pytest.raises(IntegrityCallError) as caught:
                client.get_verification("nonsense")
            assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert caught.value.field_violations[0].field == "name"
            assert caught.value.request_id

    await asyncio.to_thread(scenario)
