"""Verification <-> row mapping. Sealed values go in as ciphertext, digest and mask."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection

from service.adapters.storage.tables import verification_history
from service.domain.licence import LicenceTerm, RegistrationStatus
from service.domain.recheck_schedule import RecheckState
from service.domain.registry import RegistrySummary
from service.domain.registry_sources import SourceKind
from service.domain.sealed import PiiKind, SealedLegalRepresentative, SealedValue
from service.domain.verification import (
    Authorisation,
    AuthorisationScope,
    Decision,
    FieldCheck,
    FieldResult,
    LicenceSubmission,
    Outcome,
    OutcomeChange,
    Reason,
    ReasonCode,
    Verification,
)


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def term_to_json(term: LicenceTerm) -> dict[str, Any]:
    return {
        "start": term.start.isoformat() if term.start else None,
        "end": term.end.isoformat() if term.end else None,
        "open_ended": term.open_ended,
    }


def term_from_json(document: Mapping[str, Any]) -> LicenceTerm:
    return LicenceTerm(
        _date(document["start"]), _date(document["end"]), bool(document["open_ended"])
    )


def field_check_to_json(check: FieldCheck) -> dict[str, Any]:
    document: dict[str, Any] = {"field": check.field, "result": check.result.value}
    # Only what is set: rows written before sources were named hold field and result alone.
    if check.source is not None:
        document["source"] = check.source.value
    if check.source_snapshot_time is not None:
        document["source_snapshot_time"] = check.source_snapshot_time.isoformat()
    if check.disagreeing_source is not None and check.disagreeing_result is not None:
        document["disagreeing_source"] = check.disagreeing_source.value
        document["disagreeing_result"] = check.disagreeing_result.value
    return document


def field_check_from_json(document: Mapping[str, Any]) -> FieldCheck:
    def optional(key: str) -> Any:
        return document.get(key) or None

    source, time = optional("source"), optional("source_snapshot_time")
    other, other_result = optional("disagreeing_source"), optional("disagreeing_result")
    return FieldCheck(
        document["field"],
        FieldResult(document["result"]),
        source=SourceKind(source) if source else None,
        source_snapshot_time=dt.datetime.fromisoformat(time) if time else None,
        disagreeing_source=SourceKind(other) if other else None,
        disagreeing_result=FieldResult(other_result) if other_result else None,
    )


def granted_by_from_row(row: RowMapping) -> SealedValue:
    # No digest: nothing compares who granted an authorisation, and a digest of a name
    # is one more thing to guess at.
    return SealedValue(
        PiiKind.PERSON_NAME, row["auth_granted_by_ct"], b"", row["auth_granted_by_masked"]
    )


def verification_to_row(v: Verification) -> dict[str, Any]:
    s, a, d = v.submission, v.authorisation, v.decision
    rep = s.legal_representative
    assert rep.id_number is not None  # a submission always carries the ID number
    return {
        "id": v.id,
        "uscc": s.uscc,
        "caller": v.caller,
        "request_id": v.request_id,
        "fingerprint": v.fingerprint,
        "enterprise_name": s.enterprise_name,
        "legal_rep_name_ct": rep.name.ciphertext,
        "legal_rep_name_digest": rep.name.digest,
        "legal_rep_name_masked": rep.name.masked,
        "legal_rep_id_ct": rep.id_number.ciphertext,
        "legal_rep_id_digest": rep.id_number.digest,
        "legal_rep_id_masked": rep.id_number.masked,
        "registered_address": s.registered_address,
        "term_start": s.term.start if s.term else None,
        "term_end": s.term.end if s.term else None,
        "term_open_ended": s.term.open_ended if s.term else None,
        "auth_granted_by_ct": a.granted_by.ciphertext,
        "auth_granted_by_masked": a.granted_by.masked,
        "auth_grant_time": a.grant_time,
        "auth_scopes": sorted(scope.value for scope in a.scopes),
        "auth_evidence_reference": a.evidence_reference,
        **decision_to_row(d),
        "create_time": v.create_time,
        "update_time": v.decision_time,
        "check_time": v.check_time,
    }


def decision_to_row(d: Decision) -> dict[str, Any]:
    """The columns a decision is kept in, on a verification and in its history alike."""
    registry = d.registry
    return {
        "outcome": d.outcome.value,
        "reasons": [
            {"code": r.code.value, "field": r.field, "message": r.message} for r in d.reasons
        ],
        "field_checks": [field_check_to_json(c) for c in d.field_checks],
        "registry_summary": None
        if registry is None
        else {
            "enterprise_name": registry.enterprise_name,
            "status": registry.status.value,
            "term": term_to_json(registry.term),
            "registration_authority": registry.registration_authority,
            "snapshot_time": registry.snapshot_time.isoformat(),
        },
    }


def decision_from_row(row: RowMapping) -> Decision:
    summary = row["registry_summary"]
    registry = None
    if summary is not None:
        registry = RegistrySummary(
            enterprise_name=summary["enterprise_name"],
            status=RegistrationStatus(summary["status"]),
            term=term_from_json(summary["term"]),
            registration_authority=summary["registration_authority"],
            snapshot_time=dt.datetime.fromisoformat(summary["snapshot_time"]),
        )
    return Decision(
        outcome=Outcome(row["outcome"]),
        reasons=tuple(
            Reason(ReasonCode(r["code"]), r["field"], r["message"]) for r in row["reasons"]
        ),
        field_checks=tuple(field_check_from_json(c) for c in row["field_checks"]),
        registry=registry,
    )


def history_to_row(verification_id: str, change: OutcomeChange, key: str) -> dict[str, Any]:
    return {
        "verification_id": verification_id,
        "sequence": change.sequence,
        **decision_to_row(change.decision),
        "trigger": change.trigger,
        "idempotency_key": key,
        "change_time": change.change_time,
    }


def history_from_row(row: RowMapping) -> OutcomeChange:
    return OutcomeChange(
        sequence=row["sequence"],
        decision=decision_from_row(row),
        trigger=row["trigger"],
        change_time=row["change_time"],
    )


def verification_from_row(row: RowMapping, history: Sequence[OutcomeChange] = ()) -> Verification:
    term = None
    if row["term_open_ended"] is not None:
        term = LicenceTerm(row["term_start"], row["term_end"], bool(row["term_open_ended"]))
    representative = SealedLegalRepresentative(
        name=SealedValue(
            PiiKind.PERSON_NAME,
            row["legal_rep_name_ct"],
            row["legal_rep_name_digest"],
            row["legal_rep_name_masked"],
        ),
        id_number=SealedValue(
            PiiKind.ID_NUMBER,
            row["legal_rep_id_ct"],
            row["legal_rep_id_digest"],
            row["legal_rep_id_masked"],
        ),
    )
    return Verification(
        id=row["id"],
        caller=row["caller"],
        request_id=row["request_id"],
        fingerprint=row["fingerprint"],
        submission=LicenceSubmission(
            uscc=row["uscc"],
            enterprise_name=row["enterprise_name"],
            legal_representative=representative,
            registered_address=row["registered_address"],
            term=term,
        ),
        authorisation=Authorisation(
            granted_by=granted_by_from_row(row),
            grant_time=row["auth_grant_time"],
            scopes=frozenset(AuthorisationScope(s) for s in row["auth_scopes"]),
            evidence_reference=row["auth_evidence_reference"],
        ),
        decision=decision_from_row(row),
        create_time=row["create_time"],
        update_time=row["update_time"],
        check_time=row["check_time"],
        history=tuple(history),
    )


async def load_histories(
    connection: AsyncConnection, verification_ids: Sequence[str]
) -> dict[str, list[OutcomeChange]]:
    """The histories of many verifications in one query, each oldest first."""
    if not verification_ids:
        return {}
    query = (
        select(verification_history)
        .where(verification_history.c.verification_id.in_(verification_ids))
        .order_by(verification_history.c.verification_id, verification_history.c.sequence)
    )
    histories: dict[str, list[OutcomeChange]] = {}
    for row in (await connection.execute(query)).mappings():
        histories.setdefault(row["verification_id"], []).append(history_from_row(row))
    return histories


def schedule_to_row(state: RecheckState) -> dict[str, Any]:
    return {
        "recheck_time": state.next_check_time,
        "recheck_attempts": state.attempts,
        "pending_since": state.pending_since,
    }


def schedule_from_row(row: RowMapping) -> RecheckState:
    return RecheckState(row["recheck_time"], int(row["recheck_attempts"]), row["pending_since"])
