"""Deciding verifications again: an enterprise's on demand, PENDING ones on a schedule.

The registry is asked outside any transaction. What a new decision changes is then
written in ONE transaction, holding the verifications against concurrent re-checks: the
history entry, the new current decision, the schedule, the enterprise's level worked out
again (its store joins the transaction, so it reads the new decision), an outbox event
per change, and the change log that tells every replica's caches. Either all of it
commits or none of it does. The caches of this process are told once it has committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from service.app.levels import LevelService
from service.app.ports import (
    AlreadyApplied,
    Clock,
    Confirmation,
    ConfirmedDecision,
    RecheckUnitOfWorkFactory,
    RegistryUnanswered,
)
from service.app.registry_check import RegistryCheck
from service.domain.errors import FieldViolation, InvalidArgument, InvalidIdentifier
from service.domain.identifiers.uscc import parse_uscc
from service.domain.outbox import OutboxEvent, outcome_changed
from service.domain.recheck_schedule import (
    RecheckSchedule,
    RecheckState,
    expired_decision,
    replacement,
)
from service.domain.verification import (
    TRIGGER_PENDING_RECHECK,
    Decision,
    Outcome,
    OutcomeChange,
    ReasonCode,
    Verification,
)

log = structlog.get_logger("integrity.rechecks")

# How long a claimed PENDING verification is kept from other claimers: one whose claimer
# died falls due again after this; a live claimer has re-checked it well before.
RECHECK_LEASE = dt.timedelta(minutes=5)
MAX_KEY_LENGTH = 128
MAX_TRIGGER_LENGTH = 32


@dataclass(frozen=True)
class RecheckOutcome:
    uscc: str
    verification_id: str | None
    """The enterprise's newest verification; None if it has none."""
    outcome_before: Outcome | None
    outcome_after: Outcome | None
    reasons_after: tuple[ReasonCode, ...]
    level_class_before: str | None
    """Integrity level class before/after (None if none)."""
    level_class_after: str | None
    applied: bool
    """False: this key was applied before (a retry), nothing written."""
    verifications_checked: int
    """How many verifications of the enterprise were re-checked."""

    def to_document(self) -> dict[str, Any]:
        return {
            "uscc": self.uscc,
            "verification_id": self.verification_id,
            "outcome_before": _value(self.outcome_before),
            "outcome_after": _value(self.outcome_after),
            "reasons_after": [code.value for code in self.reasons_after],
            "level_class_before": self.level_class_before,
            "level_class_after": self.level_class_after,
            "verifications_checked": self.verifications_checked,
        }

    @classmethod
    def retried(cls, document: Mapping[str, Any]) -> RecheckOutcome:
        """What the first application of a key recorded, answered to its retry."""
        return cls(
            uscc=document["uscc"],
            verification_id=document["verification_id"],
            outcome_before=_outcome(document["outcome_before"]),
            outcome_after=_outcome(document["outcome_after"]),
            reasons_after=tuple(ReasonCode(code) for code in document["reasons_after"]),
            level_class_before=document["level_class_before"],
            level_class_after=document["level_class_after"],
            applied=False,
            verifications_checked=int(document["verifications_checked"]),
        )


def _value(outcome: Outcome | None) -> str | None:
    return None if outcome is None else outcome.value


def _outcome(value: str | None) -> Outcome | None:
    return None if value is None else Outcome(value)


@dataclass(frozen=True)
class _Target:
    """A verification to decide again, as it was read before the registry was asked."""

    verification: Verification
    decision: Decision
    # For a scheduled re-check: the attempt it makes, so that two claimers of the same
    # attempt cannot both apply it.
    attempt: int | None = None


@dataclass(frozen=True)
class PreparedRecheck:
    """What re-checking one enterprise needs from the database, read for many at once."""

    uscc: str
    key: str
    recorded: Mapping[str, Any] | None
    """What the key's first application recorded; None: not applied yet."""
    newest: tuple[tuple[Verification, RecheckState], ...]
    """Each caller's newest verification, newest first, with its schedule."""
    level_class: str | None


class VerificationRechecks:
    def __init__(
        self,
        uow: RecheckUnitOfWorkFactory,
        registry_check: RegistryCheck,
        levels: LevelService,
        clock: Clock,
        *,
        schedule: RecheckSchedule | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._uow = uow
        self._registry_check = registry_check
        self._levels = levels
        self._clock = clock
        self._schedule = schedule or RecheckSchedule()
        self._new_id = new_id

    async def recheck_enterprise(
        self, uscc: str, *, trigger: str, key: str, require_answer: bool = False
    ) -> RecheckOutcome:
        """Decide each caller's newest verification of the enterprise again (one registry
        question for all). Where an outcome changes: history entry, new current decision,
        level recomputed and an outbox event, all in ONE transaction. `key` makes it
        idempotent: a second call with the same key applies nothing and returns
        applied=False with the outcome recorded the first time. trigger: e.g.
        "pending_recheck", "batch". require_answer: where the registry cannot say for a
        verification, RegistryUnanswered and nothing recorded (not even the key), so that
        a batch asks again later rather than record an outcome nobody checked."""
        _check_request(uscc, trigger, key)
        async with self._uow(read_only=True) as uow:
            recorded = await uow.rechecks.applied(uscc, key)
            if recorded is not None:
                return RecheckOutcome.retried(recorded)
            newest = await uow.rechecks.newest_per_caller(uscc)
        decisions = await self._registry_check.decide_all([v.submission for v in newest])
        if require_answer:
            _answered(decisions)
        targets = [_Target(v, d) for v, d in zip(newest, decisions, strict=True)]
        return await self._apply_keyed(uscc, targets, trigger, key)

    async def prepare(self, keys: Sequence[tuple[str, str]]) -> list[PreparedRecheck]:
        """What recheck_prepared needs for each (uscc, key), in three queries for all."""
        for uscc, key in keys:
            _check_request(uscc, "batch", key)
        usccs = sorted({uscc for uscc, _ in keys})
        await self._registry_check.read_ahead(usccs)
        async with self._uow(read_only=True) as uow:
            recorded = await uow.rechecks.applied_of(keys)
            newest = await uow.rechecks.newest_per_caller_of(usccs)
            classes = await uow.levels.current_classes(usccs)
        return [
            PreparedRecheck(
                uscc,
                key,
                recorded.get((uscc, key)),
                tuple(newest.get(uscc, ())),
                classes[uscc][0] if uscc in classes else None,
            )
            for uscc, key in keys
        ]

    async def recheck_prepared(
        self, prepared: PreparedRecheck, *, trigger: str
    ) -> RecheckOutcome | Confirmation:
        """recheck_enterprise on what prepare() read, answer required. Where every
        verification keeps its decision and schedule, a Confirmation for the caller to
        write in bulk (it checks the decisions still stand); else applied here, the full
        way."""
        _check_request(prepared.uscc, trigger, prepared.key)
        if prepared.recorded is not None:
            return RecheckOutcome.retried(prepared.recorded)
        newest = [verification for verification, _ in prepared.newest]
        decisions = await self._registry_check.decide_all([v.submission for v in newest])
        _answered(decisions)
        targets = [_Target(v, d) for v, d in zip(newest, decisions, strict=True)]
        now = self._clock.now()
        if all(
            self._next(verification, state, target, now) == (None, state)
            for (verification, state), target in zip(prepared.newest, targets, strict=True)
        ):
            return self._confirmation(prepared, targets, trigger)
        return await self._apply_keyed(prepared.uscc, targets, trigger, prepared.key)

    def _confirmation(
        self, prepared: PreparedRecheck, targets: Sequence[_Target], trigger: str
    ) -> Confirmation:
        first = targets[0].verification if targets else None
        outcome = RecheckOutcome(
            uscc=prepared.uscc,
            verification_id=first.id if first else None,
            outcome_before=first.decision.outcome if first else None,
            outcome_after=first.decision.outcome if first else None,
            reasons_after=tuple(r.code for r in first.decision.reasons) if first else (),
            level_class_before=prepared.level_class,
            level_class_after=prepared.level_class,
            applied=True,
            verifications_checked=len(targets),
        )
        return Confirmation(
            result=outcome,
            uscc=prepared.uscc,
            key=prepared.key,
            trigger=trigger,
            document=outcome.to_document(),
            decisions=tuple(
                ConfirmedDecision(
                    t.verification.id,
                    t.verification.decision.outcome.value,
                    tuple(r.code.value for r in t.verification.decision.reasons),
                )
                # A PENDING answer confirms nothing: its check time stays.
                for t in targets
                if t.decision.outcome is not Outcome.PENDING
            ),
        )

    async def _apply_keyed(
        self, uscc: str, targets: Sequence[_Target], trigger: str, key: str
    ) -> RecheckOutcome:
        try:
            return await self._apply(uscc, targets, trigger, key, record_key=True)
        except AlreadyApplied:
            # A concurrent call with the same key committed first: answer as a retry.
            async with self._uow(read_only=True) as uow:
                recorded = await uow.rechecks.applied(uscc, key)
            if recorded is None:
                raise
            return RecheckOutcome.retried(recorded)

    async def run_due(self, limit: int) -> int:
        """Re-check up to `limit` PENDING verifications whose next check time has come;
        the number claimed. Safe in every replica at once: each is claimed by one."""
        now = self._clock.now()
        async with self._uow() as uow:
            claimed = await uow.rechecks.claim_due(now, now + RECHECK_LEASE, limit)
            await uow.commit()
        for verification_id in claimed:
            try:
                await self._recheck_scheduled(verification_id)
            except Exception as error:
                # Its claim lapses and it falls due again; the others go ahead.
                log.warning(
                    "pending_recheck_failed",
                    verification_id=verification_id,
                    error_type=type(error).__name__,
                )
        return len(claimed)

    async def registry_changed(self, usccs: Sequence[str]) -> int:
        """The registry published records of these enterprises: their PENDING
        verifications are due now rather than at their next scheduled time (which may be
        a day away). How many were brought forward."""
        if not usccs:
            return 0
        now = self._clock.now()
        async with self._uow() as uow:
            brought = await uow.rechecks.bring_forward(usccs, now)
            await uow.commit()
        return brought

    async def next_due_time(self) -> dt.datetime | None:
        """The earliest next check time of any PENDING verification, claimed ones included."""
        async with self._uow(read_only=True) as uow:
            return await uow.rechecks.next_due_time()

    async def _recheck_scheduled(self, verification_id: str) -> None:
        async with self._uow(read_only=True) as uow:
            found = await uow.rechecks.current([verification_id], hold=False)
        if verification_id not in found:
            return
        verification, state = found[verification_id]
        decision = await self._registry_check.decide(verification.submission)
        if decision.outcome is Outcome.PENDING and self._schedule.has_expired(
            state, self._clock.now()
        ):
            decision = expired_decision(decision, self._schedule.max_age)
        attempt = state.attempts + 1
        target = _Target(verification, decision, attempt)
        # AlreadyApplied: another claimer made this attempt (its claim had lapsed).
        with contextlib.suppress(AlreadyApplied):
            await self._apply(
                verification.uscc,
                [target],
                TRIGGER_PENDING_RECHECK,
                f"{TRIGGER_PENDING_RECHECK}:{attempt}",
                record_key=False,
            )

    async def _apply(
        self,
        uscc: str,
        targets: Sequence[_Target],
        trigger: str,
        key: str,
        *,
        record_key: bool,
    ) -> RecheckOutcome:
        now = self._clock.now()
        events: list[OutboxEvent] = []
        async with self._uow() as uow:
            current = await uow.rechecks.current([t.verification.id for t in targets], hold=True)
            level_before = await uow.levels.current(uscc)
            after: dict[str, Decision] = {}
            checked: list[str] = []
            for target in targets:
                if target.verification.id not in current:
                    continue
                stored, state = current[target.verification.id]
                decision, new_state = self._next(stored, state, target, now)
                if new_state != state:
                    await uow.rechecks.schedule(stored.id, new_state)
                after[stored.id] = decision or stored.decision
                if target.decision.outcome is not Outcome.PENDING:
                    checked.append(stored.id)
                if decision is not None:
                    change = OutcomeChange(_next_sequence(stored), decision, trigger, now)
                    await uow.rechecks.change(stored.id, change, key)
                    events.append(outcome_changed(self._new_id(), stored, change))
            await uow.rechecks.checked(checked, now)
            await uow.outbox.add(events)
            if events:
                await self._levels.recompute_joining(uow.levels, [uscc])
            level_after = await uow.levels.current(uscc) if events else level_before
            # The newest verification's id, or "" (in neither mapping) when there is none.
            newest = targets[0].verification.id if targets else ""
            outcome = RecheckOutcome(
                uscc=uscc,
                verification_id=newest or None,
                outcome_before=current[newest][0].decision.outcome if newest in current else None,
                outcome_after=after[newest].outcome if newest in after else None,
                reasons_after=tuple(r.code for r in after[newest].reasons)
                if newest in after
                else (),
                level_class_before=level_before.level_class if level_before else None,
                level_class_after=level_after.level_class if level_after else None,
                applied=True,
                verifications_checked=len(after),
            )
            if record_key:
                await uow.rechecks.record_applied(uscc, key, trigger, outcome.to_document(), now)
            if events:
                # Last: the change log's lock is then held only for the commit.
                await uow.rechecks.enterprises_changed([uscc], now)
            await uow.commit()
        if events:
            self._levels.committed([uscc])
            for event in events:
                log.info(
                    "verification_outcome_changed",
                    verification_id=event.aggregate_id,
                    uscc=uscc,
                    trigger=trigger,
                    outcome_before=event.payload["outcome_before"],
                    outcome_after=event.payload["outcome_after"],
                    reasons=event.payload["reasons_after"],
                )
        return outcome

    def _next(
        self, stored: Verification, state: RecheckState, target: _Target, now: dt.datetime
    ) -> tuple[Decision | None, RecheckState]:
        """The decision replacing the stored one (None: it stays), and the schedule after."""
        if target.attempt is None:
            decision = replacement(stored.decision, target.decision)
            # A replacement is never PENDING (see replacement): the schedule is over.
            return decision, state if decision is None else self._schedule.decided(state)
        if stored.decision.outcome is not Outcome.PENDING:
            # Decided meanwhile (a batch re-check): nothing more to ask.
            return None, self._schedule.decided(state)
        if target.attempt != state.attempts + 1:
            return None, state  # another claimer made this attempt meanwhile
        decision = replacement(stored.decision, target.decision)
        outcome = (decision or stored.decision).outcome
        return decision, self._schedule.after_attempt(state, outcome, now)


def _answered(decisions: Sequence[Decision]) -> None:
    """RegistryUnanswered when a source could not say for any of the decisions."""
    for decision in decisions:
        if decision.outcome is Outcome.PENDING and any(
            reason.code is ReasonCode.REGISTRY_UNAVAILABLE for reason in decision.reasons
        ):
            raise RegistryUnanswered(ReasonCode.REGISTRY_UNAVAILABLE.value)


def _next_sequence(verification: Verification) -> int:
    return verification.history[-1].sequence + 1 if verification.history else 1


def _check_request(uscc: str, trigger: str, key: str) -> None:
    violations: list[FieldViolation] = []
    try:
        parse_uscc(uscc)
    except InvalidIdentifier as invalid:
        violations.append(invalid.at("uscc"))
    if not trigger or len(trigger) > MAX_TRIGGER_LENGTH or not trigger.isprintable():
        violations.append(
            FieldViolation(
                "trigger", f"1 to {MAX_TRIGGER_LENGTH} printable characters", "TRIGGER_INVALID"
            )
        )
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        violations.append(
            FieldViolation("key", f"1 to {MAX_KEY_LENGTH} printable characters", "KEY_INVALID")
        )
    if violations:
        raise InvalidArgument(violations)
