"""Dispute rules: what may be disputed, the 20-day answer, and the states a dispute passes."""

from __future__ import annotations

import datetime as dt

import pytest

from service.domain.disputes import (
    RESPONSE_DAYS,
    DisputeState,
    Resolution,
    open_dispute,
    resolve,
    take,
    under_dispute,
)
from service.domain.errors import FailedPrecondition, InvalidArgument

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
USCC = "91330106MA27XXXXXX"


@pytest.mark.parametrize(
    "item",
    [
        "judicial:J-1",
        "conduct:test-platform:C-9",
        "certification:demo:CERT-1",
        "verification:0b7c6e1e-5d0a-4c39-9f43-1c2d3e4f5a6b",
        "public.status",
        "integrity_level",
    ],
)
def test_items_named_as_the_levels_reasons_name_them_may_be_disputed(item: str) -> None:
    dispute = open_dispute("d1", USCC, item, "不对", "", "demo:owner", NOW)
    assert dispute.state is DisputeState.OPEN
    assert dispute.deadline == NOW + dt.timedelta(days=RESPONSE_DAYS)
    assert under_dispute([dispute]) == {item}


def test_every_problem_of_a_dispute_is_named_at_once() -> None:
    with pytest.raises(InvalidArgument) as refused:
        open_dispute("d1", USCC, "business_integrity", " ", "x" * 501, "demo:owner", NOW)
    found = {(v.field, v.reason) for v in refused.value.violations}
    assert found == {
        ("item", "DISPUTE_ITEM_UNKNOWN"),
        ("statement", "REQUIRED"),
        ("evidence", "TOO_LONG"),
    }
    with pytest.raises(InvalidArgument) as controls:
        open_dispute("d1", USCC, "judicial:J-1", "abc\u202e", "", "demo:owner", NOW)
    assert controls.value.violations[0].reason == "CHARACTER_NOT_ALLOWED"


def test_a_dispute_is_taken_then_resolved_and_then_no_longer_marks_its_item() -> None:
    dispute = open_dispute("d1", USCC, "judicial:J-1", "已撤销", "", "demo:owner", NOW)
    with pytest.raises(FailedPrecondition) as early:
        resolve(dispute, Resolution.REJECTED, "记录属实", NOW)
    assert early.value.reason == "DISPUTE_NOT_IN_REVIEW"
    taken = take(dispute, "ops-zhang", NOW)
    assert taken.state is DisputeState.IN_REVIEW and taken.assignee == "ops-zhang"
    assert take(taken, "ops-li", NOW).assignee == "ops-li"  # handed over
    later = NOW + dt.timedelta(days=3)
    rejected = resolve(taken, Resolution.REJECTED, "法院确认该记录仍有效", later)
    assert rejected.state is DisputeState.REJECTED and rejected.resolve_time == later
    assert under_dispute([rejected]) == frozenset()
    with pytest.raises(FailedPrecondition) as again:
        take(rejected, "ops-li", later)
    assert again.value.reason == "DISPUTE_RESOLVED"
    with pytest.raises(InvalidArgument):
        resolve(take(dispute, "ops", NOW), Resolution.CORRECTED, "", later)


def test_ops_see_the_disputes_near_their_deadline() -> None:
    dispute = open_dispute("d1", USCC, "public.status", "状态有误", "", "demo:owner", NOW)
    week = dt.timedelta(days=7)
    assert not dispute.due_within(NOW, week)
    near = NOW + dt.timedelta(days=RESPONSE_DAYS - 3)
    assert dispute.due_within(near, week) and not dispute.overdue(near)
    assert dispute.overdue(NOW + dt.timedelta(days=RESPONSE_DAYS, seconds=1))
    done = resolve(take(dispute, "ops", NOW), Resolution.CORRECTED, "已更正", near)
    assert not done.due_within(near, week) and not done.overdue(near + week)
