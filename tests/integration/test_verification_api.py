"""Identity authentication over real gRPC on loopback, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import grpc
import pytest
from integrity.v1 import licence_pb2, verification_pb2
from sqlalchemy import func, select

from clients import AsyncIntegrityClient, IntegrityCallError
from service.adapters.storage.tables import verifications
from service.bootstrap import Application
from tests.builders import import_rows, registry_row, verification_for

V = verification_pb2
MATCH = V.FIELD_CHECK_RESULT_MATCH
MISMATCH = V.FIELD_CHECK_RESULT_MISMATCH
NOT_AVAILABLE = V.FIELD_CHECK_RESULT_NOT_AVAILABLE


def reason_codes(verification: verification_pb2.Verification) -> set[str]:
    return {V.VerificationReasonCode.Name(r.code) for r in verification.reasons}


def checks(verification: verification_pb2.Verification) -> dict[str, int]:
    return {c.field: c.result for c in verification.field_checks}


async def stored_count(app: Application) -> int:
    async with app.engine.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(verifications))).scalar_one()
        )


async def test_verified_with_every_field_matching(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    result = await client.create_verification(verification_for(row))
    assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED
    assert list(result.reasons) == []
    assert set(checks(result).values()) == {MATCH}
    assert result.name.startswith(f"enterprises/{row['uscc']}/verifications/")
    assert result.registry_record.enterprise_name == row["name"]
    assert result.registry_record.status == licence_pb2.REGISTRATION_STATUS_IN_BUSINESS
    assert result.registry_record.snapshot_time.ToDatetime(tzinfo=dt.UTC) == dt.datetime(
        2026, 11, 1, tzinfo=dt.UTC
    )
    assert result.create_time.seconds > 0


async def test_names_match_across_bracket_and_space_widths(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row(name="杭州云启网络科技有限公司（西湖分公司）")
    await import_rows(app, [row])
    result = await client.create_verification(
        verification_for(row, name="杭州云启网络科技有限公司 (西湖分公司)")
    )
    assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED
    assert checks(result)["licence.enterprise_name"] == MATCH


@pytest.mark.parametrize(
    ("overrides", "submitted", "expected"),
    [
        ({}, {"name": "杭州别的公司有限公司"}, "VERIFICATION_REASON_CODE_NAME_MISMATCH"),
        ({}, {"rep_name": "李四"}, "VERIFICATION_REASON_CODE_LEGAL_REPRESENTATIVE_NAME_MISMATCH"),
        (
            {},
            {"rep_id": "11010519491231002X"},
            "VERIFICATION_REASON_CODE_LEGAL_REPRESENTATIVE_ID_MISMATCH",
        ),
        ({"term_end": "2024-01-01"}, {}, "VERIFICATION_REASON_CODE_LICENCE_EXPIRED"),
        (
            {"term_start": "2099-01-01", "term_end": "2119-01-01"},
            {},
            "VERIFICATION_REASON_CODE_LICENCE_NOT_YET_VALID",
        ),
        ({"status": "注销"}, {}, "VERIFICATION_REASON_CODE_DEREGISTERED"),
        ({"status": "吊销，未注销"}, {}, "VERIFICATION_REASON_CODE_REVOKED"),
        ({"status": "withdrawn"}, {}, "VERIFICATION_REASON_CODE_REGISTRATION_WITHDRAWN"),
        ({"status": "suspended"}, {}, "VERIFICATION_REASON_CODE_BUSINESS_SUSPENDED"),
        ({"status": "in_liquidation"}, {}, "VERIFICATION_REASON_CODE_IN_LIQUIDATION"),
        ({"status": "being_established"}, {}, "VERIFICATION_REASON_CODE_NOT_YET_ESTABLISHED"),
    ],
)
async def test_each_rejection_reason(
    app: Application,
    client: AsyncIntegrityClient,
    overrides: dict[str, object],
    submitted: dict[str, str],
    expected: str,
) -> None:
    row = registry_row(**overrides)
    report = await import_rows(app, [row])
    assert report.rejected == []
    result = await client.create_verification(verification_for(row, **submitted))
    assert result.outcome == V.VERIFICATION_OUTCOME_REJECTED
    assert reason_codes(result) == {expected}


async def test_all_reasons_are_listed_together(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row(status="revoked", term_end="2023-12-31")
    await import_rows(app, [row])
    result = await client.create_verification(verification_for(row, rep_name="李四"))
    assert reason_codes(result) == {
        "VERIFICATION_REASON_CODE_REVOKED",
        "VERIFICATION_REASON_CODE_LICENCE_EXPIRED",
        "VERIFICATION_REASON_CODE_LEGAL_REPRESENTATIVE_NAME_MISMATCH",
    }


@pytest.mark.parametrize(
    ("division", "expected"),
    [
        ("810000", "VERIFICATION_REASON_CODE_OUT_OF_SCOPE_REGION"),
        ("820000", "VERIFICATION_REASON_CODE_OUT_OF_SCOPE_REGION"),
        ("710000", "VERIFICATION_REASON_CODE_OUT_OF_SCOPE_REGION"),
    ],
)
async def test_hong_kong_macao_taiwan_are_out_of_scope(
    client: AsyncIntegrityClient, division: str, expected: str
) -> None:
    from tests.builders import new_uscc

    row = registry_row(uscc=new_uscc(division=division))
    result = await client.create_verification(verification_for(row))
    assert result.outcome == V.VERIFICATION_OUTCOME_REJECTED
    assert reason_codes(result) == {expected}


async def test_non_enterprise_code_is_refused_but_individual_business_is_in_scope(
    app: Application, client: AsyncIntegrityClient
) -> None:
    from tests.builders import new_uscc

    social_organisation = registry_row(uscc=new_uscc(authority="5", org_type="1"))
    result = await client.create_verification(verification_for(social_organisation))
    assert reason_codes(result) == {"VERIFICATION_REASON_CODE_NOT_AN_ENTERPRISE"}

    shop = registry_row(uscc=new_uscc(org_type="2"), enterprise_type="个体工商户")
    await import_rows(app, [shop])
    result = await client.create_verification(verification_for(shop))
    assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED


async def test_missing_record_is_pending_not_rejected(client: AsyncIntegrityClient) -> None:
    row = registry_row()  # never imported: the registry has not published it yet
    result = await client.create_verification(verification_for(row))
    assert result.outcome == V.VERIFICATION_OUTCOME_PENDING
    assert reason_codes(result) == {"VERIFICATION_REASON_CODE_REGISTRY_RECORD_NOT_FOUND"}
    assert set(checks(result).values()) == {NOT_AVAILABLE}
    assert not result.HasField("registry_record")


async def test_moved_out_record_is_pending(app: Application, client: AsyncIntegrityClient) -> None:
    row = registry_row(status="迁出")
    await import_rows(app, [row])
    result = await client.create_verification(verification_for(row))
    assert result.outcome == V.VERIFICATION_OUTCOME_PENDING
    assert reason_codes(result) == {"VERIFICATION_REASON_CODE_REGISTRY_RECORD_MOVED"}


async def test_registry_without_id_number_leaves_it_not_available(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row(legal_representative={"name": "王小明", "id_number": None})
    await import_rows(app, [row])
    result = await client.create_verification(verification_for(row))
    assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED
    assert checks(result)["licence.legal_representative.id_number"] == NOT_AVAILABLE


async def test_address_difference_is_reported_but_does_not_reject(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    result = await client.create_verification(
        verification_for(row, address="浙江省杭州市滨江区江南大道1号")
    )
    assert result.outcome == V.VERIFICATION_OUTCOME_VERIFIED
    assert checks(result)["licence.registered_address"] == MISMATCH


async def test_retry_with_same_request_id_returns_the_same_verification(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    request_id = str(uuid.uuid4())
    submission = verification_for(row)
    first = await client.create_verification(submission, request_id=request_id)
    second = await client.create_verification(submission, request_id=request_id)
    assert second == first
    assert await stored_count(app) == 1


async def test_concurrent_retries_create_one_verification(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    request_id = str(uuid.uuid4())
    submission = verification_for(row)
    results = await asyncio.gather(
        *(client.create_verification(submission, request_id=request_id) for _ in range(8))
    )
    assert len({r.name for r in results}) == 1
    assert await stored_count(app) == 1


async def test_reused_request_id_with_other_content_is_refused(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    request_id = str(uuid.uuid4())
    await client.create_verification(verification_for(row), request_id=request_id)
    with pytest.raises(IntegrityCallError) as caught:
        await client.create_verification(
            verification_for(row, rep_name="李四"), request_id=request_id
        )
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert caught.value.reason == "REQUEST_ID_REUSED"
    assert await stored_count(app) == 1


async def test_get_and_list_with_paging(app: Application, client: AsyncIntegrityClient) -> None:
    row = registry_row()
    await import_rows(app, [row])
    created = [await client.create_verification(verification_for(row)) for _ in range(5)]
    fetched = await client.get_verification(created[2].name)
    assert fetched == created[2]

    first = await client.list_verifications(row["uscc"], page_size=2)
    assert len(first.verifications) == 2 and first.next_page_token
    everything = [v.name async for v in client.iter_verifications(row["uscc"], page_size=2)]
    assert everything == [v.name for v in reversed(created)]

    other = registry_row()
    with pytest.raises(IntegrityCallError) as caught:
        await client.list_verifications(other["uscc"], page_token=first.next_page_token)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.field_violations[0].field == "page_token"


async def test_get_unknown_verification_is_not_found(client: AsyncIntegrityClient) -> None:
    row = registry_row()
    with pytest.raises(IntegrityCallError) as caught:
        await client.get_verification(f"enterprises/{row['uscc']}/verifications/{uuid.uuid4()}")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND


async def test_missing_authorisation_is_refused_and_nothing_written(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    submission = verification_for(row)
    submission.ClearField("authorization")
    with pytest.raises(IntegrityCallError) as caught:
        await client.create_verification(submission)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.reason for v in caught.value.field_violations] == ["AUTHORIZATION_REQUIRED"]
    assert await stored_count(app) == 0


async def test_authorisation_without_identity_scope_is_refused(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    submission = verification_for(row, scopes=[V.AUTHORIZATION_SCOPE_ARCHIVE])
    with pytest.raises(IntegrityCallError) as caught:
        await client.create_verification(submission)
    assert {v.reason for v in caught.value.field_violations} == {"AUTHORIZATION_SCOPE_MISSING"}
    assert await stored_count(app) == 0
