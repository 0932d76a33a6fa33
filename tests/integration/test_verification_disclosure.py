"""Verification answers shown to a platform are disclosures: each is in the ledger first."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import grpc
import pytest
from integrity.v1 import archive_pb2, disclosure_pb2
from sqlalchemy import text

from clients import AsyncIntegrityClient, IntegrityCallError
from service.bootstrap import Application
from service.domain.callers import CallerKind
from tests.builders import import_rows, registry_row, verification_for
from tests.conftest import RunningServer
from tests.integration.test_ledger_isolation import ops_verify

A = archive_pb2
WITH_RECORD = [
    "public.identity",
    "public.legal_representative",
    "public.status",
    "verification.field_checks",
    "verification.outcome",
]
WITHOUT_RECORD = [
    "public.legal_representative",
    "verification.field_checks",
    "verification.outcome",
]


async def merchant_sees(server: RunningServer, uscc: str) -> list[disclosure_pb2.Disclosure]:
    _gateway, token = await server.app.credentials.create_caller(CallerKind.GATEWAY, "gw")
    async with AsyncIntegrityClient(
        server.target, token=token, on_behalf_of=f"merchant:{uscc}:owner"
    ) as merchant:
        page = await merchant.list_disclosures(uscc, page_size=100)
    return list(page.disclosures)


async def test_each_verification_answer_is_recorded_and_the_merchant_sees_it(
    app: Application, server: RunningServer, client: AsyncIntegrityClient, tmp_path: Path
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    uscc = str(row["uscc"])
    created = await client.create_verification(verification_for(row))
    await client.get_verification(created.name)
    listed = await client.list_verifications(uscc)
    assert [v.name for v in listed.verifications] == [created.name]
    # Nothing of an enterprise with no verifications by this caller is shown: no entry.
    unknown = str(registry_row()["uscc"])
    assert list((await client.list_verifications(unknown)).verifications) == []

    shown = await merchant_sees(server, uscc)
    assert [(d.recipient, d.tier, d.purpose, d.scenario) for d in shown] == [
        ("test platform", A.VIEWER_TIER_PLATFORM, "identity_verification", "list_verifications"),
        ("test platform", A.VIEWER_TIER_PLATFORM, "identity_verification", "get_verification"),
        ("test platform", A.VIEWER_TIER_PLATFORM, "identity_verification", "create_verification"),
    ]
    assert all(list(d.fields) == WITH_RECORD for d in shown)
    assert await app.ledger.list_for_subject(unknown, 10, None) == []
    assert "ledger intact: 3 entries" in await asyncio.to_thread(ops_verify, app, tmp_path)


async def test_an_answer_without_a_registry_record_discloses_no_registry_fields(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    row = registry_row()  # not imported: the registry has not published it yet
    pending = await client.create_verification(verification_for(row))
    assert not pending.HasField("registry_record")
    [entry] = await app.ledger.list_for_subject(str(row["uscc"]), 10, None)
    assert list(entry.entry.fields) == WITHOUT_RECORD
    assert entry.entry.recipient_kind == "platform"


async def test_ops_reads_of_verifications_are_recorded_as_ops(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    created = await client.create_verification(verification_for(row))
    _ops, token = await app.credentials.create_caller(CallerKind.OPS, "ops desk")
    async with AsyncIntegrityClient(server.target, token=token) as ops:
        await ops.get_verification(created.name)
        await ops.list_verifications(str(row["uscc"]))
    shown = await merchant_sees(server, str(row["uscc"]))
    assert [(d.recipient, d.tier, d.scenario) for d in shown[:2]] == [
        ("ops desk", A.VIEWER_TIER_OPS, "list_verifications"),
        ("ops desk", A.VIEWER_TIER_OPS, "get_verification"),
    ]


async def test_an_answer_the_ledger_cannot_record_is_not_shown_and_a_retry_is(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    request_id, submitted = str(uuid.uuid4()), verification_for(row)
    async with app.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE disclosure_ledger RENAME TO ledger_away"))
    try:
        for call in (
            client.create_verification(submitted, request_id=request_id),
            client.list_verifications(str(row["uscc"])),
        ):
            with pytest.raises(IntegrityCallError) as caught:
                await call
            assert caught.value.code == grpc.StatusCode.UNAVAILABLE
            assert caught.value.reason == "LEDGER_UNAVAILABLE"
    finally:
        async with app.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE ledger_away RENAME TO disclosure_ledger"))
    # The verification was made; the retry with the same request id shows it, recorded.
    retried = await client.create_verification(submitted, request_id=request_id)
    [entry] = await app.ledger.list_for_subject(str(row["uscc"]), 10, None)
    assert entry.entry.scenario == "create_verification"
    assert retried.request_id == request_id
