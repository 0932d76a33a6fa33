"""Judicial and regulatory entries: when they count, and what they become.

A dishonest-debtor listing lasts two years unless extended or removed early; an
abnormal-operations listing is removable, and one still there after three years
becomes a serious-violation listing. A removed or expired entry stops counting and
stays in history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class JudicialEntryKind(StrEnum):
    DISHONEST_DEBTOR = "dishonest_debtor"
    ABNORMAL_OPERATIONS = "abnormal_operations"
    SERIOUS_VIOLATION = "serious_violation"
    ADMINISTRATIVE_PENALTY = "administrative_penalty"


ABNORMAL_OPERATIONS_ESCALATION_YEARS = 3


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class JudicialEntry:
    entry_id: str
    kind: JudicialEntryKind
    authority: str
    reason: str
    listing_date: dt.date
    removal_date: dt.date | None
    expiry_date: dt.date | None
    source: str
    case_number: str

    def is_active(self, on: dt.date) -> bool:
        if self.listing_date > on:
            return False
        if self.removal_date is not None and self.removal_date <= on:
            return False
        return self.expiry_date is None or self.expiry_date > on

    def kind_on(self, on: dt.date) -> JudicialEntryKind:
        """The kind the entry reads as on a date, after the three-year escalation."""
        escalates = _years_after(self.listing_date, ABNORMAL_OPERATIONS_ESCALATION_YEARS)
        if (
            self.kind is JudicialEntryKind.ABNORMAL_OPERATIONS
            and self.is_active(on)
            and on >= escalates
        ):
            return JudicialEntryKind.SERIOUS_VIOLATION
        return self.kind
