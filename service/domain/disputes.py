"""Disputes: a merchant says an item of its archive, level or verification is wrong.

The item is named the way the level's reasons name the records behind them
(`judicial:<entry>`, `conduct:<platform>:<record>`, `certification:<platform>:<record>`,
`verification:<id>`), or as a field group of the public information archive
(`public.status`, ...), or `integrity_level` for the level itself. While a dispute is open
or in review, every viewer is shown that item as under dispute.

Ops answer within RESPONSE_DAYS: the Regulation on the Administration of the Credit
Reporting Industry (征信业管理条例, article 25) gives a credit reporting body 20 days from
an objection to check it and deal with it. A dispute ends corrected (the fact gets a new
version, its history kept, and the level is worked out again) or rejected with a reason
the merchant is shown.

Pure rules: the use cases keep disputes, apply corrections and answer callers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from enum import StrEnum

from service.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from service.domain.free_text import text_problem
from service.domain.visibility import FieldGroup

RESPONSE_DAYS = 20
STATEMENT_MAX = 2000
EVIDENCE_MAX = 500
REASON_MAX = 2000
LEVEL_ITEM = "integrity_level"
_RECORD = re.compile(
    r"(judicial:[A-Za-z0-9_.:-]{1,64}"
    r"|(conduct|certification):[a-z0-9][a-z0-9-]{0,31}:[A-Za-z0-9_.:-]{1,64}"
    r"|verification:[0-9a-f-]{36})"
)
_FIELD_ITEMS = frozenset(group.value for group in FieldGroup if group.value.startswith("public."))


class DisputeState(StrEnum):
    OPEN = "open"
    IN_REVIEW = "in_review"
    CORRECTED = "corrected"
    REJECTED = "rejected"

    @property
    def pending(self) -> bool:
        """Still to be answered: the item shows as under dispute."""
        return self in (DisputeState.OPEN, DisputeState.IN_REVIEW)


class Resolution(StrEnum):
    CORRECTED = "corrected"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Dispute:
    id: str
    uscc: str
    item: str
    """What is disputed (see the module's docstring)."""
    statement: str
    """What is wrong, in the merchant's words."""
    evidence: str
    """A reference to the merchant's evidence (a document number, a file id); may be empty."""
    opened_by: str
    """The merchant user who opened it."""
    open_time: dt.datetime
    deadline: dt.datetime
    state: DisputeState = DisputeState.OPEN
    assignee: str = ""
    reason: str = ""
    """Why it was resolved as it was: the merchant is shown it."""
    resolve_time: dt.datetime | None = None

    def overdue(self, now: dt.datetime) -> bool:
        return self.state.pending and now > self.deadline

    def due_within(self, now: dt.datetime, window: dt.timedelta) -> bool:
        """Still to be answered and its deadline within the window (or past)."""
        return self.state.pending and self.deadline <= now + window


def item_problem(item: str) -> FieldViolation | None:
    if item == LEVEL_ITEM or item in _FIELD_ITEMS or _RECORD.fullmatch(item):
        return None
    return FieldViolation(
        "item",
        "must name a record (judicial:<id>, conduct:<platform>:<id>, "
        "certification:<platform>:<id>, verification:<id>), a public field group "
        f"({', '.join(sorted(_FIELD_ITEMS))}) or {LEVEL_ITEM}",
        "DISPUTE_ITEM_UNKNOWN",
    )


def open_dispute(
    dispute_id: str,
    uscc: str,
    item: str,
    statement: str,
    evidence: str,
    opened_by: str,
    now: dt.datetime,
) -> Dispute:
    """A new dispute, answered by RESPONSE_DAYS from now; InvalidArgument naming every field
    that is not acceptable. Texts are kept as written (trimmed), never interpreted."""
    problems = [
        p
        for p in (
            item_problem(item),
            text_problem("statement", statement, STATEMENT_MAX, required=True),
            text_problem("evidence", evidence, EVIDENCE_MAX, required=False),
        )
        if p is not None
    ]
    if problems:
        raise InvalidArgument(problems, "the dispute could not be opened as asked")
    return Dispute(
        id=dispute_id,
        uscc=uscc,
        item=item,
        statement=statement.strip(),
        evidence=evidence.strip(),
        opened_by=opened_by,
        open_time=now,
        deadline=now + dt.timedelta(days=RESPONSE_DAYS),
    )


def take(dispute: Dispute, assignee: str, now: dt.datetime) -> Dispute:
    """Ops take an open dispute into review; taking one already in review hands it over."""
    del now  # a review's start is not a deadline; the open time's deadline still runs
    if not dispute.state.pending:
        raise FailedPrecondition(
            f"the dispute is already {dispute.state.value}", reason="DISPUTE_RESOLVED"
        )
    if not assignee.strip():
        raise InvalidArgument([FieldViolation("assignee", "is required", "REQUIRED")])
    return replace(dispute, state=DisputeState.IN_REVIEW, assignee=assignee.strip())


def resolve(dispute: Dispute, resolution: Resolution, reason: str, now: dt.datetime) -> Dispute:
    """End a dispute in review; the reason is what the merchant is shown."""
    if dispute.state is not DisputeState.IN_REVIEW:
        reason_code = "DISPUTE_RESOLVED" if not dispute.state.pending else "DISPUTE_NOT_IN_REVIEW"
        raise FailedPrecondition(
            f"a dispute is resolved from review; this one is {dispute.state.value}",
            reason=reason_code,
        )
    problem = text_problem("reason", reason, REASON_MAX, required=True)
    if problem is not None:
        raise InvalidArgument([problem])
    state = DisputeState(resolution.value)
    return replace(dispute, state=state, reason=reason.strip(), resolve_time=now)


def under_dispute(disputes: list[Dispute]) -> frozenset[str]:
    """The items every viewer must see marked: those of disputes still to be answered."""
    return frozenset(d.item for d in disputes if d.state.pending)
