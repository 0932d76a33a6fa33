"""Deciding a verification again: when a PENDING one is next asked about, and what a new
decision changes.

Registries publish days to weeks late, so a PENDING verification is asked about again at
growing intervals (a record published within minutes is found within minutes; one that
takes weeks costs a question a day) until the registry answers or the PENDING has lasted
the maximum age. Then it ends REJECTED with its own reason, PENDING_EXPIRED, which a
platform tells apart from a mismatch; a later re-check that finds the record still
replaces it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.domain.verification import F_USCC, Decision, Outcome, Reason, ReasonCode

DEFAULT_DELAYS = (
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
    dt.timedelta(hours=6),
    dt.timedelta(days=1),
)
DEFAULT_MAX_AGE = dt.timedelta(days=30)


@dataclass(frozen=True)
class RecheckState:
    """Where a verification stands in its re-check schedule."""

    # None: nothing scheduled (the verification is decided).
    next_check_time: dt.datetime | None
    # Scheduled re-checks made so far.
    attempts: int
    # When the verification first became PENDING; None if it never was.
    pending_since: dt.datetime | None


@dataclass(frozen=True)
class RecheckSchedule:
    delays: tuple[dt.timedelta, ...] = DEFAULT_DELAYS
    """The wait before each re-check, the first counted from the PENDING decision; the
    last repeats for as long as the PENDING lasts."""
    max_age: dt.timedelta = DEFAULT_MAX_AGE
    """How long a verification may stay PENDING before it ends PENDING_EXPIRED."""

    def __post_init__(self) -> None:
        if not self.delays or any(d <= dt.timedelta(0) for d in self.delays):
            raise ValueError("re-check delays must be positive, and at least one")
        if self.max_age <= dt.timedelta(0):
            raise ValueError("the maximum PENDING age must be positive")

    def delay(self, attempts: int) -> dt.timedelta:
        return self.delays[min(attempts, len(self.delays) - 1)]

    def start(self, outcome: Outcome, now: dt.datetime) -> RecheckState:
        """The schedule of a verification just made with this outcome."""
        if outcome is not Outcome.PENDING:
            return RecheckState(None, 0, None)
        return RecheckState(self._next(now, now, 0), 0, now)

    @staticmethod
    def decided(state: RecheckState) -> RecheckState:
        """The schedule of a verification a re-check decided: nothing more to ask."""
        return RecheckState(None, state.attempts, state.pending_since)

    def after_attempt(
        self, state: RecheckState, outcome: Outcome, now: dt.datetime
    ) -> RecheckState:
        """The schedule after a scheduled re-check that decided this outcome."""
        attempts = state.attempts + 1
        if outcome is not Outcome.PENDING:
            return self.decided(RecheckState(None, attempts, state.pending_since))
        since = state.pending_since or now
        return RecheckState(self._next(since, now, attempts), attempts, since)

    def has_expired(self, state: RecheckState, now: dt.datetime) -> bool:
        return state.pending_since is not None and now - state.pending_since >= self.max_age

    def _next(self, since: dt.datetime, now: dt.datetime, attempts: int) -> dt.datetime:
        # The last check falls on the maximum age itself, not up to a delay after it.
        return min(now + self.delay(attempts), since + self.max_age)


def expired_decision(pending: Decision, max_age: dt.timedelta) -> Decision:
    """REJECTED because the registry gave no answer for max_age: its own reason."""
    days = max_age / dt.timedelta(days=1)
    reason = Reason(
        ReasonCode.PENDING_EXPIRED,
        F_USCC,
        f"the registry gave no decision within {days:g} days; submit a new verification "
        "once the enterprise is registered",
    )
    return Decision(Outcome.REJECTED, (reason,), pending.field_checks, pending.registry)


def same_result(a: Decision, b: Decision) -> bool:
    """Same outcome for the same reasons: a platform would act on both alike."""
    return a.outcome is b.outcome and [r.code for r in a.reasons] == [r.code for r in b.reasons]


def replacement(current: Decision, new: Decision) -> Decision | None:
    """What a new decision replaces the current one with; None: nothing changes.

    No answer from the registry (PENDING) never undoes a decision taken on its record: an
    outage or a record in transit says nothing against what was verified or rejected. Nor
    does one PENDING replace another: why the registry has no answer yet (unavailable, not
    published, moved) changes from one question to the next, and a platform acts on
    neither.
    """
    if new.outcome is Outcome.PENDING:
        return None
    if same_result(current, new):
        return None
    return new
