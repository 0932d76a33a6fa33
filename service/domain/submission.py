"""Validation of a verification request: every bad field reported at once, by path."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.domain.errors import FieldViolation, InvalidIdentifier
from service.domain.identifiers.resident_id import parse_resident_id
from service.domain.identifiers.uscc import Uscc, parse_uscc
from service.domain.licence import DateParts, LicenceTerm
from service.domain.personal_data_screen import screen_free_text
from service.domain.text import TextKind, check_text
from service.domain.verification import AuthorisationScope

# A grant time a little ahead of our clock is the platform's clock skew, not the future.
_CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class TermDraft:
    start: DateParts | None
    end: DateParts | None
    open_ended: bool


@dataclass(frozen=True)
class LicenceDraft:
    """Licence fields as received, not yet known to be valid."""

    uscc: str
    enterprise_name: str
    legal_rep_name: str
    legal_rep_id_number: str
    registered_address: str
    term: TermDraft | None
    legal_rep_present: bool = True


@dataclass(frozen=True)
class AuthorisationDraft:
    granted_by: str
    grant_time: dt.datetime | None
    # Scope names; anything not an AuthorisationScope value is reported as unknown.
    scopes: tuple[str, ...]
    evidence_reference: str


@dataclass(frozen=True)
class ValidAuthorisation:
    """A validated authorisation. Holds who granted it in plaintext: use and seal."""

    granted_by: str
    grant_time: dt.datetime
    scopes: frozenset[AuthorisationScope]
    evidence_reference: str | None

    def __repr__(self) -> str:  # never print who granted it
        return f"ValidAuthorisation(scopes={sorted(self.scopes)!r})"


@dataclass(frozen=True)
class ValidLicence:
    """Validated licence fields. Holds the legal representative in plaintext: use and seal."""

    uscc: Uscc
    enterprise_name: str
    legal_rep_name: str
    legal_rep_id_number: str
    registered_address: str | None
    term: LicenceTerm | None

    def __repr__(self) -> str:  # never print the legal representative
        return f"ValidLicence(uscc={self.uscc.value!r})"


class _Collector:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, reason: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description, reason))

    def text(self, field: str, value: str, kind: TextKind, *, screened: bool = False) -> str | None:
        """screened: free text that must not carry ID or phone numbers."""
        try:
            check_text(value, kind)
        except InvalidIdentifier as problem:
            self.violations.append(problem.at(field))
            return None
        if screened and (found := screen_free_text(field, value)) is not None:
            self.violations.append(found)
            return None
        return value.strip()

    def date(self, field: str, parts: DateParts | None) -> dt.date | None:
        if parts is None:
            return None
        try:
            return parts.to_date()
        except ValueError:
            self.add(field, "DATE_INVALID", "not a calendar date (year, month and day must exist)")
            return None


def _validate_term(draft: TermDraft, c: _Collector) -> LicenceTerm | None:
    start = c.date("licence.term.start_date", draft.start)
    end = c.date("licence.term.end_date", draft.end)
    before = len(c.violations)
    if draft.open_ended and draft.end is not None:
        c.add(
            "licence.term.end_date",
            "TERM_END_WITH_OPEN_ENDED",
            "an open-ended term has no end date: unset end_date or open_ended",
        )
    if not draft.open_ended and draft.start is None and draft.end is None:
        c.add(
            "licence.term",
            "TERM_EMPTY",
            "give start_date, end_date or open_ended, or leave the term out",
        )
    if start and end and end < start:
        c.add("licence.term.end_date", "TERM_END_BEFORE_START", "end_date is before start_date")
    if len(c.violations) > before:
        return None
    return LicenceTerm(start=start, end=end, open_ended=draft.open_ended)


def validate_licence(draft: LicenceDraft, today: dt.date, c: _Collector) -> ValidLicence | None:
    uscc: Uscc | None = None
    try:
        uscc = parse_uscc(draft.uscc)
    except InvalidIdentifier as problem:
        c.violations.append(problem.at("licence.uscc"))
    name = c.text("licence.enterprise_name", draft.enterprise_name, TextKind.ENTERPRISE_NAME)
    rep_name: str | None = None
    rep_id: str | None = None
    if not draft.legal_rep_present:
        c.add("licence.legal_representative", "REQUIRED", "the legal representative is required")
    else:
        rep_name = c.text(
            "licence.legal_representative.name", draft.legal_rep_name, TextKind.PERSON_NAME
        )
        try:
            rep_id = parse_resident_id(draft.legal_rep_id_number, today).value
        except InvalidIdentifier as problem:
            c.violations.append(problem.at("licence.legal_representative.id_number"))
    address: str | None = None
    if draft.registered_address:
        address = c.text(
            "licence.registered_address",
            draft.registered_address,
            TextKind.ADDRESS,
            screened=True,
        )
    term = _validate_term(draft.term, c) if draft.term is not None else None
    if uscc is None or name is None or rep_name is None or rep_id is None:
        return None
    if draft.registered_address and address is None:
        return None
    if draft.term is not None and term is None:
        return None
    return ValidLicence(uscc, name, rep_name, rep_id, address, term)


def validate_authorisation(
    draft: AuthorisationDraft | None, now: dt.datetime, c: _Collector
) -> ValidAuthorisation | None:
    if draft is None:
        c.add(
            "authorization",
            "AUTHORIZATION_REQUIRED",
            "the legal representative's authorisation is required to process their name and "
            "ID number",
        )
        return None
    before = len(c.violations)
    granted_by = c.text("authorization.granted_by", draft.granted_by, TextKind.PERSON_NAME)
    if draft.grant_time is None:
        c.add("authorization.grant_time", "REQUIRED", "grant_time is required")
    elif draft.grant_time > now + _CLOCK_SKEW:
        c.add("authorization.grant_time", "GRANT_TIME_FUTURE", "grant_time is in the future")
    scopes: set[AuthorisationScope] = set()
    for index, raw in enumerate(draft.scopes):
        try:
            scopes.add(AuthorisationScope(raw))
        except ValueError:
            c.add(f"authorization.scopes[{index}]", "SCOPE_UNKNOWN", "not a known scope")
    if AuthorisationScope.IDENTITY_VERIFICATION not in scopes:
        c.add(
            "authorization.scopes",
            "AUTHORIZATION_SCOPE_MISSING",
            "the authorisation does not cover identity verification "
            "(AUTHORIZATION_SCOPE_IDENTITY_VERIFICATION)",
        )
    evidence: str | None = None
    if draft.evidence_reference:
        evidence = c.text(
            "authorization.evidence_reference",
            draft.evidence_reference,
            TextKind.REFERENCE,
            screened=True,
        )
    if len(c.violations) > before or granted_by is None or draft.grant_time is None:
        return None
    return ValidAuthorisation(granted_by, draft.grant_time, frozenset(scopes), evidence)


@dataclass(frozen=True)
class ValidVerificationRequest:
    licence: ValidLicence
    authorisation: ValidAuthorisation


def validate_verification_request(
    licence: LicenceDraft | None,
    authorisation: AuthorisationDraft | None,
    now: dt.datetime,
    today: dt.date,
) -> tuple[ValidVerificationRequest | None, list[FieldViolation]]:
    """Validate everything; paths are relative to the Verification resource."""
    c = _Collector()
    valid_licence: ValidLicence | None = None
    if licence is None:
        c.add("licence", "REQUIRED", "the business licence is required")
    else:
        valid_licence = validate_licence(licence, today, c)
    valid_auth = validate_authorisation(authorisation, now, c)
    if c.violations or valid_licence is None or valid_auth is None:
        return None, c.violations
    return ValidVerificationRequest(valid_licence, valid_auth), []
