"""Checking one record a platform reports, field by field, before it enters the archive."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.domain.errors import FieldViolation, InvalidIdentifier
from service.domain.identifiers.uscc import parse_uscc
from service.domain.licence import DateParts
from service.domain.personal_data_screen import screen_free_text
from service.domain.platform_records import (
    Certification,
    ConductKind,
    ConductRecord,
    Membership,
    PlatformRecord,
    Severity,
    Store,
    StoreStatus,
    TradeSummary,
)
from service.domain.text import TextKind, check_text

_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}\Z")
_RECORD_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
MAX_CATEGORIES = 20
MAX_RECORDS_PER_BATCH = 1000


@dataclass(frozen=True)
class RecordDraft:
    """A record as received. Dates are DateParts or None; enums are lower-case names or ""."""

    event_id: str
    uscc: str
    kind: str
    values: Mapping[str, Any] = field(default_factory=dict)


class _Checks:
    def __init__(self, draft: RecordDraft, today: dt.date) -> None:
        self.values = draft.values
        self.prefix = draft.kind
        self.today = today
        self.violations: list[FieldViolation] = []

    def add(self, name: str, description: str, reason: str) -> None:
        self.violations.append(FieldViolation(f"{self.prefix}.{name}", description, reason))

    def identifier(self, name: str) -> str:
        value = str(self.values.get(name) or "")
        if not _RECORD_ID.match(value):
            self.add(name, "1 to 64 letters, digits or _.:-", "RECORD_ID_INVALID")
        return value

    def text(self, name: str, kind: TextKind, *, required: bool = True) -> str:
        value = str(self.values.get(name) or "")
        if not value and not required:
            return ""
        self.free_text(f"{self.prefix}.{name}", value, kind)
        return value.strip()

    def free_text(self, path: str, value: str, kind: TextKind) -> None:
        """Every text a platform fills ends up in archives others read: no personal data."""
        try:
            check_text(value, kind)
        except InvalidIdentifier as problem:
            self.violations.append(problem.at(path))
            return
        found = screen_free_text(path, value)
        if found is not None:
            self.violations.append(found)

    def date(self, name: str, *, required: bool = True) -> dt.date | None:
        parts = self.values.get(name)
        if parts is None:
            if required:
                self.add(name, "is required", "REQUIRED")
            return None
        assert isinstance(parts, DateParts)
        try:
            day = parts.to_date()
        except ValueError:
            self.add(name, "not a calendar date", "DATE_INVALID")
            return None
        if day > self.today:
            self.add(name, "is in the future", "DATE_FUTURE")
        return day

    def choice(self, name: str, enum: type[Any]) -> Any:
        value = str(self.values.get(name) or "")
        try:
            return enum(value)
        except ValueError:
            options = ", ".join(member.value for member in enum)
            self.add(name, f"is required: one of {options}", "ENUM_REQUIRED")
            return None

    def count(self, name: str) -> int:
        value = self.values.get(name)
        if not isinstance(value, int) or value < 0:
            self.add(name, "must be a whole number, 0 or more", "COUNT_INVALID")
            return 0
        return value


def _store(c: _Checks) -> Store | None:
    store_id = c.identifier("store_id")
    address = c.text("address", TextKind.ADDRESS)
    categories = list(c.values.get("main_categories") or [])
    if len(categories) > MAX_CATEGORIES:
        c.add("main_categories", f"at most {MAX_CATEGORIES}", "TOO_MANY_CATEGORIES")
    for index, category in enumerate(categories):
        c.free_text(f"store.main_categories[{index}]", str(category), TextKind.ENTERPRISE_NAME)
    status = c.choice("status", StoreStatus)
    opening = c.date("opening_date", required=False)
    if c.violations:
        return None
    return Store(store_id, address, tuple(str(x).strip() for x in categories), status, opening)


def _membership(c: _Checks) -> Membership | None:
    since = c.date("member_since")
    return None if c.violations or since is None else Membership(since)


def _trade(c: _Checks) -> TradeSummary | None:
    as_of = c.date("as_of_date")
    transactions = c.count("cumulative_transactions")
    buyers = c.count("buyers")
    if buyers > transactions:
        c.add("buyers", "cannot exceed cumulative_transactions", "BUYERS_EXCEED_TRANSACTIONS")
    rate = c.values.get("repeat_purchase_rate")
    if not isinstance(rate, float | int) or not math.isfinite(rate) or not 0 <= rate <= 1:
        c.add("repeat_purchase_rate", "must be between 0 and 1", "RATE_INVALID")
        rate = 0.0
    if c.violations or as_of is None:
        return None
    return TradeSummary(as_of, transactions, buyers, float(rate))


def _conduct(c: _Checks) -> ConductRecord | None:
    record_id = c.identifier("record_id")
    kind = c.choice("kind", ConductKind)
    severity = c.choice("severity", Severity)
    day = c.date("date")
    rule = c.text("rule", TextKind.ENTERPRISE_NAME)
    description = c.text("description", TextKind.ADDRESS, required=False)
    if c.violations or day is None:
        return None
    withdrawn = bool(c.values.get("withdrawn", False))
    return ConductRecord(record_id, kind, severity, day, rule, description, withdrawn)


def _certification(c: _Checks) -> Certification | None:
    record_id = c.identifier("record_id")
    certifier = c.text("certifier", TextKind.ENTERPRISE_NAME)
    certified = c.date("certified_date")
    parts = c.values.get("valid_until")
    valid_until = None
    if parts is not None:
        assert isinstance(parts, DateParts)
        try:
            valid_until = parts.to_date()
        except ValueError:
            c.add("valid_until", "not a calendar date", "DATE_INVALID")
    if certified and valid_until and valid_until < certified:
        c.add("valid_until", "is before certified_date", "VALID_UNTIL_BEFORE_CERTIFIED")
    if c.violations or certified is None:
        return None
    return Certification(record_id, certifier, certified, valid_until)


_KINDS = {
    "store": _store,
    "membership": _membership,
    "trade": _trade,
    "conduct": _conduct,
    "certification": _certification,
}


def validate_platform_record(
    draft: RecordDraft, today: dt.date
) -> tuple[str, PlatformRecord | None, list[FieldViolation]]:
    """(uscc, record, violations): the record when valid, else every problem found."""
    violations: list[FieldViolation] = []
    if not _EVENT_ID.match(draft.event_id):
        violations.append(
            FieldViolation("event_id", "1 to 128 letters, digits or _.:-", "EVENT_ID_INVALID")
        )
    try:
        uscc = parse_uscc(draft.uscc).value
    except InvalidIdentifier as problem:
        violations.append(problem.at("uscc"))
        uscc = draft.uscc
    check = _KINDS.get(draft.kind)
    if check is None:
        violations.append(
            FieldViolation(
                "record",
                "set one of store, membership, trade, conduct, certification",
                "RECORD_KIND_REQUIRED",
            )
        )
        return uscc, None, violations
    checks = _Checks(draft, today)
    record = check(checks)
    violations.extend(checks.violations)
    return uscc, (record if not violations else None), violations
