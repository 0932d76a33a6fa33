"""Deciding from several sources: the registry's facts, completed by the data provider's.

The rules, in order:

- The registration source (the government registry, or the snapshot imported from it)
  is authoritative for registration facts: the enterprise name, the legal
  representative's name, status, term and address. Its mismatch rejects, whatever the
  provider says ("rejection needs evidence", and the registry is the evidence).
- The provider fills what the registry does not publish: the legal representative's ID
  number, compared by digest when the provider returns it, else by its own verdict. Its
  ID mismatch rejects, unless the provider names another legal representative than the
  registry does: then its ID check concerns someone else, and the verification stays
  PENDING until the sources agree.
- Where both sources judged a field and their results differ, the field check keeps the
  registry's result, names the provider as the disagreeing source with its result, and
  the verification carries SOURCES_DISAGREE for that field. The registration status is
  judged so too (registry_record.status: in business or not): a provider that says
  revoked where the registry says in business is reported, and the registry decides.
  A disagreement on a field the registry matched never rejects: the provider lags (or
  leads) the registry by days.
- Without a registry record (unavailable, or not published yet) nothing is decided, even
  when the provider answers: a commercial copy is not the register, and registration
  facts from it alone do not suffice. The verification is PENDING with the registry's
  reason, and the provider's field checks are reported so a platform sees how it stands.
- A configured provider that cannot be reached leaves the ID number unchecked: a
  verification the registry alone would verify is PENDING (REGISTRY_UNAVAILABLE on the
  ID number); one the registry rejects stays rejected. A provider without the
  enterprise is no evidence either way: the ID number is NOT_AVAILABLE, as without a
  provider.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from enum import StrEnum

from service.domain.registry import RegistryRecord
from service.domain.registry_sources import (
    ProviderRecord,
    ProviderVerdict,
    SourceKind,
)
from service.domain.verification import (
    CHECKED_FIELDS,
    F_ADDRESS,
    F_NAME,
    F_REP_ID,
    F_REP_NAME,
    F_STATUS,
    F_TERM_END,
    F_TERM_START,
    F_USCC,
    Decision,
    FieldCheck,
    FieldResult,
    LicenceSubmission,
    Outcome,
    Reason,
    ReasonCode,
    compare_text,
    decide,
    decide_without_record,
    status_check,
    term_checks,
)


class Missing(StrEnum):
    """A source that gave no record: it has none, or it could not say."""

    NO_RECORD = "no_record"
    UNAVAILABLE = "unavailable"


RegistrationAnswer = RegistryRecord | Missing
ProviderAnswer = ProviderRecord | Missing

_VERDICT_RESULTS = {
    ProviderVerdict.CONSISTENT: FieldResult.MATCH,
    ProviderVerdict.INCONSISTENT: FieldResult.MISMATCH,
    ProviderVerdict.CANNOT_TELL: FieldResult.NOT_AVAILABLE,
}
_FIELD_NOUNS = {
    F_NAME: "enterprise name",
    F_REP_NAME: "legal representative's name",
    F_REP_ID: "legal representative's ID number",
    F_ADDRESS: "registered address",
    F_TERM_START: "licence term start",
    F_TERM_END: "licence term end",
    F_STATUS: "registration status",
}


def _stamped(
    checks: tuple[FieldCheck, ...] | list[FieldCheck], source: SourceKind, time: dt.datetime
) -> tuple[FieldCheck, ...]:
    return tuple(replace(c, source=source, source_snapshot_time=time) for c in checks)


def _judged(verdict: ProviderVerdict, own_comparison: FieldResult) -> FieldResult:
    """The provider's verdict, or, when it cannot tell, our comparison with what it holds."""
    result = _VERDICT_RESULTS[verdict]
    return own_comparison if result is FieldResult.NOT_AVAILABLE else result


def provider_checks(
    submission: LicenceSubmission, record: ProviderRecord
) -> tuple[FieldCheck, ...]:
    """Each submitted field as the provider judges it."""
    rep = submission.legal_representative
    name_compared = compare_text(submission.enterprise_name, record.enterprise_name)
    rep_name_compared = FieldResult.NOT_AVAILABLE
    if record.legal_rep_name is not None:
        same = rep.name.same_as(record.legal_rep_name)
        rep_name_compared = FieldResult.MATCH if same else FieldResult.MISMATCH
    if record.legal_rep_id_number is not None and rep.id_number is not None:
        # The number itself beats the provider's verdict: compared by digest, as ours.
        same = rep.id_number.same_as(record.legal_rep_id_number)
        rep_id = FieldResult.MATCH if same else FieldResult.MISMATCH
    else:
        rep_id = _VERDICT_RESULTS[record.verdicts.legal_rep_id_number]
    checks = [
        FieldCheck(F_USCC, FieldResult.MATCH),
        FieldCheck(F_NAME, _judged(record.verdicts.enterprise_name, name_compared)),
        FieldCheck(F_REP_NAME, _judged(record.verdicts.legal_rep_name, rep_name_compared)),
        FieldCheck(F_REP_ID, rep_id),
        FieldCheck(F_ADDRESS, compare_text(submission.registered_address, record.address)),
    ]
    if record.term is None:
        checks += [
            FieldCheck(F_TERM_START, FieldResult.NOT_AVAILABLE),
            FieldCheck(F_TERM_END, FieldResult.NOT_AVAILABLE),
        ]
    else:
        checks += term_checks(submission.term, record.term)
    checks.append(status_check(record.status))
    assert tuple(c.field for c in checks) == CHECKED_FIELDS
    return _stamped(checks, SourceKind.DATA_PROVIDER, record.snapshot_time)


def _disagreement(field: str) -> Reason:
    noun = _FIELD_NOUNS.get(field, field)
    return Reason(
        ReasonCode.SOURCES_DISAGREE,
        field,
        f"the registry and the data provider judge the {noun} differently: ask the merchant "
        "for supplementary information, or check again once the registry has published",
    )


def _merge(
    registry: tuple[FieldCheck, ...], provider: tuple[FieldCheck, ...]
) -> tuple[tuple[FieldCheck, ...], list[str]]:
    """The registry's checks, the provider's where the registry could not judge, and the
    fields on which both judged and differ."""
    merged: list[FieldCheck] = []
    disagreeing: list[str] = []
    for ours, theirs in zip(registry, provider, strict=True):
        if ours.result is FieldResult.NOT_AVAILABLE:
            merged.append(theirs if theirs.result is not FieldResult.NOT_AVAILABLE else ours)
        elif theirs.result not in (FieldResult.NOT_AVAILABLE, ours.result):
            merged.append(
                replace(ours, disagreeing_source=theirs.source, disagreeing_result=theirs.result)
            )
            disagreeing.append(ours.field)
        else:
            merged.append(ours)
    return tuple(merged), disagreeing


def _without_registry(
    reason: ReasonCode, provider: ProviderAnswer | None, submission: LicenceSubmission
) -> Decision:
    decision = decide_without_record(reason)
    if isinstance(provider, ProviderRecord):
        # Reported, not decided on: see the module docstring.
        return replace(decision, field_checks=provider_checks(submission, provider))
    return decision


def reconcile(
    submission: LicenceSubmission,
    registration_source: SourceKind,
    registration: RegistrationAnswer,
    provider: ProviderAnswer | None,
    today: dt.date,
) -> Decision:
    """Decide from the registration source's answer and, when a provider is configured
    (provider is not None), the provider's."""
    if registration is Missing.UNAVAILABLE:
        return _without_registry(ReasonCode.REGISTRY_UNAVAILABLE, provider, submission)
    if registration is Missing.NO_RECORD:
        return _without_registry(ReasonCode.REGISTRY_RECORD_NOT_FOUND, provider, submission)
    assert isinstance(registration, RegistryRecord)
    decision = decide(submission, registration, today)
    if decision.registry is None or decision.outcome is Outcome.PENDING:
        return decision  # moved out: nothing was compared
    checks = _stamped(decision.field_checks, registration_source, registration.snapshot_time)
    decision = replace(decision, field_checks=checks)
    if provider is None or provider is Missing.NO_RECORD:
        return decision
    rep_id_unchecked = dict((c.field, c.result) for c in checks)[F_REP_ID] is (
        FieldResult.NOT_AVAILABLE
    )
    if provider is Missing.UNAVAILABLE:
        if decision.outcome is Outcome.VERIFIED and rep_id_unchecked:
            reason = Reason(
                ReasonCode.REGISTRY_UNAVAILABLE,
                F_REP_ID,
                "the data provider could not be reached, so the legal representative's ID "
                "number is not checked yet; try again later",
            )
            return replace(decision, outcome=Outcome.PENDING, reasons=(reason,))
        return decision
    assert isinstance(provider, ProviderRecord)
    merged, disagreeing = _merge(checks, provider_checks(submission, provider))
    results = {c.field: c.result for c in merged}
    reasons = list(decision.reasons)
    undecided = False
    if rep_id_unchecked and results[F_REP_ID] is FieldResult.MISMATCH:
        if F_REP_NAME in disagreeing:
            # The provider's number belongs to a legal representative the registry does not
            # name: no evidence about the one submitted.
            undecided = True
        else:
            reasons.append(
                Reason(
                    ReasonCode.LEGAL_REPRESENTATIVE_ID_MISMATCH,
                    F_REP_ID,
                    "the legal representative's ID number differs from the data provider's",
                )
            )
    rejected = bool(reasons)
    reasons.extend(_disagreement(field) for field in disagreeing)
    if rejected:
        outcome = Outcome.REJECTED
    elif undecided:
        outcome = Outcome.PENDING
    else:
        outcome = Outcome.VERIFIED
    return replace(decision, outcome=outcome, reasons=tuple(reasons), field_checks=merged)
