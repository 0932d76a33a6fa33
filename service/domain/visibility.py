"""Who sees which part of an archive.

Anonymous viewers see the public information archive; logged-in viewers also the
integrity level and the business integrity archive; the enterprise's own merchant sees
everything about itself (legal representative masked); a platform sees the field groups
its declared purpose needs, and must declare purpose and scenario from the configured
table; ops see everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.domain.callers import Caller, CallerKind, Scope, Viewer, ViewerKind
from service.domain.errors import FieldViolation, InvalidArgument, PermissionDenied


class FieldGroup(StrEnum):
    IDENTITY = "public.identity"
    STATUS = "public.status"
    CAPITAL = "public.capital"
    BUSINESS_SCOPE = "public.business_scope"
    SHAREHOLDERS = "public.shareholders"
    CHANGES = "public.changes"
    JUDICIAL = "public.judicial"
    LEGAL_REPRESENTATIVE = "public.legal_representative"
    BUSINESS_INTEGRITY = "business_integrity"
    INTEGRITY_LEVEL = "integrity_level"


PUBLIC_INFORMATION = frozenset(
    {
        FieldGroup.IDENTITY,
        FieldGroup.STATUS,
        FieldGroup.CAPITAL,
        FieldGroup.BUSINESS_SCOPE,
        FieldGroup.SHAREHOLDERS,
        FieldGroup.CHANGES,
        FieldGroup.JUDICIAL,
    }
)
LOGGED_IN = PUBLIC_INFORMATION | {FieldGroup.BUSINESS_INTEGRITY, FieldGroup.INTEGRITY_LEVEL}
EVERYTHING = frozenset(FieldGroup)
# A platform purpose may never reach the legal representative.
PLATFORM_GROUPS = LOGGED_IN

VIEWER_PURPOSE = "archive_viewing"
VIEWER_SCENARIO = "archive_page"
# Ops may name what they read for (a dispute, a correction); otherwise this.
OPS_PURPOSE = "ops"
OPS_SCENARIO = "ops_review"


class Tier(StrEnum):
    ANONYMOUS = "anonymous"
    LOGGED_IN = "logged_in"
    MERCHANT = "merchant"
    PLATFORM = "platform"
    OPS = "ops"


@dataclass(frozen=True)
class Purpose:
    code: str
    description: str
    scenarios: frozenset[str]
    groups: frozenset[FieldGroup]


@dataclass(frozen=True)
class PurposeTable:
    purposes: Mapping[str, Purpose]

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> PurposeTable:
        """Build from the configured JSON; raises ValueError naming what is wrong."""
        purposes: dict[str, Purpose] = {}
        for code, entry in dict(document["purposes"]).items():
            groups = frozenset(FieldGroup(g) for g in entry["field_groups"])
            if not groups <= PLATFORM_GROUPS:
                raise ValueError(f"purpose {code} asks for groups no platform may see")
            scenarios = frozenset(str(s) for s in entry["scenarios"])
            if not scenarios:
                raise ValueError(f"purpose {code} has no scenarios")
            purposes[code] = Purpose(code, str(entry.get("description", "")), scenarios, groups)
        if not purposes:
            raise ValueError("no purposes configured")
        return cls(purposes)


@dataclass(frozen=True)
class ArchiveView:
    """What one read may disclose, and the purpose and scenario it is recorded under."""

    tier: Tier
    groups: frozenset[FieldGroup]
    purpose: str
    scenario: str


def _violation(field: str, description: str, reason: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation(field, description, reason)])


def _platform_view(table: PurposeTable, purpose: str, scenario: str) -> ArchiveView:
    violations = []
    declared = table.purposes.get(purpose)
    if not purpose:
        violations.append(
            FieldViolation("purpose", "platforms must declare a purpose", "PURPOSE_REQUIRED")
        )
    elif declared is None:
        violations.append(
            FieldViolation(
                "purpose",
                "not a configured purpose; one of: " + ", ".join(sorted(table.purposes)),
                "PURPOSE_UNKNOWN",
            )
        )
    if not scenario:
        violations.append(
            FieldViolation("scenario", "platforms must declare a scenario", "SCENARIO_REQUIRED")
        )
    elif declared is not None and scenario not in declared.scenarios:
        violations.append(
            FieldViolation(
                "scenario",
                f"not a scenario of {purpose}; one of: " + ", ".join(sorted(declared.scenarios)),
                "SCENARIO_UNKNOWN",
            )
        )
    if violations or declared is None:
        raise InvalidArgument(violations)
    return ArchiveView(Tier.PLATFORM, declared.groups, purpose, scenario)


def decide_view(
    caller: Caller,
    viewer: Viewer | None,
    subject_uscc: str,
    purpose: str,
    scenario: str,
    table: PurposeTable,
) -> ArchiveView:
    if caller.may(Scope.OPS) and viewer is None:
        return ArchiveView(Tier.OPS, EVERYTHING, purpose or OPS_PURPOSE, scenario or OPS_SCENARIO)
    if viewer is not None:
        scenario = scenario or VIEWER_SCENARIO
        if viewer.kind is ViewerKind.ANONYMOUS:
            return ArchiveView(Tier.ANONYMOUS, PUBLIC_INFORMATION, VIEWER_PURPOSE, scenario)
        if viewer.kind is ViewerKind.MERCHANT and viewer.merchant_uscc == subject_uscc:
            return ArchiveView(Tier.MERCHANT, EVERYTHING, VIEWER_PURPOSE, scenario)
        return ArchiveView(Tier.LOGGED_IN, LOGGED_IN, VIEWER_PURPOSE, scenario)
    if caller.kind is CallerKind.PLATFORM:
        return _platform_view(table, purpose, scenario)
    raise PermissionDenied(
        "the gateway must say whom it acts for (x-on-behalf-of)", reason="ON_BEHALF_OF_REQUIRED"
    )
