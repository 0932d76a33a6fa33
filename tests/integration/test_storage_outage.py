"""When the database goes away, every RPC answers UNAVAILABLE with a retry delay, never
INTERNAL, and the server keeps running (real gRPC, a real PostgreSQL database dropped
under a running server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from integrity.v1 import (
    archive_pb2,
    disclosure_pb2,
    eligibility_pb2,
    platform_data_pb2,
    verification_pb2,
)

from service.bootstrap import Application, bootstrap, build_server
from service.domain.callers import CallerKind
from service.settings import PiiKeys, Settings
from tests.builders import import_rows, registry_row, verification_for
from tests.clock import TestClock
from tests.conftest import PG_ADMIN_DSN, _admin, drop_database
from tests.rpc_details import detail_of


@pytest.fixture
async def doomed() -> AsyncIterator[tuple[str, str]]:
    name = f"integrity_outage_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    yield name, f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    await drop_database(name)


def _retry_delay(error: grpc.aio.AioRpcError) -> float | None:
    info = detail_of(error, error_details_pb2.RetryInfo)
    return None if info is None else info.retry_delay.ToTimedelta().total_seconds()


async def test_every_rpc_is_unavailable_with_a_retry_delay_when_the_database_is_gone(
    doomed: tuple[str, str],
) -> None:
    name, url = doomed
    clock = TestClock()
    app: Application = await bootstrap(
        Settings(pii_keys=PiiKeys.generate(), database_url=url), clock=clock
    )
    row = registry_row()
    await import_rows(app, [row])
    uscc = str(row["uscc"])
    _p, platform = await app.credentials.create_caller(CallerKind.PLATFORM, "p", platform="p")
    _g, gateway = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    server, _health = build_server(app)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    as_platform = (("authorization", f"Bearer {platform}"),)
    as_merchant = (("authorization", f"Bearer {gateway}"), ("x-on-behalf-of", f"merchant:{uscc}:u"))
    calls: list[tuple[str, Any, Any]] = [
        ("VerificationService/CreateVerification", verification_pb2.CreateVerificationRequest(parent=f"enterprises/{uscc}", verification=verification_for(row), request_id=str(uuid.uuid4())), as_platform),
        ("VerificationService/GetVerification", verification_pb2.GetVerificationRequest(name=f"enterprises/{uscc}/verifications/{uuid.uuid4()}"), as_platform),
        ("VerificationService/ListVerifications", verification_pb2.ListVerificationsRequest(parent=f"enterprises/{uscc}"), as_platform),
        ("ArchiveService/GetArchive", archive_pb2.GetArchiveRequest(name=f"enterprises/{uscc}/archive"), as_merchant),
        ("ArchiveService/LookupArchive", archive_pb2.LookupArchiveRequest(registered_name=str(row["name"])), as_merchant),
        ("DisclosureService/ListDisclosures", disclosure_pb2.ListDisclosuresRequest(parent=f"enterprises/{uscc}"), as_merchant),
        ("PlatformDataService/IngestPlatformRecords", platform_data_pb2.IngestPlatformRecordsRequest(platform="platforms/p", records=[platform_data_pb2.PlatformRecord(event_id="e1", uscc=uscc, membership=platform_data_pb2.Membership())]), as_platform),
        ("EligibilityService/CheckEligibility", eligibility_pb2.CheckEligibilityRequest(uscc=uscc, policy="store_opening"), as_platform),
    ]  # fmt: skip
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await _admin(f'DROP DATABASE "{name}" WITH (FORCE)')
            # Both with the credentials still cached and once the cache has let them go.
            for _round in range(2):
                for method, request, metadata in calls:
                    call = channel.unary_unary(
                        f"/integrity.v1.{method}",
                        request_serializer=lambda m: m.SerializeToString(),
                    )
                    with pytest.raises(grpc.aio.AioRpcError) as caught:
                        await asyncio.wait_for(call(request, metadata=metadata), 30)
                    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, (
                        method,
                        caught.value.code(),
                        caught.value.details(),
                    )
                    delay = _retry_delay(caught.value)
                    assert delay is not None and delay > 0, method
                clock.advance(__import__("datetime").timedelta(minutes=1))
    finally:
        await server.stop(None)
        await app.close()
