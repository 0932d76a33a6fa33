"""Events for the outside world, written with the change they report and sent later.

An event names what changed and carries what a recipient needs to act, and no personal
data: not the legal representative, not who granted the authorisation, not the free text
of a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.verification import OutcomeChange, Verification

OUTCOME_CHANGED = "verification.outcome_changed"
VERIFICATION_AGGREGATE = "verification"


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    uscc: str
    payload: Mapping[str, Any]
    create_time: dt.datetime


def outcome_changed(event_id: str, before: Verification, change: OutcomeChange) -> OutboxEvent:
    """A verification's decision changed: the caller that made it is told, later."""
    after = change.decision
    return OutboxEvent(
        event_id=event_id,
        event_type=OUTCOME_CHANGED,
        aggregate_type=VERIFICATION_AGGREGATE,
        aggregate_id=before.id,
        uscc=before.uscc,
        payload={
            "verification_id": before.id,
            "uscc": before.uscc,
            "caller": before.caller,
            "request_id": before.request_id,
            "sequence": change.sequence,
            "trigger": change.trigger,
            "change_time": change.change_time.isoformat(),
            "outcome_before": before.decision.outcome.value,
            "outcome_after": after.outcome.value,
            "reasons_after": [reason.code.value for reason in after.reasons],
        },
        create_time=change.change_time,
    )
