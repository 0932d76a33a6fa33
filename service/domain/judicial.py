"""Judicial and regulatory entries: when they count, and what they become.

A dishonest-debtor listing lasts two years unless extended or removed early; an
abnormal-operations listing is removable, and one still there after three years
becomes a serious-violation listing. A removed or expired entry stops counting and
stays in history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.domain.registry_rows import RowRejected, row_date, row_text


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

    @property
    def escalation_date(self) -> dt.date | None:
        """The day an abnormal-operations listing still active reads as a serious violation."""
        if self.kind is not JudicialEntryKind.ABNORMAL_OPERATIONS:
            return None
        return _years_after(self.listing_date, ABNORMAL_OPERATIONS_ESCALATION_YEARS)

    def kind_on(self, on: dt.date) -> JudicialEntryKind:
        """The kind the entry reads as on a date, after the three-year escalation."""
        escalates = self.escalation_date
        if escalates is not None and self.is_active(on) and on >= escalates:
            return JudicialEntryKind.SERIOUS_VIOLATION
        return self.kind


DISHONEST_DEBTOR_YEARS = 2


def parse_judicial_row(row: Mapping[str, Any]) -> tuple[str, JudicialEntry]:
    """(uscc as given, entry) from an import row; the caller checks the USCC."""
    try:
        kind = JudicialEntryKind(str(row.get("kind", "")))
    except ValueError as exc:
        options = ", ".join(k.value for k in JudicialEntryKind)
        raise RowRejected(f"kind must be one of {options}") from exc
    listing = row_date(row, "listing_date", required=True)
    assert listing is not None
    removal = row_date(row, "removal_date", required=False)
    expiry = row_date(row, "expiry_date", required=False)
    if kind is JudicialEntryKind.DISHONEST_DEBTOR and expiry is None:
        # Listed for two years unless the court says otherwise.
        expiry = _years_after(listing, DISHONEST_DEBTOR_YEARS)
    if removal is not None and removal < listing:
        raise RowRejected("removal_date is before listing_date")
    entry_id = row_text(row, "entry_id", required=True, limit=120)
    return row_text(row, "uscc", required=True, limit=18), JudicialEntry(
        entry_id=entry_id,
        kind=kind,
        authority=row_text(row, "authority", required=True),
        reason=row_text(row, "reason", required=False),
        listing_date=listing,
        removal_date=removal,
        expiry_date=expiry,
        source=row_text(row, "source", required=False, limit=64) or "import",
        case_number=row_text(row, "case_number", required=False, limit=120),
    )
