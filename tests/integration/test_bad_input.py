"""Bad input on every field: INVALID_ARGUMENT naming each bad field, and nothing written."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import grpc
import pytest
from google.rpc import error_details_pb2
from google.type import date_pb2
from integrity.v1 import verification_pb2, verification_pb2_grpc

from service.bootstrap import Application
from tests.builders import import_rows, registry_row, verification_for
from tests.clock import TEST_EPOCH
from tests.integration.test_verification_api import stored_count
from tests.rpc_details import detail_of

Request = verification_pb2.CreateVerificationRequest
Mutation = Callable[[Request], None]

INJECTION = "'; DROP TABLE verifications;--"
EMOJI = "杭州\U0001f600科技有限公司"  # outside the BMP and not a letter
RARE_BUT_REAL = "\U00020bb7"  # 𠮷, CJK Extension B: a real character in real names


def _set(path: str, value: object) -> Mutation:
    def mutate(request: Request) -> None:
        *parents, leaf = path.split(".")
        message = request
        for part in parents:
            message = getattr(message, part)
        setattr(message, leaf, value)

    return mutate


def _clear(path: str) -> Mutation:
    def mutate(request: Request) -> None:
        *parents, leaf = path.split(".")
        message = request
        for part in parents:
            message = getattr(message, part)
        message.ClearField(leaf)

    return mutate


def _future_grant(request: Request) -> None:
    request.verification.authorization.grant_time.FromDatetime(
        TEST_EPOCH + dt.timedelta(days=2)  # no test clock runs two days
    )


def _impossible_term_date(request: Request) -> None:
    request.verification.licence.term.start_date.CopyFrom(date_pb2.Date(year=2021, month=2, day=30))


def _end_before_start(request: Request) -> None:
    term = request.verification.licence.term
    term.open_ended = False
    term.start_date.CopyFrom(date_pb2.Date(year=2021, month=5, day=1))
    term.end_date.CopyFrom(date_pb2.Date(year=2020, month=5, day=1))


def _unknown_scope(request: Request) -> None:
    request.verification.authorization.scopes.append(99)  # type: ignore[arg-type]


LICENCE = "verification.licence"
REP = "verification.licence.legal_representative"
AUTH = "verification.authorization"

CASES: list[tuple[str, Mutation, str, str]] = [
    ("uscc empty", _set(f"{LICENCE}.uscc", ""), f"{LICENCE}.uscc", "USCC_REQUIRED"),
    ("uscc too long", _set(f"{LICENCE}.uscc", "9" * 19), f"{LICENCE}.uscc", "USCC_LENGTH"),
    (
        "uscc alphabet",
        _set(f"{LICENCE}.uscc", "91330106MA000001IO"),
        f"{LICENCE}.uscc",
        "USCC_ALPHABET",
    ),
    (
        "uscc lower case",
        _set(f"{LICENCE}.uscc", "91330106ma0000010x"),
        f"{LICENCE}.uscc",
        "USCC_ALPHABET",
    ),
    ("uscc check", None, f"{LICENCE}.uscc", "USCC_CHECK_CHARACTER"),  # type: ignore[list-item]
    (
        "uscc non-bmp",
        _set(f"{LICENCE}.uscc", "91330106\U0001f600MA000001X"),
        f"{LICENCE}.uscc",
        "USCC_ALPHABET",
    ),
    (
        "uscc injection",
        _set(f"{LICENCE}.uscc", "9' OR '1'='1'--123"),
        f"{LICENCE}.uscc",
        "USCC_ALPHABET",
    ),
    (
        "name empty",
        _set(f"{LICENCE}.enterprise_name", ""),
        f"{LICENCE}.enterprise_name",
        "TEXT_REQUIRED",
    ),
    (
        "name blank",
        _set(f"{LICENCE}.enterprise_name", " \u3000 "),
        f"{LICENCE}.enterprise_name",
        "TEXT_REQUIRED",
    ),
    (
        "name too long",
        _set(f"{LICENCE}.enterprise_name", "公" * 151),
        f"{LICENCE}.enterprise_name",
        "TEXT_TOO_LONG",
    ),
    (
        "name injection",
        _set(f"{LICENCE}.enterprise_name", INJECTION),
        f"{LICENCE}.enterprise_name",
        "TEXT_CHARACTER_NOT_ALLOWED",
    ),
    (
        "name emoji",
        _set(f"{LICENCE}.enterprise_name", EMOJI),
        f"{LICENCE}.enterprise_name",
        "TEXT_CHARACTER_NOT_ALLOWED",
    ),
    (
        "name control",
        _set(f"{LICENCE}.enterprise_name", "杭州\u0000科技"),
        f"{LICENCE}.enterprise_name",
        "TEXT_CONTROL_CHARACTER",
    ),
    ("rep missing", _clear(f"{LICENCE}.legal_representative"), REP, "REQUIRED"),
    ("rep name empty", _set(f"{REP}.name", ""), f"{REP}.name", "TEXT_REQUIRED"),
    (
        "rep name html",
        _set(f"{REP}.name", "<script>alert(1)</script>"),
        f"{REP}.name",
        "TEXT_CHARACTER_NOT_ALLOWED",
    ),
    ("rep name too long", _set(f"{REP}.name", "王" * 61), f"{REP}.name", "TEXT_TOO_LONG"),
    ("id empty", _set(f"{REP}.id_number", ""), f"{REP}.id_number", "ID_NUMBER_REQUIRED"),
    ("id too long", _set(f"{REP}.id_number", "1" * 19), f"{REP}.id_number", "ID_NUMBER_LENGTH"),
    (
        "id letters",
        _set(f"{REP}.id_number", "11010519491231002A"),
        f"{REP}.id_number",
        "ID_NUMBER_FORMAT",
    ),
    (
        "id check digit",
        _set(f"{REP}.id_number", "110105194912310021"),
        f"{REP}.id_number",
        "ID_NUMBER_CHECK_DIGIT",
    ),
    (
        "id birth date",
        _set(f"{REP}.id_number", "110105199902300011"),
        f"{REP}.id_number",
        "ID_NUMBER_BIRTH_DATE",
    ),
    (
        "id non-bmp",
        _set(f"{REP}.id_number", "11010519491231\U0001f600X"),
        f"{REP}.id_number",
        "ID_NUMBER_LENGTH",
    ),
    (
        "address injection",
        _set(f"{LICENCE}.registered_address", INJECTION),
        f"{LICENCE}.registered_address",
        "TEXT_CHARACTER_NOT_ALLOWED",
    ),
    (
        "address too long",
        _set(f"{LICENCE}.registered_address", "路" * 301),
        f"{LICENCE}.registered_address",
        "TEXT_TOO_LONG",
    ),
    ("term impossible date", _impossible_term_date, f"{LICENCE}.term.start_date", "DATE_INVALID"),
    (
        "term end before start",
        _end_before_start,
        f"{LICENCE}.term.end_date",
        "TERM_END_BEFORE_START",
    ),
    (
        "auth missing",
        _clear("verification.authorization"),
        "verification.authorization",
        "AUTHORIZATION_REQUIRED",
    ),
    ("granted_by empty", _set(f"{AUTH}.granted_by", ""), f"{AUTH}.granted_by", "TEXT_REQUIRED"),
    ("grant time missing", _clear(f"{AUTH}.grant_time"), f"{AUTH}.grant_time", "REQUIRED"),
    ("grant time future", _future_grant, f"{AUTH}.grant_time", "GRANT_TIME_FUTURE"),
    ("scope unknown", _unknown_scope, f"{AUTH}.scopes[3]", "ENUM_VALUE_UNKNOWN"),
    (
        "evidence injection",
        _set(f"{AUTH}.evidence_reference", INJECTION),
        f"{AUTH}.evidence_reference",
        "TEXT_CHARACTER_NOT_ALLOWED",
    ),
    ("request id empty", _set("request_id", ""), "request_id", "REQUEST_ID_INVALID"),
    ("request id not uuid", _set("request_id", INJECTION), "request_id", "REQUEST_ID_INVALID"),
    ("parent malformed", _set("parent", "companies/x"), "parent", "RESOURCE_NAME_INVALID"),
]


def _bad_check_character(request: Request) -> None:
    uscc = request.verification.licence.uscc
    last = "0" if uscc[-1] != "0" else "1"
    request.verification.licence.uscc = uscc[:-1] + last


CASES[4] = ("uscc check", _bad_check_character, f"{LICENCE}.uscc", "USCC_CHECK_CHARACTER")


def violations_of(error: grpc.aio.AioRpcError) -> list[error_details_pb2.BadRequest.FieldViolation]:
    bad = detail_of(error, error_details_pb2.BadRequest)
    return [] if bad is None else list(bad.field_violations)


def valid_request(row: dict[str, object]) -> Request:
    verification = verification_for(row)
    return Request(
        parent=f"enterprises/{row['uscc']}",
        verification=verification,
        request_id=str(uuid.uuid4()),
    )


@pytest.mark.parametrize(("label", "mutate", "field", "reason"), CASES, ids=[c[0] for c in CASES])
async def test_bad_field_is_named_and_nothing_is_written(
    app: Application,
    channel: grpc.aio.Channel,
    label: str,
    mutate: Mutation,
    field: str,
    reason: str,
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    request = valid_request(row)
    mutate(request)
    stub = verification_pb2_grpc.VerificationServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateVerification(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = {(v.field, v.reason) for v in violations_of(caught.value)}
    assert (field, reason) in found, found
    for violation in violations_of(caught.value):
        assert violation.description, "every violation says why"
    assert await stored_count(app) == 0


async def test_every_bad_field_is_reported_at_once(
    app: Application, channel: grpc.aio.Channel
) -> None:
    row = registry_row()
    request = valid_request(row)
    request.verification.licence.uscc = "bad"
    request.verification.licence.enterprise_name = INJECTION
    request.verification.licence.legal_representative.id_number = "123"
    request.verification.authorization.ClearField("grant_time")
    request.request_id = "nope"
    stub = verification_pb2_grpc.VerificationServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateVerification(request)
    fields = {v.field for v in violations_of(caught.value)}
    assert fields >= {
        f"{LICENCE}.uscc",
        f"{LICENCE}.enterprise_name",
        f"{REP}.id_number",
        f"{AUTH}.grant_time",
        "request_id",
    }
    assert await stored_count(app) == 0


async def test_parent_must_name_the_licence_enterprise(
    app: Application, channel: grpc.aio.Channel
) -> None:
    row, other = registry_row(), registry_row()
    request = valid_request(row)
    request.parent = f"enterprises/{other['uscc']}"
    stub = verification_pb2_grpc.VerificationServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateVerification(request)
    assert ("parent", "PARENT_MISMATCH") in {
        (v.field, v.reason) for v in violations_of(caught.value)
    }


async def test_rare_characters_outside_the_bmp_are_accepted_in_person_names(
    app: Application, channel: grpc.aio.Channel
) -> None:
    row = registry_row(legal_representative={"name": f"{RARE_BUT_REAL}小明", "id_number": None})
    await import_rows(app, [row])
    request = valid_request(row)
    stub = verification_pb2_grpc.VerificationServiceStub(channel)
    response = await stub.CreateVerification(request)
    assert response.verification.outcome == verification_pb2.VERIFICATION_OUTCOME_VERIFIED


@pytest.mark.parametrize(
    ("name", "reason"),
    [("enterprises/X/verifications/1", "RESOURCE_NAME_INVALID"), ("", "RESOURCE_NAME_INVALID")],
)
async def test_bad_resource_names_on_get(channel: grpc.aio.Channel, name: str, reason: str) -> None:
    stub = verification_pb2_grpc.VerificationServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetVerification(verification_pb2.GetVerificationRequest(name=name))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.reason) for v in violations_of(caught.value)] == [("name", reason)]


@pytest.mark.parametrize(
    ("page_size", "page_token", "field"),
    [(-1, "", "page_size"), (10, "not-a-token", "page_token"), (10, "\U0001f600", "page_token")],
)
async def test_bad_paging_on_list(
    channel: grpc.aio.Channel, page_size: int, page_token: str, field: str
) -> None:
    row = registry_row()
    stub = verification_pb2_grpc.VerificationServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListVerifications(
            verification_pb2.ListVerificationsRequest(
                parent=f"enterprises/{row['uscc']}", page_size=page_size, page_token=page_token
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in violations_of(caught.value)] == [field]
