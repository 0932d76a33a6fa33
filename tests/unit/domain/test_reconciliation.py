"""reconcile(): deciding from the registry and the data provider together, without I/O."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from service.domain.licence import LicenceTerm, RegistrationStatus
from service.domain.reconciliation import Missing, reconcile
from service.domain.registry import RegistryRecord
from service.domain.registry_sources import (
    ProviderRecord,
    ProviderVerdict,
    ProviderVerdicts,
    SourceKind,
)
from service.domain.sealed import PiiKind, SealedLegalRepresentative, SealedValue
from service.domain.verification import (
    F_ADDRESS,
    F_NAME,
    F_REP_ID,
    F_REP_NAME,
    F_STATUS,
    FieldCheck,
    FieldResult,
    LicenceSubmission,
    Outcome,
    ReasonCode,
)

TODAY = dt.date(2026, 11, 23)
GOV = SourceKind.GOVERNMENT_REGISTRY
PROVIDER = SourceKind.DATA_PROVIDER
GOV_TIME = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
PROVIDER_TIME = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
YES, NO, UNSURE = (
    ProviderVerdict.CONSISTENT,
    ProviderVerdict.INCONSISTENT,
    ProviderVerdict.CANNOT_TELL,
)


def sealed(kind: PiiKind, value: str) -> SealedValue:
    return SealedValue(kind, b"ct", value.encode(), "*")


RECORD = RegistryRecord(
    uscc="91330106MA27XXXXXX",
    name="杭州云启网络科技有限公司",
    enterprise_type="有限责任公司",
    # The government registry publishes no ID number.
    legal_representative=SealedLegalRepresentative(sealed(PiiKind.PERSON_NAME, "王小明"), None),
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
    snapshot_time=GOV_TIME,
)
SUBMISSION = LicenceSubmission(
    uscc=RECORD.uscc,
    enterprise_name="杭州云启网络科技有限公司",
    legal_representative=SealedLegalRepresentative(
        sealed(PiiKind.PERSON_NAME, "王小明"), sealed(PiiKind.ID_NUMBER, "ID-1")
    ),
    registered_address="浙江省杭州市西湖区文三路100号",
    term=LicenceTerm(dt.date(2015, 3, 2), None, open_ended=True),
)


def provider(
    *,
    name: ProviderVerdict = YES,
    rep_name: ProviderVerdict = YES,
    rep_id: ProviderVerdict = YES,
    id_number: str | None = None,
    **facts: object,
) -> ProviderRecord:
    values: dict[str, object] = {
        "uscc": RECORD.uscc,
        "enterprise_name": RECORD.name,
        "status": RegistrationStatus.IN_BUSINESS,
        "legal_rep_name": sealed(PiiKind.PERSON_NAME, "王小明"),
        "legal_rep_id_number": None if id_number is None else sealed(PiiKind.ID_NUMBER, id_number),
        "term": RECORD.term,
        "address": RECORD.address,
        "verdicts": ProviderVerdicts(name, rep_name, rep_id),
        "snapshot_time": PROVIDER_TIME,
    }
    values.update(facts)
    return ProviderRecord(**values)  # type: ignore[arg-type]


def check(decision_checks: tuple[FieldCheck, ...], field: str) -> FieldCheck:
    return next(c for c in decision_checks if c.field == field)


def codes(decision: object) -> list[tuple[ReasonCode, str]]:
    return [(r.code, r.field) for r in decision.reasons]  # type: ignore[attr-defined]


def test_gov_alone_names_its_source_and_snapshot_time_on_every_check() -> None:
    decision = reconcile(SUBMISSION, GOV, RECORD, None, TODAY)
    assert decision.outcome is Outcome.VERIFIED
    assert {(c.source, c.source_snapshot_time) for c in decision.field_checks} == {(GOV, GOV_TIME)}
    assert check(decision.field_checks, F_REP_ID).result is FieldResult.NOT_AVAILABLE


def test_the_provider_fills_the_id_number_the_registry_does_not_publish() -> None:
    decision = reconcile(SUBMISSION, GOV, RECORD, provider(id_number="ID-1"), TODAY)
    assert decision.outcome is Outcome.VERIFIED and decision.reasons == ()
    rep_id = check(decision.field_checks, F_REP_ID)
    assert (rep_id.result, rep_id.source, rep_id.source_snapshot_time) == (
        FieldResult.MATCH,
        PROVIDER,
        PROVIDER_TIME,
    )
    # Registration facts stay the registry's.
    assert check(decision.field_checks, F_NAME).source is GOV


def test_the_returned_id_number_beats_the_providers_verdict() -> None:
    # The provider says consistent, but the number it returns is another one.
    decision = reconcile(SUBMISSION, GOV, RECORD, provider(rep_id=YES, id_number="ID-2"), TODAY)
    assert decision.outcome is Outcome.REJECTED
    assert codes(decision) == [(ReasonCode.LEGAL_REPRESENTATIVE_ID_MISMATCH, F_REP_ID)]


def test_without_a_returned_number_the_verdict_decides_the_id() -> None:
    decision = reconcile(SUBMISSION, GOV, RECORD, provider(rep_id=NO), TODAY)
    assert decision.outcome is Outcome.REJECTED
    assert check(decision.field_checks, F_REP_ID).result is FieldResult.MISMATCH
    unknown = reconcile(SUBMISSION, GOV, RECORD, provider(rep_id=UNSURE), TODAY)
    assert unknown.outcome is Outcome.VERIFIED
    assert check(unknown.field_checks, F_REP_ID).result is FieldResult.NOT_AVAILABLE


def test_a_provider_mismatch_on_a_field_gov_matched_is_reported_not_rejected() -> None:
    decision = reconcile(SUBMISSION, GOV, RECORD, provider(name=NO), TODAY)
    assert decision.outcome is Outcome.VERIFIED
    name = check(decision.field_checks, F_NAME)
    assert (name.result, name.source) == (FieldResult.MATCH, GOV)
    assert (name.disagreeing_source, name.disagreeing_result) == (PROVIDER, FieldResult.MISMATCH)
    assert codes(decision) == [(ReasonCode.SOURCES_DISAGREE, F_NAME)]


def test_a_gov_mismatch_rejects_even_when_the_provider_matches() -> None:
    other = dataclasses.replace(SUBMISSION, enterprise_name="杭州别的公司")
    # The provider judges the name consistent (its own data is newer, say).
    decision = reconcile(other, GOV, RECORD, provider(name=YES), TODAY)
    assert decision.outcome is Outcome.REJECTED
    assert codes(decision) == [
        (ReasonCode.NAME_MISMATCH, F_NAME),
        (ReasonCode.SOURCES_DISAGREE, F_NAME),
    ]
    name = check(decision.field_checks, F_NAME)
    assert (name.result, name.disagreeing_result) == (FieldResult.MISMATCH, FieldResult.MATCH)


def test_an_id_mismatch_for_another_legal_representative_is_pending() -> None:
    # The provider names someone else, and its ID number is theirs: no evidence about the
    # legal representative the registry names.
    decision = reconcile(
        SUBMISSION,
        GOV,
        RECORD,
        provider(rep_name=NO, id_number="ID-9", legal_rep_name=sealed(PiiKind.PERSON_NAME, "李四")),
        TODAY,
    )
    assert decision.outcome is Outcome.PENDING
    assert codes(decision) == [(ReasonCode.SOURCES_DISAGREE, F_REP_NAME)]
    assert check(decision.field_checks, F_REP_ID).result is FieldResult.MISMATCH


def test_where_the_provider_cannot_tell_its_own_facts_are_compared() -> None:
    decision = reconcile(
        SUBMISSION, GOV, RECORD, provider(name=UNSURE, enterprise_name="完全不同的公司"), TODAY
    )
    assert check(decision.field_checks, F_NAME).disagreeing_result is FieldResult.MISMATCH


def test_address_disagreement_is_reported_and_never_rejects() -> None:
    decision = reconcile(SUBMISSION, GOV, RECORD, provider(address="上海市浦东新区"), TODAY)
    assert decision.outcome is Outcome.VERIFIED
    assert codes(decision) == [(ReasonCode.SOURCES_DISAGREE, F_ADDRESS)]


@pytest.mark.parametrize(
    ("registration", "reason"),
    [
        (Missing.UNAVAILABLE, ReasonCode.REGISTRY_UNAVAILABLE),
        (Missing.NO_RECORD, ReasonCode.REGISTRY_RECORD_NOT_FOUND),
    ],
)
def test_without_the_registry_the_provider_alone_decides_nothing_but_is_reported(
    registration: Missing, reason: ReasonCode
) -> None:
    decision = reconcile(SUBMISSION, GOV, registration, provider(id_number="ID-1"), TODAY)
    assert decision.outcome is Outcome.PENDING
    assert [r.code for r in decision.reasons] == [reason]
    assert decision.registry is None
    assert {c.source for c in decision.field_checks} == {PROVIDER}
    assert check(decision.field_checks, F_REP_ID).result is FieldResult.MATCH


def test_provider_unavailable_leaves_the_id_unchecked_and_pending() -> None:
    decision = reconcile(SUBMISSION, GOV, RECORD, Missing.UNAVAILABLE, TODAY)
    assert decision.outcome is Outcome.PENDING
    assert codes(decision) == [(ReasonCode.REGISTRY_UNAVAILABLE, F_REP_ID)]
    assert decision.registry is not None
    assert check(decision.field_checks, F_NAME).source is GOV


def test_provider_unavailable_does_not_save_a_registry_rejection() -> None:
    revoked = dataclasses.replace(RECORD, status=RegistrationStatus.REVOKED)
    decision = reconcile(SUBMISSION, GOV, revoked, Missing.UNAVAILABLE, TODAY)
    assert decision.outcome is Outcome.REJECTED
    assert codes(decision) == [(ReasonCode.REVOKED, "")]


def test_provider_without_the_enterprise_is_no_evidence() -> None:
    decision = reconcile(SUBMISSION, GOV, RECORD, Missing.NO_RECORD, TODAY)
    assert decision.outcome is Outcome.VERIFIED
    assert check(decision.field_checks, F_REP_ID).result is FieldResult.NOT_AVAILABLE


def test_a_snapshot_with_the_id_number_and_a_provider_that_disagrees() -> None:
    with_id = dataclasses.replace(
        RECORD,
        legal_representative=SealedLegalRepresentative(
            sealed(PiiKind.PERSON_NAME, "王小明"), sealed(PiiKind.ID_NUMBER, "ID-1")
        ),
    )
    snapshot = SourceKind.REGISTRY_SNAPSHOT
    decision = reconcile(SUBMISSION, snapshot, with_id, provider(id_number="ID-2"), TODAY)
    # The registration source matched the number: the provider's other one is reported.
    assert decision.outcome is Outcome.VERIFIED
    rep_id = check(decision.field_checks, F_REP_ID)
    assert (rep_id.result, rep_id.source, rep_id.disagreeing_source) == (
        FieldResult.MATCH,
        snapshot,
        PROVIDER,
    )


def test_moved_out_stays_pending_whatever_the_provider_says() -> None:
    moved = dataclasses.replace(RECORD, status=RegistrationStatus.MOVED_OUT)
    decision = reconcile(SUBMISSION, GOV, moved, provider(), TODAY)
    assert decision.outcome is Outcome.PENDING
    assert codes(decision) == [(ReasonCode.REGISTRY_RECORD_MOVED, "licence.uscc")]


def test_a_provider_saying_revoked_where_the_registry_says_in_business_is_reported() -> None:
    revoked = provider(status=RegistrationStatus.REVOKED)
    decision = reconcile(SUBMISSION, GOV, RECORD, revoked, TODAY)
    # The registry is authoritative for registration facts: still verified, with a note.
    assert decision.outcome is Outcome.VERIFIED
    assert codes(decision) == [(ReasonCode.SOURCES_DISAGREE, F_STATUS)]
    status = check(decision.field_checks, F_STATUS)
    assert (status.result, status.source, status.disagreeing_source, status.disagreeing_result) == (
        FieldResult.MATCH,
        GOV,
        PROVIDER,
        FieldResult.MISMATCH,
    )


def test_a_registry_saying_revoked_rejects_whatever_the_provider_says() -> None:
    revoked = dataclasses.replace(RECORD, status=RegistrationStatus.REVOKED)
    decision = reconcile(SUBMISSION, GOV, revoked, provider(), TODAY)
    assert decision.outcome is Outcome.REJECTED
    assert codes(decision) == [
        (ReasonCode.REVOKED, ""),
        (ReasonCode.SOURCES_DISAGREE, F_STATUS),
    ]
    status = check(decision.field_checks, F_STATUS)
    assert (status.result, status.disagreeing_result) == (FieldResult.MISMATCH, FieldResult.MATCH)


@pytest.mark.parametrize("status", [None, RegistrationStatus.UNKNOWN, RegistrationStatus.CANCELLED])
def test_statuses_that_agree_or_cannot_say_are_no_disagreement(
    status: RegistrationStatus | None,
) -> None:
    registry = RECORD
    if status is RegistrationStatus.CANCELLED:
        registry = dataclasses.replace(RECORD, status=status)
    decision = reconcile(SUBMISSION, GOV, registry, provider(status=status), TODAY)
    assert (ReasonCode.SOURCES_DISAGREE, F_STATUS) not in codes(decision)
    assert check(decision.field_checks, F_STATUS).disagreeing_source is None


def test_the_registry_status_is_checked_without_a_provider() -> None:
    decision = reconcile(SUBMISSION, GOV, RECORD, None, TODAY)
    status = check(decision.field_checks, F_STATUS)
    assert (status.result, status.source) == (FieldResult.MATCH, GOV)
