"""Policy documents: the JSON ops load, checked field by field into a Policy.

Every problem is reported at once, with its path ("conditions[2].days"), so a policy
author fixes a document in one pass; a malformed document changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from service.domain.errors import FieldViolation, InvalidArgument
from service.domain.judicial import JudicialEntryKind
from service.domain.licence import RegistrationStatus
from service.domain.platform_records import Severity
from service.domain.policies import (
    MAX_CONDITIONS,
    MAX_DAYS,
    MAX_DESCRIPTION_LENGTH,
    MAX_SUPPLEMENTARY_ITEMS,
    MAX_SUPPLEMENTARY_LENGTH,
    REPEATABLE_KINDS,
    BusinessStatus,
    Condition,
    ConditionKind,
    ConditionParams,
    Consequence,
    IdentityVerified,
    LicenceValidForDays,
    MinClass,
    NoActiveJudicial,
    NoRecentPunishment,
    OnsiteCertification,
    Policy,
    PunishmentScope,
    StoreCount,
)

_PLATFORM = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_POLICY_ID = re.compile(r"[a-z0-9_]{1,64}")

_E = TypeVar("_E", bound=StrEnum)


class _Fields:
    """Reads one object of the document, noting the names read and every problem."""

    def __init__(self, raw: Mapping[str, Any], path: str, violations: list[FieldViolation]):
        self.raw = raw
        self.path = path
        self.violations = violations
        self.read: set[str] = set()

    def add(self, name: str, description: str, reason: str) -> None:
        field = f"{self.path}.{name}" if self.path else name
        self.violations.append(FieldViolation(field, description, reason))

    def get(self, name: str, *, required: bool) -> Any:
        self.read.add(name)
        if name not in self.raw:
            if required:
                self.add(name, "is required", "REQUIRED")
            return None
        return self.raw[name]

    def whole_number(
        self,
        name: str,
        low: int,
        high: int | None,
        *,
        required: bool,
        reason: str = "NUMBER_OUT_OF_RANGE",
    ) -> int | None:
        value = self.get(name, required=required)
        if value is None:
            return None
        in_range = (
            isinstance(value, int)
            and not isinstance(value, bool)  # JSON true is not 1
            and low <= value
            and (high is None or value <= high)
        )
        if in_range:
            return int(value)
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        self.add(name, f"must be a whole number {bounds}", reason)
        return None

    def code(self, name: str, pattern: re.Pattern[str], rule: str, reason: str) -> str | None:
        value = self.get(name, required=True)
        if value is None:
            return None
        if isinstance(value, str) and pattern.fullmatch(value):
            return value
        self.add(name, rule, reason)
        return None

    def choice(
        self, name: str, options: type[_E], *, required: bool, reason: str = "VALUE_UNKNOWN"
    ) -> _E | None:
        value = self.get(name, required=required)
        if value is None:
            return None
        return self._option(value, options, name, reason)

    def choices(self, name: str, options: type[_E], *, required: bool) -> frozenset[_E] | None:
        value = self.get(name, required=required)
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            self.add(name, "must be a list", "LIST_INVALID")
            return None
        if not value:
            self.add(name, "must not be empty", "LIST_EMPTY")
            return None
        chosen = [self._option(item, options, f"{name}[{i}]") for i, item in enumerate(value)]
        return frozenset(c for c in chosen if c is not None)

    def _option(
        self, value: Any, options: type[_E], name: str, reason: str = "VALUE_UNKNOWN"
    ) -> _E | None:
        if isinstance(value, str):
            for option in options:
                if option.value == value:
                    return option
        self.add(name, "must be one of " + ", ".join(o.value for o in options), reason)
        return None


def _identity_verified(p: _Fields, _classes: Sequence[str]) -> ConditionParams | None:
    return IdentityVerified(p.whole_number("within_days", 1, MAX_DAYS, required=False))


def _business_status(p: _Fields, _classes: Sequence[str]) -> ConditionParams | None:
    allowed = p.choices("allowed", RegistrationStatus, required=False)
    return BusinessStatus() if allowed is None else BusinessStatus(allowed)


def _licence_valid_for_days(p: _Fields, _classes: Sequence[str]) -> ConditionParams | None:
    days = p.whole_number("days", 0, MAX_DAYS, required=True)
    return None if days is None else LicenceValidForDays(days)


def _min_class(p: _Fields, classes: Sequence[str]) -> ConditionParams | None:
    value = p.get("class", required=True)
    if value is None:
        return None
    if not isinstance(value, str) or value not in classes:
        p.add("class", "must be one of " + ", ".join(classes), "CLASS_UNKNOWN")
        return None
    return MinClass(value)


def _no_active_judicial(p: _Fields, _classes: Sequence[str]) -> ConditionParams | None:
    kinds = p.choices("kinds", JudicialEntryKind, required=True)
    return None if kinds is None else NoActiveJudicial(kinds)


def _no_recent_punishment(p: _Fields, _classes: Sequence[str]) -> ConditionParams | None:
    severity = p.choice("min_severity", Severity, required=True)
    days = p.whole_number("within_days", 1, MAX_DAYS, required=True)
    scope = p.choice("scope", PunishmentScope, required=False) or PunishmentScope.OWN_PLATFORM
    if severity is None or days is None:
        return None
    return NoRecentPunishment(severity, days, scope)


def _onsite_certification(_p: _Fields, _classes: Sequence[str]) -> ConditionParams | None:
    return OnsiteCertification()


def _store_count(p: _Fields, _classes: Sequence[str]) -> ConditionParams | None:
    low = p.whole_number("min", 0, None, required=False)
    high = p.whole_number("max", 0, None, required=False)
    if "min" not in p.raw and "max" not in p.raw:
        p.violations.append(FieldViolation(p.path, "set min, max or both", "STORE_BOUNDS_REQUIRED"))
    elif low is not None and high is not None and low > high:
        p.add("min", f"must not exceed max ({high})", "STORE_MIN_ABOVE_MAX")
    return StoreCount(low, high)


_PARSERS = {
    ConditionKind.IDENTITY_VERIFIED: _identity_verified,
    ConditionKind.BUSINESS_STATUS: _business_status,
    ConditionKind.LICENCE_VALID_FOR_DAYS: _licence_valid_for_days,
    ConditionKind.MIN_CLASS: _min_class,
    ConditionKind.NO_ACTIVE_JUDICIAL: _no_active_judicial,
    ConditionKind.NO_RECENT_PUNISHMENT: _no_recent_punishment,
    ConditionKind.ONSITE_CERTIFICATION: _onsite_certification,
    ConditionKind.STORE_COUNT: _store_count,
}


def _supplementary(p: _Fields) -> tuple[str, ...]:
    value = p.get("supplementary_information", required=False)
    if value is None:
        return ()
    name = "supplementary_information"
    if not isinstance(value, list | tuple):
        p.add(name, "must be a list of strings", "LIST_INVALID")
        return ()
    if len(value) > MAX_SUPPLEMENTARY_ITEMS:
        p.add(name, f"at most {MAX_SUPPLEMENTARY_ITEMS} items", "TOO_MANY_ITEMS")
    items: list[str] = []
    for i, item in enumerate(value):
        text = item.strip() if isinstance(item, str) else ""
        if not text:
            p.add(f"{name}[{i}]", "must be a non-empty string", "TEXT_EMPTY")
        elif len(text) > MAX_SUPPLEMENTARY_LENGTH:
            p.add(f"{name}[{i}]", f"at most {MAX_SUPPLEMENTARY_LENGTH} characters", "TEXT_TOO_LONG")
        items.append(text)
    return tuple(items)


def _condition(
    raw: Any, path: str, classes: Sequence[str], violations: list[FieldViolation]
) -> tuple[ConditionKind | None, Condition | None]:
    if not isinstance(raw, Mapping):
        violations.append(FieldViolation(path, "must be an object", "CONDITION_INVALID"))
        return None, None
    p = _Fields(raw, path, violations)
    kind = p.choice("kind", ConditionKind, required=True, reason="CONDITION_KIND_UNKNOWN")
    consequence = p.choice("on_unmet", Consequence, required=False, reason="ON_UNMET_INVALID")
    supplementary = _supplementary(p)
    if kind is None:
        return None, None  # without a kind its parameters cannot be checked
    params = _PARSERS[kind](p, classes)
    for name in raw:
        if name not in p.read:
            p.add(str(name), f"not a parameter of {kind}", "PARAMETER_UNKNOWN")
    if params is None:
        return kind, None
    return kind, Condition(params, consequence or Consequence.DENY, supplementary)


def _time(top: _Fields, name: str) -> dt.datetime | None:
    value = top.get(name, required=True)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        example = "2025-02-18T00:00:00+08:00"
        top.add(name, f"must be ISO 8601 with a UTC offset, like {example}", "TIME_INVALID")
        return None
    return parsed


def _conditions(
    top: _Fields, classes: Sequence[str]
) -> list[tuple[ConditionKind | None, Condition | None]]:
    value = top.get("conditions", required=True)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        top.add("conditions", "must be a list", "LIST_INVALID")
        return []
    if not 1 <= len(value) <= MAX_CONDITIONS:
        top.add("conditions", f"1 to {MAX_CONDITIONS} conditions", "CONDITION_COUNT_OUT_OF_RANGE")
    parsed = [
        _condition(raw, f"conditions[{i}]", classes, top.violations) for i, raw in enumerate(value)
    ]
    first_at: dict[ConditionKind, int] = {}
    for i, (kind, _) in enumerate(parsed):
        if kind is None or kind in REPEATABLE_KINDS:
            continue
        if kind in first_at:
            top.add(
                f"conditions[{i}].kind",
                f"{kind} already appears at conditions[{first_at[kind]}]",
                "CONDITION_DUPLICATE",
            )
        else:
            first_at[kind] = i
    return parsed


def parse_policy(document: Mapping[str, Any], known_classes: Sequence[str]) -> Policy:
    """Validate a policy document; raises InvalidArgument with every problem found.

    known_classes are the configured integrity classes, best first.
    """
    violations: list[FieldViolation] = []
    top = _Fields(document, "", violations)
    platform = top.code(
        "platform", _PLATFORM, "1 to 32 of a-z, 0-9 and -, not starting with -", "PLATFORM_INVALID"
    )
    policy_id = top.code("policy", _POLICY_ID, "1 to 64 of a-z, 0-9 and _", "POLICY_ID_INVALID")
    version = top.whole_number("version", 1, None, required=True, reason="VERSION_INVALID")
    description = top.get("description", required=False)
    if description is None:
        description = ""
    elif not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        limit = MAX_DESCRIPTION_LENGTH
        top.add("description", f"a string of at most {limit} characters", "DESCRIPTION_INVALID")
    announce = _time(top, "announce_time")
    effective = _time(top, "effective_time")
    if announce is not None and effective is not None and effective < announce:
        top.add("effective_time", "is before announce_time", "EFFECTIVE_BEFORE_ANNOUNCE")
    conditions = _conditions(top, known_classes)
    for name in document:
        if name not in top.read:
            top.add(str(name), "not a field of a policy", "FIELD_UNKNOWN")
    if violations:
        raise InvalidArgument(violations, f"invalid policy document: {len(violations)} problems")
    assert platform and policy_id and version and announce and effective
    return Policy(
        platform=platform,
        policy_id=policy_id,
        version=version,
        description=description,
        announce_time=announce,
        effective_time=effective,
        conditions=tuple(c for _, c in conditions if c is not None),
    )
