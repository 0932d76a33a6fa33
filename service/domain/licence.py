"""Business-licence vocabulary: registration status, licence term, dates in China."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def china_today(now: dt.datetime) -> dt.date:
    """Licence dates are calendar dates in China (UTC+8, no daylight saving)."""
    return now.astimezone(CHINA_TZ).date()


class RegistrationStatus(StrEnum):
    IN_BUSINESS = "in_business"
    MOVED_OUT = "moved_out"
    CANCELLED = "cancelled"
    REVOKED = "revoked"
    WITHDRAWN = "withdrawn"
    SUSPENDED = "suspended"
    IN_LIQUIDATION = "in_liquidation"
    BEING_ESTABLISHED = "being_established"
    UNKNOWN = "unknown"


# Registries publish statuses in Chinese, often with variants in brackets; these are the
# stems we recognise. Checked in order, so the longer stems come first.
_CHINESE_STATUS_STEMS: tuple[tuple[str, RegistrationStatus], ...] = (
    ("存续", RegistrationStatus.IN_BUSINESS),
    ("在营", RegistrationStatus.IN_BUSINESS),
    ("在业", RegistrationStatus.IN_BUSINESS),
    ("开业", RegistrationStatus.IN_BUSINESS),
    ("在册", RegistrationStatus.IN_BUSINESS),
    ("迁出", RegistrationStatus.MOVED_OUT),
    ("注销", RegistrationStatus.CANCELLED),
    ("吊销", RegistrationStatus.REVOKED),
    ("撤销", RegistrationStatus.WITHDRAWN),
    ("停业", RegistrationStatus.SUSPENDED),
    ("清算", RegistrationStatus.IN_LIQUIDATION),
    ("筹建", RegistrationStatus.BEING_ESTABLISHED),
)


def parse_registration_status(raw: str) -> RegistrationStatus | None:
    """Accept our own codes ("cancelled") and the registries' Chinese wording ("注销")."""
    text = raw.strip()
    try:
        return RegistrationStatus(text.lower())
    except ValueError:
        pass
    # "吊销，未注销" (revoked, not cancelled) is revoked: take the first stem in the text.
    found = [(text.find(stem), status) for stem, status in _CHINESE_STATUS_STEMS if stem in text]
    if not found:
        return None
    return min(found, key=lambda pair: pair[0])[1]


@dataclass(frozen=True)
class DateParts:
    """A calendar date as submitted, before it is known to exist (google.type.Date)."""

    year: int
    month: int
    day: int

    def to_date(self) -> dt.date:
        return dt.date(self.year, self.month, self.day)


@dataclass(frozen=True)
class LicenceTerm:
    start: dt.date | None
    # None with open_ended: the licence has no end date (长期).
    end: dt.date | None
    open_ended: bool

    def has_expired(self, today: dt.date) -> bool:
        return not self.open_ended and self.end is not None and self.end < today

    def not_yet_started(self, today: dt.date) -> bool:
        return self.start is not None and self.start > today
