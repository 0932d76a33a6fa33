"""decide(): the verification rules, without I/O."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from service.domain.licence import LicenceTerm, RegistrationStatus
from service.domain.registry import RegistryRecord
from service.domain.sealed import PiiKind, SealedLegalRepresentative, SealedValue
from service.domain.verification import (
    F_REP_ID,
    FieldResult,
    LicenceSubmission,
    Outcome,
    ReasonCode,
    decide,
    decide_without_record,
)

TODAY = dt.date(2026, 11, 23)


def sealed(kind: PiiKind, value: str) -> SealedValue:
    return SealedValue(kind, b"ct", value.encode(), "*")


def rep(name: str = "王小明", id_number: str | None = "ID-1") -> SealedLegalRepresentative:
    return SealedLegalRepresentative(
        sealed(PiiKind.PERSON_NAME, name),
        None if id_number is None else sealed(PiiKind.ID_NUMBER, id_number),
    )


RECORD = RegistryRecord(
    uscc="91330106MA27XXXXXX",
    name="杭州云启网络科技有限公司（西湖分公司）",
    enterprise_type="有限责任公司",
    legal_representative=rep(),
    registered_capital=None,
    capital_currency="CNY",
    establishment_date=dt.date(2015, 3, 2),
    term=LicenceTerm(dt.date(2015, 3, 2), None, open_ended=True),
    registration_authority="杭州市西湖区市场监督管理局",
    approval_date=None,
    status=RegistrationStatus.IN_BUSINESS,
    address="浙江省杭州市西湖区文三路100号",
    business_scope="",
    shareholders=(),
    changes=(),
    snapshot_time=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
)
SUBMISSION = LicenceSubmission(
    uscc=RECORD.uscc,
    enterprise_name="杭州云启网络科技有限公司(西湖分公司)",
    legal_representative=rep(),
    registered_address=None,
    term=None,
)


def test_matching_submission_is_verified() -> None:
    decision = decide(SUBMISSION, RECORD, TODAY)
    assert decision.outcome is Outcome.VERIFIED and decision.reasons == ()
    assert decision.registry is not None and decision.registry.snapshot_time == RECORD.snapshot_time


def test_licence_ending_today_is_still_valid_and_yesterday_is_expired() -> None:
    today_end = dataclasses.replace(RECORD, term=LicenceTerm(None, TODAY, open_ended=False))
    assert decide(SUBMISSION, today_end, TODAY).outcome is Outcome.VERIFIED
    ended = dataclasses.replace(
        RECORD, term=LicenceTerm(None, TODAY - dt.timedelta(days=1), open_ended=False)
    )
    assert [r.code for r in decide(SUBMISSION, ended, TODAY).reasons] == [
        ReasonCode.LICENCE_EXPIRED
    ]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (RegistrationStatus.CANCELLED, ReasonCode.DEREGISTERED),
        (RegistrationStatus.REVOKED, ReasonCode.REVOKED),
        (RegistrationStatus.WITHDRAWN, ReasonCode.REGISTRATION_WITHDRAWN),
        (RegistrationStatus.SUSPENDED, ReasonCode.BUSINESS_SUSPENDED),
        (RegistrationStatus.IN_LIQUIDATION, ReasonCode.IN_LIQUIDATION),
        (RegistrationStatus.BEING_ESTABLISHED, ReasonCode.NOT_YET_ESTABLISHED),
        (RegistrationStatus.UNKNOWN, ReasonCode.STATUS_UNKNOWN),
    ],
)
def test_statuses_that_are_not_in_business_reject(
    status: RegistrationStatus, code: ReasonCode
) -> None:
    decision = decide(SUBMISSION, dataclasses.replace(RECORD, status=status), TODAY)
    assert decision.outcome is Outcome.REJECTED and [r.code for r in decision.reasons] == [code]


def test_moved_out_is_pending_with_the_record() -> None:
    decision = decide(
        SUBMISSION, dataclasses.replace(RECORD, status=RegistrationStatus.MOVED_OUT), TODAY
    )
    assert decision.outcome is Outcome.PENDING
    assert [r.code for r in decision.reasons] == [ReasonCode.REGISTRY_RECORD_MOVED]


def test_registry_without_id_number_compares_the_name_only() -> None:
    record = dataclasses.replace(RECORD, legal_representative=rep(id_number=None))
    decision = decide(SUBMISSION, record, TODAY)
    assert decision.outcome is Outcome.VERIFIED
    assert {c.field: c.result for c in decision.field_checks}[F_REP_ID] is FieldResult.NOT_AVAILABLE


def test_open_ended_against_dated_term_is_a_mismatch_but_not_a_rejection() -> None:
    submission = dataclasses.replace(
        SUBMISSION, term=LicenceTerm(dt.date(2015, 3, 2), dt.date(2035, 3, 1), open_ended=False)
    )
    decision = decide(submission, RECORD, TODAY)
    checks = {c.field: c.result for c in decision.field_checks}
    assert checks["licence.term.start_date"] is FieldResult.MATCH
    assert checks["licence.term.end_date"] is FieldResult.MISMATCH
    assert decision.outcome is Outcome.VERIFIED


def test_pending_without_record_marks_every_field_not_available() -> None:
    decision = decide_without_record(ReasonCode.REGISTRY_UNAVAILABLE)
    assert decision.outcome is Outcome.PENDING
    assert {c.result for c in decision.field_checks} == {FieldResult.NOT_AVAILABLE}
