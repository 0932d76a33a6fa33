"""Identity authentication: the decision, by the standards and the registry record.

Pure rules. The application layer gathers the inputs (a validated submission with the
legal representative sealed, the registry record or the fact that there is none) and
stores what decide_* returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from service.domain.licence import LicenceTerm, RegistrationStatus
from service.domain.names import names_match
from service.domain.registry import RegistryRecord, RegistrySummary
from service.domain.registry_sources import SourceKind
from service.domain.sealed import SealedLegalRepresentative, SealedValue


class Outcome(StrEnum):
    VERIFIED = "verified"
    REJECTED = "rejected"
    PENDING = "pending"


class ReasonCode(StrEnum):
    NAME_MISMATCH = "NAME_MISMATCH"
    LEGAL_REPRESENTATIVE_NAME_MISMATCH = "LEGAL_REPRESENTATIVE_NAME_MISMATCH"
    LEGAL_REPRESENTATIVE_ID_MISMATCH = "LEGAL_REPRESENTATIVE_ID_MISMATCH"
    LICENCE_EXPIRED = "LICENCE_EXPIRED"
    LICENCE_NOT_YET_VALID = "LICENCE_NOT_YET_VALID"
    DEREGISTERED = "DEREGISTERED"
    REVOKED = "REVOKED"
    REGISTRATION_WITHDRAWN = "REGISTRATION_WITHDRAWN"
    BUSINESS_SUSPENDED = "BUSINESS_SUSPENDED"
    IN_LIQUIDATION = "IN_LIQUIDATION"
    NOT_YET_ESTABLISHED = "NOT_YET_ESTABLISHED"
    OUT_OF_SCOPE_REGION = "OUT_OF_SCOPE_REGION"
    NOT_AN_ENTERPRISE = "NOT_AN_ENTERPRISE"
    REGISTRY_UNAVAILABLE = "REGISTRY_UNAVAILABLE"
    REGISTRY_RECORD_NOT_FOUND = "REGISTRY_RECORD_NOT_FOUND"
    REGISTRY_RECORD_MOVED = "REGISTRY_RECORD_MOVED"
    STATUS_UNKNOWN = "STATUS_UNKNOWN"
    # REJECTED after the registry gave no answer for longer than a PENDING may last: not a
    # mismatch, and told apart from one by this code.
    PENDING_EXPIRED = "PENDING_EXPIRED"
    SOURCES_DISAGREE = "SOURCES_DISAGREE"
    # The legal representative withdrew the authorisation a verification relied on: their
    # data was destroyed, and it is not decided again on it.
    LEGAL_REPRESENTATIVE_AUTHORISATION_WITHDRAWN = "LEGAL_REPRESENTATIVE_AUTHORISATION_WITHDRAWN"
    # PENDING: the registry record's legal representative was destroyed on a withdrawal and
    # the record has not been read again since.
    LEGAL_REPRESENTATIVE_NOT_AVAILABLE = "LEGAL_REPRESENTATIVE_NOT_AVAILABLE"


class FieldResult(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_AVAILABLE = "not_available"


class AuthorisationScope(StrEnum):
    IDENTITY_VERIFICATION = "identity_verification"
    ARCHIVE = "archive"
    INTEGRITY_LEVEL = "integrity_level"


@dataclass(frozen=True)
class Authorisation:
    """The legal representative's consent to process their name and ID number."""

    # Who granted it names a person (the legal representative or the signer): sealed.
    granted_by: SealedValue
    grant_time: dt.datetime
    scopes: frozenset[AuthorisationScope]
    evidence_reference: str | None


@dataclass(frozen=True)
class LicenceSubmission:
    """Validated licence data as a platform submitted it, legal representative sealed."""

    uscc: str
    enterprise_name: str
    legal_representative: SealedLegalRepresentative
    registered_address: str | None
    term: LicenceTerm | None


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    field: str
    message: str


@dataclass(frozen=True)
class FieldCheck:
    field: str
    result: FieldResult
    # Which source the result comes from and how old that source's data was; None where no
    # source was asked (a code out of scope, no record anywhere).
    source: SourceKind | None = None
    source_snapshot_time: dt.datetime | None = None
    # Another source that judged the field differently, and how it judged it.
    disagreeing_source: SourceKind | None = None
    disagreeing_result: FieldResult | None = None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    field_checks: tuple[FieldCheck, ...]
    registry: RegistrySummary | None


# Field paths as the API names them, relative to the Verification resource.
F_USCC = "licence.uscc"
F_NAME = "licence.enterprise_name"
F_REP_NAME = "licence.legal_representative.name"
F_REP_ID = "licence.legal_representative.id_number"
F_ADDRESS = "licence.registered_address"
F_TERM_START = "licence.term.start_date"
F_TERM_END = "licence.term.end_date"
# Not a submitted field: every submission claims an enterprise in business, and this
# check says whether the source's registration status bears that out (the path is the
# answer's registry_record.status).
F_STATUS = "registry_record.status"
CHECKED_FIELDS = (
    F_USCC,
    F_NAME,
    F_REP_NAME,
    F_REP_ID,
    F_ADDRESS,
    F_TERM_START,
    F_TERM_END,
    F_STATUS,
)

_STATUS_REJECTIONS: dict[RegistrationStatus, tuple[ReasonCode, str]] = {
    RegistrationStatus.CANCELLED: (ReasonCode.DEREGISTERED, "the enterprise is deregistered"),
    RegistrationStatus.REVOKED: (ReasonCode.REVOKED, "the business licence was revoked"),
    RegistrationStatus.WITHDRAWN: (
        ReasonCode.REGISTRATION_WITHDRAWN,
        "the registration was withdrawn",
    ),
    RegistrationStatus.SUSPENDED: (ReasonCode.BUSINESS_SUSPENDED, "the business is suspended"),
    RegistrationStatus.IN_LIQUIDATION: (
        ReasonCode.IN_LIQUIDATION,
        "the enterprise is in liquidation",
    ),
    RegistrationStatus.BEING_ESTABLISHED: (
        ReasonCode.NOT_YET_ESTABLISHED,
        "the enterprise is still being established",
    ),
    RegistrationStatus.UNKNOWN: (
        ReasonCode.STATUS_UNKNOWN,
        "the registry reports a status the service cannot judge",
    ),
}


def status_check(status: RegistrationStatus | None) -> FieldCheck:
    """MATCH when the status is in business; MISMATCH when it says the enterprise is not;
    NOT_AVAILABLE when it cannot say (none, moved out, a wording not recognised)."""
    if status is RegistrationStatus.IN_BUSINESS:
        return FieldCheck(F_STATUS, FieldResult.MATCH)
    if status in (None, RegistrationStatus.MOVED_OUT, RegistrationStatus.UNKNOWN):
        return FieldCheck(F_STATUS, FieldResult.NOT_AVAILABLE)
    return FieldCheck(F_STATUS, FieldResult.MISMATCH)


def not_available_checks() -> tuple[FieldCheck, ...]:
    return tuple(FieldCheck(f, FieldResult.NOT_AVAILABLE) for f in CHECKED_FIELDS)


def decide_out_of_scope(reason: ReasonCode, message: str) -> Decision:
    """A valid code the service must not authenticate (Hong Kong, not an enterprise...)."""
    return Decision(
        outcome=Outcome.REJECTED,
        reasons=(Reason(reason, F_USCC, message),),
        field_checks=not_available_checks(),
        registry=None,
    )


def decide_withdrawn() -> Decision:
    """A verification whose legal representative's data was destroyed: REJECTED, told apart
    from a mismatch by its code, and never decided on that data again."""
    return decide_out_of_scope(
        ReasonCode.LEGAL_REPRESENTATIVE_AUTHORISATION_WITHDRAWN,
        "the legal representative withdrew the authorisation this verification relied on",
    )


def decide_without_record(reason: ReasonCode) -> Decision:
    """PENDING: no registry answer is not a mismatch, only a decision not yet possible."""
    message = {
        ReasonCode.REGISTRY_UNAVAILABLE: "the registry could not be reached; try again later",
        ReasonCode.REGISTRY_RECORD_NOT_FOUND: (
            "the registry has not published this enterprise; registries publish days to "
            "weeks late, try again later"
        ),
    }[reason]
    return Decision(
        Outcome.PENDING, (Reason(reason, F_USCC, message),), not_available_checks(), None
    )


def compare_text(submitted: str | None, registered: str | None) -> FieldResult:
    if not submitted or not registered:
        return FieldResult.NOT_AVAILABLE
    return FieldResult.MATCH if names_match(submitted, registered) else FieldResult.MISMATCH


def _compare_dates(
    submitted: dt.date | None, registered: dt.date | None, *, comparable: bool
) -> FieldResult:
    if not comparable:
        return FieldResult.NOT_AVAILABLE
    return FieldResult.MATCH if submitted == registered else FieldResult.MISMATCH


def term_checks(submitted: LicenceTerm | None, registered: LicenceTerm) -> list[FieldCheck]:
    if submitted is None:
        return [
            FieldCheck(F_TERM_START, FieldResult.NOT_AVAILABLE),
            FieldCheck(F_TERM_END, FieldResult.NOT_AVAILABLE),
        ]
    start = _compare_dates(
        submitted.start,
        registered.start,
        comparable=submitted.start is not None and registered.start is not None,
    )
    if submitted.open_ended or registered.open_ended:
        end = (
            FieldResult.MATCH
            if submitted.open_ended == registered.open_ended
            else FieldResult.MISMATCH
        )
    else:
        end = _compare_dates(
            submitted.end,
            registered.end,
            comparable=submitted.end is not None and registered.end is not None,
        )
    return [FieldCheck(F_TERM_START, start), FieldCheck(F_TERM_END, end)]


def decide(submission: LicenceSubmission, record: RegistryRecord, today: dt.date) -> Decision:
    """Compare a submission with the registry record and decide.

    Rejection needs evidence: a key field that differs (enterprise name, legal
    representative's name or ID number), or a registry status or licence term that
    says the enterprise is not in business. Address and term differences are reported
    per field but do not reject on their own: registries write addresses many ways and
    lag behind renewals.
    """
    if record.status is RegistrationStatus.MOVED_OUT:
        reason = Reason(
            ReasonCode.REGISTRY_RECORD_MOVED,
            F_USCC,
            "the enterprise moved to another registration authority whose record is not "
            "published yet; try again later",
        )
        return Decision(
            Outcome.PENDING, (reason,), not_available_checks(), RegistrySummary.of(record)
        )

    if submission.legal_representative.destroyed:
        return decide_withdrawn()
    submitted_rep = submission.legal_representative
    registered_rep = record.legal_representative
    if registered_rep.destroyed:
        reason = Reason(
            ReasonCode.LEGAL_REPRESENTATIVE_NOT_AVAILABLE,
            F_REP_NAME,
            "the registry record's legal representative is read again from the registry "
            "after a withdrawal; try again later",
        )
        return Decision(
            Outcome.PENDING, (reason,), not_available_checks(), RegistrySummary.of(record)
        )
    checks = [
        FieldCheck(F_USCC, FieldResult.MATCH),
        FieldCheck(F_NAME, compare_text(submission.enterprise_name, record.name)),
        FieldCheck(
            F_REP_NAME,
            FieldResult.MATCH
            if submitted_rep.name.same_as(registered_rep.name)
            else FieldResult.MISMATCH,
        ),
    ]
    if submitted_rep.id_number is None or registered_rep.id_number is None:
        checks.append(FieldCheck(F_REP_ID, FieldResult.NOT_AVAILABLE))
    else:
        same = submitted_rep.id_number.same_as(registered_rep.id_number)
        checks.append(FieldCheck(F_REP_ID, FieldResult.MATCH if same else FieldResult.MISMATCH))
    checks.append(
        FieldCheck(F_ADDRESS, compare_text(submission.registered_address, record.address))
    )
    checks.extend(term_checks(submission.term, record.term))
    checks.append(status_check(record.status))

    results = {check.field: check.result for check in checks}
    reasons: list[Reason] = []
    if results[F_NAME] is FieldResult.MISMATCH:
        reasons.append(
            Reason(ReasonCode.NAME_MISMATCH, F_NAME, "the name differs from the registered name")
        )
    if results[F_REP_NAME] is FieldResult.MISMATCH:
        reasons.append(
            Reason(
                ReasonCode.LEGAL_REPRESENTATIVE_NAME_MISMATCH,
                F_REP_NAME,
                "the legal representative differs from the registered one",
            )
        )
    if results[F_REP_ID] is FieldResult.MISMATCH:
        reasons.append(
            Reason(
                ReasonCode.LEGAL_REPRESENTATIVE_ID_MISMATCH,
                F_REP_ID,
                "the legal representative's ID number differs from the registered one",
            )
        )
    if record.status in _STATUS_REJECTIONS:
        code, message = _STATUS_REJECTIONS[record.status]
        reasons.append(Reason(code, "", message))
    if record.term.has_expired(today):
        reasons.append(
            Reason(
                ReasonCode.LICENCE_EXPIRED,
                F_TERM_END,
                f"the licence term ended on {record.term.end}",
            )
        )
    if record.term.not_yet_started(today):
        reasons.append(
            Reason(
                ReasonCode.LICENCE_NOT_YET_VALID,
                F_TERM_START,
                f"the licence term starts on {record.term.start}",
            )
        )
    outcome = Outcome.REJECTED if reasons else Outcome.VERIFIED
    return Decision(outcome, tuple(reasons), tuple(checks), RegistrySummary.of(record))


TRIGGER_CREATE = "create"
TRIGGER_PENDING_RECHECK = "pending_recheck"


@dataclass(frozen=True)
class OutcomeChange:
    """One entry of a verification's history: the decision it took, when and why."""

    sequence: int
    decision: Decision
    # What decided again: "create", "pending_recheck", "batch", ...
    trigger: str
    change_time: dt.datetime


@dataclass(frozen=True)
class Verification:
    id: str
    caller: str
    request_id: str
    # Keyed hash of the request's content: a retry with the same request id must carry the
    # same content, and the hash proves it without keeping the plaintext.
    fingerprint: bytes
    submission: LicenceSubmission
    authorisation: Authorisation
    decision: Decision
    create_time: dt.datetime
    # When the current decision was taken; None: when the verification was made.
    update_time: dt.datetime | None = None
    # When a re-check last decided it (confirmed or changed); None: not since it was made.
    check_time: dt.datetime | None = None
    # Every decision it has had, oldest first; the last is the current one.
    history: tuple[OutcomeChange, ...] = ()

    @property
    def uscc(self) -> str:
        return self.submission.uscc

    @property
    def decision_time(self) -> dt.datetime:
        return self.update_time or self.create_time

    @property
    def last_checked(self) -> dt.datetime:
        return self.check_time or self.create_time
