"""Policy documents: the JSON ops load, checked field by field into a Policy.

Read with the shared document reader (service/domain/documents.py): every problem is
reported at once, with its path ("conditions[2].days"); a malformed document changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from service.domain.documents import DocumentFields, refuse_if_invalid
from service.domain.errors import FieldViolation
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


def _identity_verified(p: DocumentFields, _classes: Sequence[str]) -> ConditionParams | None:
    return IdentityVerified(p.whole_number("within_days", 1, MAX_DAYS, required=False))


def _business_status(p: DocumentFields, _classes: Sequence[str]) -> ConditionParams | None:
    allowed = p.choices("allowed", RegistrationStatus, required=False)
    return BusinessStatus() if allowed is None else BusinessStatus(allowed)


def _licence_valid_for_days(p: DocumentFields, _classes: Sequence[str]) -> ConditionParams | None:
    days = p.whole_number("days", 0, MAX_DAYS, required=True)
    return None if days is None else LicenceValidForDays(days)


def _min_class(p: DocumentFields, classes: Sequence[str]) -> ConditionParams | None:
    value = p.get("class", required=True)
    if value is None:
        return None
    if not isinstance(value, str) or value not in classes:
        p.add("class", "must be one of " + ", ".join(classes), "CLASS_UNKNOWN")
        return None
    return MinClass(value)


def _no_active_judicial(p: DocumentFields, _classes: Sequence[str]) -> ConditionParams | None:
    kinds = p.choices("kinds", JudicialEntryKind, required=True)
    return None if kinds is None else NoActiveJudicial(kinds)


def _no_recent_punishment(p: DocumentFields, _classes: Sequence[str]) -> ConditionParams | None:
    severity = p.choice("min_severity", Severity, required=True)
    days = p.whole_number("within_days", 1, MAX_DAYS, required=True)
    scope = p.choice("scope", PunishmentScope, required=False) or PunishmentScope.OWN_PLATFORM
    if severity is None or days is None:
        return None
    return NoRecentPunishment(severity, days, scope)


def _onsite_certification(_p: DocumentFields, _classes: Sequence[str]) -> ConditionParams | None:
    return OnsiteCertification()


def _store_count(p: DocumentFields, _classes: Sequence[str]) -> ConditionParams | None:
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


def _supplementary(p: DocumentFields) -> tuple[str, ...]:
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
    p = DocumentFields(raw, path, violations)
    kind = p.choice("kind", ConditionKind, required=True, reason="CONDITION_KIND_UNKNOWN")
    consequence = p.choice("on_unmet", Consequence, required=False, reason="ON_UNMET_INVALID")
    supplementary = _supplementary(p)
    if kind is None:
        return None, None  # without a kind its parameters cannot be checked
    params = _PARSERS[kind](p, classes)
    p.refuse_unread(f"not a parameter of {kind}", "PARAMETER_UNKNOWN")
    if params is None:
        return kind, None
    return kind, Condition(params, consequence or Consequence.DENY, supplementary)


def _time(top: DocumentFields, name: str) -> dt.datetime | None:
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
    top: DocumentFields, classes: Sequence[str]
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
    top = DocumentFields(document, "", violations)
    platform = top.code(
        "platform", _PLATFORM, "1 to 32 of a-z, 0-9 and -, not starting with -", "PLATFORM_INVALID"
    )
    policy_id = top.code("policy", _POLICY_ID, "1 to 64 of a-z, 0-9 and _", "POLICY_ID_INVALID")
    version = top.whole_number("version", 1, None, required=True, reason="VERSION_INVALID")
    description = top.text(
        "description", MAX_DESCRIPTION_LENGTH, required=False, reason="DESCRIPTION_INVALID"
    )
    announce = _time(top, "announce_time")
    effective = _time(top, "effective_time")
    if announce is not None and effective is not None and effective < announce:
        top.add("effective_time", "is before announce_time", "EFFECTIVE_BEFORE_ANNOUNCE")
    conditions = _conditions(top, known_classes)
    top.refuse_unread("not a field of a policy", "FIELD_UNKNOWN")
    refuse_if_invalid(violations, "policy")
    assert platform and policy_id and version and announce and effective
    return Policy(
        platform=platform,
        policy_id=policy_id,
        version=version,
        description=description or "",
        announce_time=announce,
        effective_time=effective,
        conditions=tuple(c for _, c in conditions if c is not None),
    )
