"""The PENDING re-check schedule and what a new decision replaces: pure rules."""

from __future__ import annotations

import datetime as dt

import pytest

from service.domain.recheck_schedule import (
    RecheckSchedule,
    RecheckState,
    expired_decision,
    replacement,
)
from service.domain.verification import F_USCC, Decision, Outcome, Reason, ReasonCode

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def decision(outcome: Outcome, *codes: ReasonCode) -> Decision:
    return Decision(outcome, tuple(Reason(code, F_USCC, "") for code in codes), (), None)


NOT_FOUND = decision(Outcome.PENDING, ReasonCode.REGISTRY_RECORD_NOT_FOUND)
UNAVAILABLE = decision(Outcome.PENDING, ReasonCode.REGISTRY_UNAVAILABLE)
VERIFIED = decision(Outcome.VERIFIED)
REVOKED = decision(Outcome.REJECTED, ReasonCode.REVOKED)


def test_the_waits_grow_then_repeat_the_last() -> None:
    schedule = RecheckSchedule()
    state = schedule.start(Outcome.PENDING, T0)
    assert state == RecheckState(T0 + 5 * MINUTE, 0, T0)
    now, waits = T0, []
    for _ in range(7):
        assert state.next_check_time is not None
        now = state.next_check_time
        state = schedule.after_attempt(state, Outcome.PENDING, now)
        assert state.next_check_time is not None
        waits.append(state.next_check_time - now)
    assert waits == [
        15 * MINUTE,
        dt.timedelta(hours=1),
        dt.timedelta(hours=6),
        dt.timedelta(days=1),
        dt.timedelta(days=1),
        dt.timedelta(days=1),
        dt.timedelta(days=1),
    ]
    assert state.attempts == 7 and state.pending_since == T0


def test_the_last_check_falls_on_the_maximum_age() -> None:
    schedule = RecheckSchedule(delays=(dt.timedelta(days=1),), max_age=dt.timedelta(hours=36))
    state = schedule.after_attempt(
        schedule.start(Outcome.PENDING, T0), Outcome.PENDING, T0 + dt.timedelta(days=1)
    )
    assert state.next_check_time == T0 + dt.timedelta(hours=36)
    assert not schedule.has_expired(state, T0 + dt.timedelta(hours=35))
    assert schedule.has_expired(state, T0 + dt.timedelta(hours=36))


def test_a_decided_verification_has_nothing_scheduled() -> None:
    schedule = RecheckSchedule()
    assert schedule.start(Outcome.VERIFIED, T0) == RecheckState(None, 0, None)
    pending = schedule.start(Outcome.PENDING, T0)
    assert schedule.after_attempt(pending, Outcome.VERIFIED, T0 + 5 * MINUTE) == RecheckState(
        None, 1, T0
    )
    assert schedule.decided(pending) == RecheckState(None, 0, T0)


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError):
        RecheckSchedule(delays=())
    with pytest.raises(ValueError):
        RecheckSchedule(delays=(dt.timedelta(0),))
    with pytest.raises(ValueError):
        RecheckSchedule(max_age=dt.timedelta(0))


def test_expiry_is_a_rejection_with_its_own_reason() -> None:
    expired = expired_decision(NOT_FOUND, dt.timedelta(days=30))
    assert expired.outcome is Outcome.REJECTED
    assert [r.code for r in expired.reasons] == [ReasonCode.PENDING_EXPIRED]
    assert "30 days" in expired.reasons[0].message


def test_what_a_new_decision_replaces() -> None:
    assert replacement(NOT_FOUND, VERIFIED) == VERIFIED
    assert replacement(NOT_FOUND, UNAVAILABLE) is None
    assert replacement(NOT_FOUND, NOT_FOUND) is None
    assert replacement(VERIFIED, REVOKED) == REVOKED
    assert replacement(VERIFIED, VERIFIED) is None
    # No answer from the registry says nothing against a decision taken on its record.
    assert replacement(VERIFIED, UNAVAILABLE) is None
    assert replacement(REVOKED, NOT_FOUND) is None
