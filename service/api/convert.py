"""Proto <-> domain for verifications. Nothing else happens here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from google.type import date_pb2
from integrity.v1 import licence_pb2, verification_pb2

from service.api.proto_values import status_out, term_out, timestamp_out
from service.app.resource_names import verification_name
from service.domain.licence import DateParts
from service.domain.registry import RegistrySummary
from service.domain.registry_sources import SourceKind
from service.domain.submission import AuthorisationDraft, LicenceDraft, TermDraft
from service.domain.verification import (
    AuthorisationScope,
    FieldCheck,
    FieldResult,
    Outcome,
    Reason,
    ReasonCode,
    Verification,
)

_SCOPES_IN = {
    verification_pb2.AUTHORIZATION_SCOPE_IDENTITY_VERIFICATION: (
        AuthorisationScope.IDENTITY_VERIFICATION
    ),
    verification_pb2.AUTHORIZATION_SCOPE_ARCHIVE: AuthorisationScope.ARCHIVE,
    verification_pb2.AUTHORIZATION_SCOPE_INTEGRITY_LEVEL: AuthorisationScope.INTEGRITY_LEVEL,
}
_SCOPES_OUT = {scope: number for number, scope in _SCOPES_IN.items()}
_OUTCOMES = {
    Outcome.VERIFIED: verification_pb2.VERIFICATION_OUTCOME_VERIFIED,
    Outcome.REJECTED: verification_pb2.VERIFICATION_OUTCOME_REJECTED,
    Outcome.PENDING: verification_pb2.VERIFICATION_OUTCOME_PENDING,
}
_SOURCES = {
    SourceKind.REGISTRY_SNAPSHOT: verification_pb2.REGISTRY_SOURCE_REGISTRY_SNAPSHOT,
    SourceKind.GOVERNMENT_REGISTRY: verification_pb2.REGISTRY_SOURCE_GOVERNMENT_REGISTRY,
    SourceKind.DATA_PROVIDER: verification_pb2.REGISTRY_SOURCE_DATA_PROVIDER,
}
_FIELD_RESULTS = {
    FieldResult.MATCH: verification_pb2.FIELD_CHECK_RESULT_MATCH,
    FieldResult.MISMATCH: verification_pb2.FIELD_CHECK_RESULT_MISMATCH,
    FieldResult.NOT_AVAILABLE: verification_pb2.FIELD_CHECK_RESULT_NOT_AVAILABLE,
}


def _date_in(message: date_pb2.Date) -> DateParts:
    return DateParts(message.year, message.month, message.day)


def licence_draft(message: licence_pb2.BusinessLicence) -> LicenceDraft:
    term = None
    if message.HasField("term"):
        term = TermDraft(
            start=_date_in(message.term.start_date)
            if message.term.HasField("start_date")
            else None,
            end=_date_in(message.term.end_date) if message.term.HasField("end_date") else None,
            open_ended=message.term.open_ended,
        )
    return LicenceDraft(
        uscc=message.uscc,
        enterprise_name=message.enterprise_name,
        legal_rep_name=message.legal_representative.name,
        legal_rep_id_number=message.legal_representative.id_number,
        registered_address=message.registered_address,
        term=term,
        legal_rep_present=message.HasField("legal_representative"),
    )


def authorisation_draft(message: verification_pb2.Authorization) -> AuthorisationDraft:
    grant_time = None
    if message.HasField("grant_time"):
        grant_time = message.grant_time.ToDatetime(tzinfo=dt.UTC)
    scopes = tuple(
        _SCOPES_IN[s].value if s in _SCOPES_IN else f"unknown:{s}" for s in message.scopes
    )
    return AuthorisationDraft(
        granted_by=message.granted_by,
        grant_time=grant_time,
        scopes=scopes,
        evidence_reference=message.evidence_reference,
    )


def _registry_out(summary: RegistrySummary) -> verification_pb2.RegistryRecordSummary:
    return verification_pb2.RegistryRecordSummary(
        enterprise_name=summary.enterprise_name,
        status=status_out(summary.status),
        term=term_out(summary.term),
        registration_authority=summary.registration_authority,
        snapshot_time=timestamp_out(summary.snapshot_time),
    )


def _field_check_out(check: FieldCheck) -> verification_pb2.FieldCheck:
    message = verification_pb2.FieldCheck(field=check.field, result=_FIELD_RESULTS[check.result])
    if check.source is not None:
        message.source = _SOURCES[check.source]
    if check.source_snapshot_time is not None:
        message.source_snapshot_time.CopyFrom(timestamp_out(check.source_snapshot_time))
    if check.disagreeing_source is not None and check.disagreeing_result is not None:
        message.disagreeing_source = _SOURCES[check.disagreeing_source]
        message.disagreeing_result = _FIELD_RESULTS[check.disagreeing_result]
    return message


def verification_to_proto(v: Verification) -> verification_pb2.Verification:
    s, a, d = v.submission, v.authorisation, v.decision
    rep = s.legal_representative
    licence = licence_pb2.BusinessLicence(
        uscc=s.uscc,
        enterprise_name=s.enterprise_name,
        # Masked: the plaintext never leaves the service.
        legal_representative=licence_pb2.LegalRepresentative(
            name=rep.name.masked, id_number=rep.id_number.masked if rep.id_number else ""
        ),
        registered_address=s.registered_address or "",
        term=term_out(s.term) if s.term else None,
    )
    message = verification_pb2.Verification(
        name=verification_name(s.uscc, v.id),
        licence=licence,
        authorization=verification_pb2.Authorization(
            # Masked like the legal representative: it names a person.
            granted_by=a.granted_by.masked,
            grant_time=timestamp_out(a.grant_time),
            scopes=sorted(_SCOPES_OUT[scope] for scope in a.scopes),
            evidence_reference=a.evidence_reference or "",
        ),
        outcome=_OUTCOMES[d.outcome],
        reasons=_reasons_out(d.reasons),
        field_checks=[_field_check_out(check) for check in d.field_checks],
        create_time=timestamp_out(v.create_time),
        request_id=v.request_id,
        history=[
            verification_pb2.VerificationOutcomeChange(
                change_time=timestamp_out(change.change_time),
                outcome=_OUTCOMES[change.decision.outcome],
                reasons=_reasons_out(change.decision.reasons),
                trigger=change.trigger,
            )
            for change in v.history
        ],
        update_time=timestamp_out(v.decision_time),
        check_time=timestamp_out(v.last_checked),
    )
    if d.registry is not None:
        message.registry_record.CopyFrom(_registry_out(d.registry))
    return message


def _reasons_out(reasons: Sequence[Reason]) -> list[verification_pb2.VerificationReason]:
    return [
        verification_pb2.VerificationReason(
            code=reason_code_number(reason.code), field=reason.field, message=reason.message
        )
        for reason in reasons
    ]


def reason_code_number(code: ReasonCode) -> verification_pb2.VerificationReasonCode.ValueType:
    return verification_pb2.VerificationReasonCode.Value(f"VERIFICATION_REASON_CODE_{code.value}")
