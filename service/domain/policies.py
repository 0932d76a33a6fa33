"""Platform access and eligibility policies: versioned rules, and checking an enterprise.

A platform publishes a policy ("store_opening") as numbered versions; each version is
announced before it takes effect, and ops may retire one. A check evaluates every
condition of the version in force and reports each one that is not met, so the merchant
learns everything to fix at once. Documents are parsed and validated once, when loaded;
evaluation runs per request and only compares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, TypeAlias

from service.domain.judicial import JudicialEntry, JudicialEntryKind
from service.domain.licence import LicenceTerm, RegistrationStatus, china_today
from service.domain.platform_records import (
    Certification,
    ConductKind,
    ConductRecord,
    Severity,
    Store,
    StoreStatus,
)

MAX_CONDITIONS = 50
MAX_SUPPLEMENTARY_ITEMS = 10
MAX_SUPPLEMENTARY_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 1000
MAX_DAYS = 3650
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

# Spelled out rather than taken from the enum's order, which nobody promised.
_SEVERITY_RANK = {Severity.MINOR: 0, Severity.MODERATE: 1, Severity.SERIOUS: 2, Severity.SEVERE: 3}


class Consequence(StrEnum):
    DENY = "deny"
    REVIEW = "review"


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    REVIEW = "review"


class ConditionKind(StrEnum):
    IDENTITY_VERIFIED = "identity_verified"
    BUSINESS_STATUS = "business_status"
    LICENCE_VALID_FOR_DAYS = "licence_valid_for_days"
    MIN_CLASS = "min_class"
    NO_ACTIVE_JUDICIAL = "no_active_judicial"
    NO_RECENT_PUNISHMENT = "no_recent_punishment"
    ONSITE_CERTIFICATION = "onsite_certification"
    STORE_COUNT = "store_count"


# A policy may, say, deny on a dishonest-debtor listing and review an abnormal-operations one.
REPEATABLE_KINDS = frozenset({ConditionKind.NO_ACTIVE_JUDICIAL, ConditionKind.NO_RECENT_PUNISHMENT})


class PunishmentScope(StrEnum):
    OWN_PLATFORM = "own_platform"
    ANY_PLATFORM = "any_platform"


@dataclass(frozen=True)
class EnterpriseStanding:
    """What an eligibility check needs to know about an enterprise, as of the check."""

    uscc: str
    status: RegistrationStatus | None
    """None: no registry record."""
    licence_term: LicenceTerm | None
    level_class: str | None
    """A configured class ("AAA".."C"), INSUFFICIENT_DATA, or None: no level yet."""
    last_verified: dt.datetime | None
    """Time of the latest VERIFIED identity verification."""
    judicial_entries: tuple[JudicialEntry, ...]
    conduct_records: tuple[tuple[str, ConductRecord], ...]
    """(platform code, record)."""
    certifications: tuple[tuple[str, Certification], ...]
    """(platform code, record)."""
    stores: tuple[tuple[str, Store], ...]
    """(platform code, store)."""
    service_suspended: bool = False
    """Ops suspended the service for this enterprise."""
    suspension_reason: str = ""
    level_revisit_time: dt.datetime | None = None
    """When level_class may stop being true (the level's revisit time); None: not before
    the enterprise changes."""


@dataclass(frozen=True)
class _Check:
    """One evaluation's inputs, worked out once for all of its conditions."""

    standing: EnterpriseStanding
    at: dt.datetime
    today: dt.date
    platform: str
    known_classes: Sequence[str]


# (reason code, description) of an unmet condition; None when it is met.
_Unmet: TypeAlias = tuple[str, str] | None


@dataclass(frozen=True)
class IdentityVerified:
    kind: ClassVar[ConditionKind] = ConditionKind.IDENTITY_VERIFIED
    within_days: int | None = None

    def unmet(self, check: _Check) -> _Unmet:
        verified = check.standing.last_verified
        if verified is None:
            return "IDENTITY_NOT_VERIFIED", "the enterprise has no successful identity verification"
        if self.within_days is not None and verified < check.at - dt.timedelta(
            days=self.within_days
        ):
            return (
                "IDENTITY_VERIFICATION_STALE",
                f"the latest identity verification is more than {self.within_days} days old",
            )
        return None


@dataclass(frozen=True)
class BusinessStatus:
    kind: ClassVar[ConditionKind] = ConditionKind.BUSINESS_STATUS
    allowed: frozenset[RegistrationStatus] = frozenset({RegistrationStatus.IN_BUSINESS})

    def unmet(self, check: _Check) -> _Unmet:
        status = check.standing.status
        if status is None:
            return "REGISTRY_RECORD_MISSING", "the registry has no record of the enterprise"
        if status not in self.allowed:
            allowed = ", ".join(sorted(self.allowed))
            return "BUSINESS_STATUS_NOT_ALLOWED", f"registration status {status} is not {allowed}"
        return None


@dataclass(frozen=True)
class LicenceValidForDays:
    kind: ClassVar[ConditionKind] = ConditionKind.LICENCE_VALID_FOR_DAYS
    days: int

    def unmet(self, check: _Check) -> _Unmet:
        term, today = check.standing.licence_term, check.today
        if term is None:
            return "LICENCE_EXPIRED", "the registry has no licence term for the enterprise"
        if term.not_yet_started(today):
            return "LICENCE_EXPIRED", f"the licence term starts on {term.start}"
        if term.has_expired(today):
            return "LICENCE_EXPIRED", f"the licence term ended on {term.end}"
        # An end date is the last day the licence is valid.
        if term.end is not None and term.end < today + dt.timedelta(days=self.days):
            return (
                "LICENCE_EXPIRES_TOO_SOON",
                f"the licence term ends on {term.end}, less than {self.days} days after {today}",
            )
        return None


@dataclass(frozen=True)
class MinClass:
    kind: ClassVar[ConditionKind] = ConditionKind.MIN_CLASS
    required: str
    """Parameter "class"."""

    def unmet(self, check: _Check) -> _Unmet:
        level = check.standing.level_class
        if level is None or level == INSUFFICIENT_DATA:
            return "LEVEL_INSUFFICIENT_DATA", "the enterprise has no integrity class yet"
        classes = check.known_classes
        if level not in classes or self.required not in classes:
            # Classes configured since the level or the policy was made: fail closed.
            return "CLASS_UNKNOWN", f"class {level} cannot be ranked against {self.required}"
        if classes.index(level) > classes.index(self.required):
            return "CLASS_TOO_LOW", f"class {level} is below the required {self.required}"
        return None


@dataclass(frozen=True)
class NoActiveJudicial:
    kind: ClassVar[ConditionKind] = ConditionKind.NO_ACTIVE_JUDICIAL
    kinds: frozenset[JudicialEntryKind]

    def unmet(self, check: _Check) -> _Unmet:
        today = check.today
        active = [
            entry.entry_id
            for entry in check.standing.judicial_entries
            if entry.is_active(today) and entry.kind_on(today) in self.kinds
        ]
        if active:
            return "ACTIVE_JUDICIAL_ENTRY", "active judicial entries: " + ", ".join(active)
        return None


@dataclass(frozen=True)
class NoRecentPunishment:
    kind: ClassVar[ConditionKind] = ConditionKind.NO_RECENT_PUNISHMENT
    min_severity: Severity
    within_days: int
    scope: PunishmentScope = PunishmentScope.OWN_PLATFORM

    def unmet(self, check: _Check) -> _Unmet:
        today, platform = check.today, check.platform
        since = today - dt.timedelta(days=self.within_days)
        floor = _SEVERITY_RANK[self.min_severity]
        any_platform = self.scope is PunishmentScope.ANY_PLATFORM
        own: list[str] = []
        elsewhere = 0
        for source, record in check.standing.conduct_records:
            if (
                record.kind is ConductKind.PUNISHMENT
                and not record.withdrawn
                and since <= record.date <= today
                and _SEVERITY_RANK[record.severity] >= floor
            ):
                if source == platform:
                    own.append(record.record_id)
                elif any_platform:
                    elsewhere += 1
        if not own and not elsewhere:
            return None
        # Another platform's record ids are that platform's business: count them only.
        found = own + ([f"{elsewhere} on other platforms"] if elsewhere else [])
        return (
            "RECENT_PUNISHMENT",
            f"punishments of {self.min_severity} or worse in the last {self.within_days} days: "
            + ", ".join(found),
        )


@dataclass(frozen=True)
class OnsiteCertification:
    kind: ClassVar[ConditionKind] = ConditionKind.ONSITE_CERTIFICATION

    def unmet(self, check: _Check) -> _Unmet:
        today, platform = check.today, check.platform
        for source, certification in check.standing.certifications:
            if source == platform and certification.is_valid(today):
                return None
        return "NO_VALID_CERTIFICATION", f"no onsite certification on {platform} valid on {today}"


@dataclass(frozen=True)
class StoreCount:
    kind: ClassVar[ConditionKind] = ConditionKind.STORE_COUNT
    minimum: int | None = None
    maximum: int | None = None

    def unmet(self, check: _Check) -> _Unmet:
        platform = check.platform
        count = sum(
            1
            for source, store in check.standing.stores
            if source == platform and store.status is StoreStatus.OPEN
        )
        if self.minimum is not None and count < self.minimum:
            return "TOO_FEW_STORES", f"{count} open stores on {platform}, at least {self.minimum}"
        if self.maximum is not None and count > self.maximum:
            return "TOO_MANY_STORES", f"{count} open stores on {platform}, at most {self.maximum}"
        return None


ConditionParams: TypeAlias = (
    IdentityVerified
    | BusinessStatus
    | LicenceValidForDays
    | MinClass
    | NoActiveJudicial
    | NoRecentPunishment
    | OnsiteCertification
    | StoreCount
)


@dataclass(frozen=True)
class Condition:
    params: ConditionParams
    consequence: Consequence = Consequence.DENY
    supplementary_information: tuple[str, ...] = ()

    @property
    def kind(self) -> ConditionKind:
        return self.params.kind


@dataclass(frozen=True)
class Policy:
    platform: str
    policy_id: str
    version: int
    description: str
    announce_time: dt.datetime
    effective_time: dt.datetime
    conditions: tuple[Condition, ...]

    @property
    def reference(self) -> str:
        return f"platforms/{self.platform}/policies/{self.policy_id}@{self.version}"


@dataclass(frozen=True)
class UnmetCondition:
    kind: str
    """A ConditionKind, or "service" when the service is suspended for the enterprise."""
    reason_code: str
    description: str
    consequence: Consequence


@dataclass(frozen=True)
class EligibilityResult:
    decision: Decision
    unmet: tuple[UnmetCondition, ...]
    supplementary_information: tuple[str, ...]
    """What the platform may ask the merchant for: from unmet conditions only, deduplicated."""


def _require_aware(at: dt.datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the check time must carry a UTC offset")


def policy_in_force(
    versions: Sequence[Policy], at: dt.datetime, retired: Mapping[int, dt.datetime] | None = None
) -> Policy | None:
    """The latest version effective at `at` and not retired by then (ties: highest version)."""
    _require_aware(at)
    retired = retired or {}
    best: Policy | None = None
    for policy in versions:
        if policy.effective_time > at:
            continue
        retire_time = retired.get(policy.version)
        if retire_time is not None and retire_time <= at:
            continue
        if best is None or (policy.effective_time, policy.version) > (
            best.effective_time,
            best.version,
        ):
            best = policy
    return best


def evaluate(
    policy: Policy, standing: EnterpriseStanding, at: dt.datetime, known_classes: Sequence[str]
) -> EligibilityResult:
    """Check every condition; DENY if a deny one is unmet, REVIEW if only review ones are."""
    _require_aware(at)
    if standing.service_suspended:
        description = "the service is suspended for this enterprise"
        if standing.suspension_reason:
            description += f": {standing.suspension_reason}"
        suspended = UnmetCondition("service", "ENTERPRISE_SUSPENDED", description, Consequence.DENY)
        return EligibilityResult(Decision.DENY, (suspended,), ())
    check = _Check(standing, at, china_today(at), policy.platform, known_classes)
    unmet: list[UnmetCondition] = []
    supplementary: dict[str, None] = {}
    for condition in policy.conditions:
        found = condition.params.unmet(check)
        if found is None:
            continue
        reason, description = found
        unmet.append(UnmetCondition(condition.kind, reason, description, condition.consequence))
        supplementary.update(dict.fromkeys(condition.supplementary_information))
    if not unmet:
        decision = Decision.ALLOW
    elif any(u.consequence is Consequence.DENY for u in unmet):
        decision = Decision.DENY
    else:
        decision = Decision.REVIEW
    return EligibilityResult(decision, tuple(unmet), tuple(supplementary))


# Parsing: every problem in a document, each at its field path, raised together.
