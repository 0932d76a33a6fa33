"""The legal representative's own data, unmasked, for a request that proves who they are.

Everywhere else the service shows the legal representative masked. The enterprise's merchant
may download what is held unmasked when the request proves the person's identity: it names
the person and their ID number, and both match what the service holds (the registry's
record or a verification's submission), compared by keyed digest under the enterprise's
key, never decrypted to compare. A wrong proof is counted; after MAX_FAILED_PROOFS within
FAILED_PROOF_WINDOW the enterprise's proofs are refused until the window passes, so the
download is no oracle for guessing an ID number. A download that goes out is recorded in
the disclosure ledger like every other.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from service.app.merchant_access import require_own_merchant
from service.app.ports import Clock, DisclosureLedger, PersonalDataKeys, Registry, Sealer
from service.app.resource_names import parse_enterprise_name
from service.domain.callers import Caller, Viewer
from service.domain.disclosure import disclosed_to
from service.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
)
from service.domain.sealed import PiiKind, SealedLegalRepresentative, SealedValue
from service.domain.verification import Verification
from service.domain.visibility import FieldGroup, Tier

log = structlog.get_logger(__name__)

MAX_FAILED_PROOFS = 5
FAILED_PROOF_WINDOW = dt.timedelta(hours=24)
PURPOSE = "data_subject_access"
SCENARIO = "personal_data_export"


@dataclass(frozen=True)
class HeldValue:
    source: str
    """Where it is held: "registry" or "verification:<id>"."""
    field: str
    """"name", "id_number" or "granted_by"."""
    value: str


class ProofAttempts(Protocol):
    async def failed_proofs_since(self, uscc: str, since: dt.datetime) -> Sequence[dt.datetime]: ...

    async def record_failed_proof(self, uscc: str, at: dt.datetime) -> None: ...


class HeldVerifications(Protocol):
    async def of_enterprise(self, uscc: str) -> Sequence[Verification]: ...


class PersonalDataAccess:
    def __init__(
        self,
        registry: Registry,
        verifications: HeldVerifications,
        keys: PersonalDataKeys,
        attempts: ProofAttempts,
        ledger: DisclosureLedger,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._verifications = verifications
        self._keys = keys
        self._attempts = attempts
        self._ledger = ledger
        self._clock = clock

    async def export(
        self, caller: Caller, viewer: Viewer | None, parent: str, name: str, id_number: str
    ) -> list[HeldValue]:
        """Every value held of the enterprise's legal representative, unmasked."""
        uscc = parse_enterprise_name(parent)
        require_own_merchant(viewer, uscc, "downloads its legal representative's data")
        _check_proof_shape(name, id_number)
        now = self._clock.now()
        failures = await self._attempts.failed_proofs_since(uscc, now - FAILED_PROOF_WINDOW)
        if len(failures) >= MAX_FAILED_PROOFS:
            retry = min(failures) + FAILED_PROOF_WINDOW - now
            raise ResourceExhausted(
                "too many identity proofs failed for this enterprise; try again later",
                reason="IDENTITY_PROOF_ATTEMPTS_EXCEEDED",
                retry_after_seconds=max(1.0, retry.total_seconds()),
            )
        sealer = await self._keys.sealer(uscc)
        if sealer.withholding:
            raise FailedPrecondition(
                "the legal representative's data was destroyed on a withdrawal or deletion",
                reason="PERSONAL_DATA_DESTROYED",
            )
        record = await self._registry.lookup(uscc)
        held = [(f"verification:{v.id}", v) for v in await self._verifications.of_enterprise(uscc)]
        representatives = [("registry", record.legal_representative)] if record else []
        representatives += [(source, v.submission.legal_representative) for source, v in held]
        if not any(_proves(sealer, rep, name, id_number) for _, rep in representatives):
            await self._attempts.record_failed_proof(uscc, now)
            log.info("identity_proof_failed", uscc=uscc)
            raise PermissionDenied(
                "the name and ID number do not match the legal representative the service "
                "holds for this enterprise",
                reason="IDENTITY_NOT_PROVEN",
            )
        values = []
        for source, rep in representatives:
            values += await self._opened(source, rep.name, "name")
            if rep.id_number is not None:
                values += await self._opened(source, rep.id_number, "id_number")
        for source, verification in held:
            values += await self._opened(
                source, verification.authorisation.granted_by, "granted_by"
            )
        await self._ledger.record(
            disclosed_to(
                caller,
                uscc,
                tier=Tier.MERCHANT.value,
                purpose=PURPOSE,
                scenario=SCENARIO,
                fields=[FieldGroup.LEGAL_REPRESENTATIVE.value],
                at=now,
            )
        )
        return values

    async def _opened(self, source: str, sealed: SealedValue, field: str) -> list[HeldValue]:
        if sealed.destroyed:
            return []
        return [HeldValue(source, field, await self._keys.open(sealed))]


def _proves(sealer: Sealer, rep: SealedLegalRepresentative, name: str, id_number: str) -> bool:
    if rep.destroyed or rep.id_number is None or rep.id_number.destroyed:
        return False
    return hmac.compare_digest(
        rep.name.digest, sealer.digest(PiiKind.PERSON_NAME, name)
    ) and hmac.compare_digest(rep.id_number.digest, sealer.digest(PiiKind.ID_NUMBER, id_number))


def _check_proof_shape(name: str, id_number: str) -> None:
    problems = []
    if not name.strip() or len(name) > 64:
        problems.append(FieldViolation("identity_proof.name", "1 to 64 characters", "REQUIRED"))
    if not id_number.strip() or len(id_number) > 32:
        problems.append(
            FieldViolation("identity_proof.id_number", "1 to 32 characters", "REQUIRED")
        )
    if problems:
        raise InvalidArgument(problems, "the identity proof is incomplete")
