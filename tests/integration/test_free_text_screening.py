"""Free text platforms fill never carries ID or phone numbers: refused by field, never echoed."""

from __future__ import annotations

import io

import grpc
import pytest
from google.protobuf import text_format
from integrity.v1 import archive_pb2, platform_data_pb2

from clients import AsyncIntegrityClient, IntegrityCallError
from service.bootstrap import Application
from tests.builders import import_rows, new_id_number, new_uscc, registry_row, verification_for
from tests.conftest import RunningServer
from tests.integration.test_platform_ingestion import day, good_batch, ops_view, store

P = platform_data_pb2
A = archive_pb2
PHONE = "139-1234-5678"  # "+" is not allowed in a description anyway
REASON = "PERSONAL_DATA_IN_FREE_TEXT"


def conduct(event: str, uscc: str, description: str) -> P.PlatformRecord:
    return P.PlatformRecord(
        event_id=event,
        uscc=uscc,
        conduct=A.ConductRecord(
            record_id=f"R-{event}",
            kind=A.CONDUCT_KIND_COMPLAINT,
            severity=A.SEVERITY_MINOR,
            date=day("2026-03-03"),
            rule="虚假发货",
            description=description,
        ),
    )


async def test_records_carrying_personal_data_are_rejected_at_their_index(
    app: Application,
    server: RunningServer,
    client: AsyncIntegrityClient,
    log_stream: io.StringIO,
) -> None:
    uscc = new_uscc()
    id_number = new_id_number()
    full_width_id = "".join(chr(ord(c) + 0xFEE0) for c in id_number)
    categorised = store("e-cat", uscc, store_id="S2")
    categorised.store.main_categories.append(f"代购{full_width_id}")
    batch = [
        *good_batch(uscc),
        conduct("e-phone", uscc, f"买家电话{PHONE}投诉延迟发货"),
        categorised,
        conduct("e-order", uscc, "订单号 202611011234567890，金额 13,800.00 元"),
    ]
    response = await client.ingest_platform_records("test-platform", batch)

    assert (response.accepted, response.rejected) == (6, 2)
    rejected = {r.index: r for r in response.results if r.outcome == P.RECORD_OUTCOME_REJECTED}
    assert set(rejected) == {5, 6}
    assert [(v.field, v.reason) for v in rejected[5].violations] == [
        ("conduct.description", REASON)
    ]
    assert [(v.field, v.reason) for v in rejected[6].violations] == [
        ("store.main_categories[2]", REASON)
    ]
    shown = text_format.MessageToString(response, as_utf8=True)
    assert "1234-5678" not in shown and id_number not in shown and full_width_id not in shown

    archive = await ops_view(app, server, uscc)
    [platform] = archive.business_integrity.platforms
    assert sorted(r.record_id for r in platform.conduct_records) == ["C9", "R-e-order"]
    assert [s.store_id for s in platform.stores] == ["S1"]
    logs = log_stream.getvalue()
    assert "1234-5678" not in logs and id_number not in logs and full_width_id not in logs


async def test_a_verification_with_a_phone_number_in_free_text_is_refused(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    submission = verification_for(row)
    submission.authorization.evidence_reference = "consent/13912345678"
    submission.licence.registered_address = row["address"] + " 0571-88886666"
    with pytest.raises(IntegrityCallError) as caught:
        await client.create_verification(submission)
    error = caught.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted((v.field, v.reason) for v in error.field_violations) == [
        ("verification.authorization.evidence_reference", REASON),
        ("verification.licence.registered_address", REASON),
    ]
    assert "13912345678" not in error.to_json() and "88886666" not in error.to_json()
    assert list((await client.list_verifications(row["uscc"])).verifications) == []
