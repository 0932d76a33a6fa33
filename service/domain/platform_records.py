"""What platforms report for the business integrity archive, and how it is checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class StoreStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class ConductKind(StrEnum):
    DISPUTE = "dispute"
    COMPLAINT = "complaint"
    PUNISHMENT = "punishment"


class Severity(StrEnum):
    MINOR = "minor"
    MODERATE = "moderate"
    SERIOUS = "serious"
    SEVERE = "severe"


@dataclass(frozen=True)
class Store:
    store_id: str
    address: str
    main_categories: tuple[str, ...]
    status: StoreStatus
    opening_date: dt.date | None


@dataclass(frozen=True)
class Membership:
    member_since: dt.date

    def years_on(self, on: dt.date) -> int:
        years = on.year - self.member_since.year
        if (on.month, on.day) < (self.member_since.month, self.member_since.day):
            years -= 1
        return max(years, 0)


@dataclass(frozen=True)
class TradeSummary:
    as_of_date: dt.date
    cumulative_transactions: int
    buyers: int
    repeat_purchase_rate: float


@dataclass(frozen=True)
class ConductRecord:
    record_id: str
    kind: ConductKind
    severity: Severity
    date: dt.date
    rule: str
    description: str
    withdrawn: bool


@dataclass(frozen=True)
class Certification:
    record_id: str
    certifier: str
    certified_date: dt.date
    valid_until: dt.date | None

    def is_valid(self, on: dt.date) -> bool:
        return self.certified_date <= on and (self.valid_until is None or self.valid_until >= on)


PlatformRecord = Store | Membership | TradeSummary | ConductRecord | Certification


@dataclass(frozen=True)
class PlatformBusiness:
    """Everything one platform reports about one enterprise."""

    platform: str
    membership: Membership | None
    stores: tuple[Store, ...]
    trade: TradeSummary | None
    conduct_records: tuple[ConductRecord, ...]
    certifications: tuple[Certification, ...]
