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


DISHONEST_DEBTOR_YEARS = 2


class EntryRejected(ValueError):
    """Why a judicial entry row was not imported."""


def _date(row: dict[str, object], key: str, *, required: bool) -> dt.date | None:
    raw = row.get(key)
    if raw in (None, ""):
        if required:
            raise EntryRejected(f"{key} is missing")
        return None
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError as exc:
        raise EntryRejected(f"{key} is not a date (YYYY-MM-DD)") from exc


def _text(row: dict[str, object], key: str, *, required: bool, limit: int = 500) -> str:
    raw = row.get(key)
    if raw in (None, ""):
        if required:
            raise EntryRejected(f"{key} is missing")
        return ""
    if not isinstance(raw, str) or len(raw) > limit:
        raise EntryRejected(f"{key} must be text of at most {limit} characters")
    return raw.strip()


def parse_judicial_row(row: dict[str, object]) -> tuple[str, JudicialEntry]:
    """(uscc as given, entry) from an import row; the caller checks the USCC."""
    try:
        kind = JudicialEntryKind(str(row.get("kind", "")))
    except ValueError as exc:
        options = ", ".join(k.value for k in JudicialEntryKind)
        raise EntryRejected(f"kind must be one of {options}") from exc
    listing = _date(row, "listing_date", required=True)
    assert listing is not None
    removal = _date(row, "removal_date", required=False)
    expiry = _date(row, "expiry_date", required=False)
    if kind is JudicialEntryKind.DISHONEST_DEBTOR and expiry is None:
        # Listed for two years unless the court says otherwise.
        expiry = _years_after(listing, DISHONEST_DEBTOR_YEARS)
    if removal is not None and removal < listing:
        raise EntryRejected("removal_date is before listing_date")
    entry_id = _text(row, "entry_id", required=True, limit=120)
    return _text(row, "uscc", required=True, limit=18), JudicialEntry(
        entry_id=entry_id,
        kind=kind,
        authority=_text(row, "authority", required=True),
        reason=_text(row, "reason", required=False),
        listing_date=listing,
        removal_date=removal,
        expiry_date=expiry,
        source=_text(row, "source", required=False, limit=64) or "import",
        case_number=_text(row, "case_number", required=False, limit=120),
    )
