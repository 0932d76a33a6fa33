"""Use cases of identity authentication: submit, get and list verifications."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from service.app.page_tokens import PageTokens
from service.app.ports import (
    Clock,
    DuplicateRequest,
    OnChange,
    PageCursor,
    PersonalDataKeys,
    Sealer,
    UnitOfWorkFactory,
    no_change,
)
from service.app.registry_check import RegistryCheck
from service.app.resource_names import parse_enterprise_name, parse_verification_name
from service.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from service.domain.licence import china_today
from service.domain.recheck_schedule import RecheckSchedule
from service.domain.sealed import PiiKind, SealedLegalRepresentative
from service.domain.submission import (
    AuthorisationDraft,
    LicenceDraft,
    ValidAuthorisation,
    ValidVerificationRequest,
    validate_verification_request,
)
from service.domain.verification import (
    TRIGGER_CREATE,
    Authorisation,
    LicenceSubmission,
    OutcomeChange,
    Verification,
)

log = structlog.get_logger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
ANSWER_SHARE = 0.25
"""Of the time a caller waits for a new verification, the part kept for what follows the
registry's answer: writing the verification, recording its disclosure, answering."""
MIN_ANSWER_SECONDS = 0.05


@dataclass(frozen=True)
class SubmitVerification:
    caller: str
    parent: str
    request_id: str
    licence: LicenceDraft | None
    authorisation: AuthorisationDraft | None


@dataclass(frozen=True)
class VerificationPage:
    verifications: Sequence[Verification]
    next_page_token: str


_UUID_SHAPE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def canonical_request_id(request_id: str) -> str | None:
    """The request id in canonical form (lower case, hyphenated), or None if it is not a
    UUID. Retries are matched on this form, so a client that changes the case of its id
    still finds its first verification."""
    if not _UUID_SHAPE.fullmatch(request_id):
        return None
    return str(uuid.UUID(request_id))


def _fingerprint_document(caller: str, request: ValidVerificationRequest) -> bytes:
    licence, auth = request.licence, request.authorisation
    term = licence.term
    document = {
        "caller": caller,
        "uscc": licence.uscc.value,
        "name": licence.enterprise_name,
        "rep_name": licence.legal_rep_name,
        "rep_id": licence.legal_rep_id_number,
        "address": licence.registered_address,
        "term": None if term is None else [str(term.start), str(term.end), term.open_ended],
        "granted_by": auth.granted_by,
        "grant_time": auth.grant_time.isoformat(),
        "scopes": sorted(auth.scopes),
        "evidence": auth.evidence_reference,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False).encode()


def _sealed_submission(sealer: Sealer, request: ValidVerificationRequest) -> LicenceSubmission:
    licence = request.licence
    representative = SealedLegalRepresentative(
        name=sealer.seal(PiiKind.PERSON_NAME, licence.legal_rep_name),
        id_number=sealer.seal(PiiKind.ID_NUMBER, licence.legal_rep_id_number),
    )
    return LicenceSubmission(
        uscc=licence.uscc.value,
        enterprise_name=licence.enterprise_name,
        legal_representative=representative,
        registered_address=licence.registered_address,
        term=licence.term,
    )


def _sealed_authorisation(sealer: Sealer, valid: ValidAuthorisation) -> Authorisation:
    return Authorisation(
        granted_by=sealer.seal(PiiKind.PERSON_NAME, valid.granted_by),
        grant_time=valid.grant_time,
        scopes=valid.scopes,
        evidence_reference=valid.evidence_reference,
    )


class VerificationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        registry_check: RegistryCheck,
        keys: PersonalDataKeys,
        clock: Clock,
        *,
        withdrawn_since: Callable[[str], Awaitable[dt.datetime | None]],
        page_tokens: PageTokens,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        on_change: OnChange = no_change,
        schedule: RecheckSchedule | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._on_change = on_change
        self._schedule = schedule or RecheckSchedule()
        self._uow = uow
        self._registry_check = registry_check
        self._keys = keys
        self._withdrawn_since = withdrawn_since
        self._clock = clock
        self._new_id = new_id
        self._page_tokens = page_tokens

    async def submit(
        self, command: SubmitVerification, time_left: float | None = None
    ) -> Verification:
        """time_left: how long the caller waits for the answer (its deadline), if it said;
        the registry is asked within what that leaves for it."""
        answer_by = None
        if time_left is not None and math.isfinite(time_left):
            answer_by = self._monotonic() + time_left
        now = self._clock.now()
        violations: list[FieldViolation] = []
        request_id = canonical_request_id(command.request_id)
        if request_id is None:
            violations.append(
                FieldViolation("request_id", "must be a UUID (AIP-155)", "REQUEST_ID_INVALID")
            )
        else:
            command = dataclasses.replace(command, request_id=request_id)
        parent_uscc: str | None = None
        try:
            parent_uscc = parse_enterprise_name(command.parent)
        except InvalidArgument as invalid:
            violations.extend(invalid.violations)
        request, problems = validate_verification_request(
            command.licence, command.authorisation, now, china_today(now)
        )
        violations.extend(
            FieldViolation(f"verification.{p.field}", p.description, p.reason) for p in problems
        )
        if request and parent_uscc and parent_uscc != request.licence.uscc.value:
            violations.append(
                FieldViolation(
                    "parent", "names another enterprise than licence.uscc", "PARENT_MISMATCH"
                )
            )
        if violations or request is None:
            raise InvalidArgument(violations)

        sealer = await self._sealer(request)
        document = _fingerprint_document(command.caller, request)
        fingerprint = sealer.fingerprint(document)
        async with self._uow(read_only=True) as uow:
            earlier = await uow.verifications.get_by_request(command.caller, command.request_id)
        if earlier is not None:
            return self._replay(earlier, sealer, document)

        submission = _sealed_submission(sealer, request)
        authorisation = _sealed_authorisation(sealer, request.authorisation)
        decision = await self._registry_check.decide(submission, self._registry_time(answer_by))
        verification = Verification(
            id=self._new_id(),
            caller=command.caller,
            request_id=command.request_id,
            fingerprint=fingerprint,
            submission=submission,
            authorisation=authorisation,
            decision=decision,
            create_time=now,
            update_time=now,
            history=(OutcomeChange(1, decision, TRIGGER_CREATE, now),),
        )
        try:
            async with self._uow() as uow:
                await uow.verifications.add(
                    verification, self._schedule.start(decision.outcome, now)
                )
                await uow.commit()
        except DuplicateRequest:
            # A concurrent retry won the race: answer with its verification.
            async with self._uow(read_only=True) as uow:
                winner = await uow.verifications.get_by_request(command.caller, command.request_id)
            if winner is None:
                raise
            return self._replay(winner, sealer, document)
        await self._on_change([verification.uscc])
        log.info(
            "verification_created",
            verification_id=verification.id,
            uscc=verification.uscc,
            outcome=decision.outcome.value,
            reasons=[r.code.value for r in decision.reasons],
        )
        return verification

    def _registry_time(self, answer_by: float | None) -> float | None:
        """What is left of the caller's time for the registry, once the part for writing
        and answering is set aside."""
        if answer_by is None:
            return None
        left = answer_by - self._monotonic()
        return max(0.0, left - max(MIN_ANSWER_SECONDS, left * ANSWER_SHARE))

    @staticmethod
    def _replay(earlier: Verification, sealer: Sealer, document: bytes) -> Verification:
        """The verification as it stands now (re-checks may have decided it again since),
        for a retry with the same content."""
        if not sealer.fingerprint_matches(document, earlier.fingerprint):
            raise AlreadyExists(
                "request_id was already used for a different request",
                reason="REQUEST_ID_REUSED",
            )
        return earlier

    async def _sealer(self, request: ValidVerificationRequest) -> Sealer:
        """The enterprise's sealer; after a withdrawal, only for an authorisation granted
        since, under a key made since (FailedPrecondition otherwise: the person's data is
        no longer processed on what they withdrew)."""
        uscc = request.licence.uscc.value
        withdrawn = await self._withdrawn_since(uscc)
        if withdrawn is None:
            return await self._keys.sealer(uscc)
        if request.authorisation.grant_time <= withdrawn:
            raise FailedPrecondition(
                "the legal representative withdrew the authorisation this request relies on; "
                "a verification needs an authorisation granted after the withdrawal",
                reason="LEGAL_REPRESENTATIVE_AUTHORISATION_WITHDRAWN",
            )
        return await self._keys.fresh_generation(uscc, withdrawn)

    async def of_enterprise(self, uscc: str, most: int = 1000) -> Sequence[Verification]:
        """The enterprise's verifications by every caller, newest first (what the service
        holds, for the data subject's own download)."""
        async with self._uow(read_only=True) as uow:
            return await uow.verifications.list_for_enterprise(uscc, most, None, None)

    async def get(self, name: str, reader: str | None) -> Verification:
        """reader: the caller asking, who sees only its own; None sees every caller's."""
        uscc, verification_id = parse_verification_name(name)
        async with self._uow(read_only=True) as uow:
            verification = await uow.verifications.get(uscc, verification_id)
        # Another caller's verification is reported missing, not forbidden: its existence
        # is not ours to disclose.
        if verification is None or reader not in (None, verification.caller):
            raise NotFound(f"{name} does not exist", reason="VERIFICATION_NOT_FOUND")
        return verification

    async def list(
        self, parent: str, page_size: int, page_token: str, reader: str | None
    ) -> VerificationPage:
        uscc = parse_enterprise_name(parent)
        if page_size < 0:
            raise InvalidArgument(
                [FieldViolation("page_size", "must not be negative", "PAGE_SIZE_NEGATIVE")]
            )
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        listing = f"verifications|{parent}|{reader or ''}"
        cursor = self._page_tokens.read_cursor(page_token, listing)
        async with self._uow(read_only=True) as uow:
            # One more than asked tells whether another page follows.
            rows = await uow.verifications.list_for_enterprise(uscc, size + 1, cursor, reader)
        page = list(rows[:size])
        token = ""
        if len(rows) > size:
            last = page[-1]
            token = self._page_tokens.issue_cursor(listing, PageCursor(last.create_time, last.id))
        return VerificationPage(page, token)
