"""The integrity level: a versioned scorecard applied to an enterprise's archive.

A scorecard is data (factors, weights, bands, thresholds, caps), parsed and checked
here; the code below only applies it. Every level names the factors that cost it the
most points and the records behind them, says what would most improve it, and carries
the scorecard version and a digest of its inputs so it can be recomputed exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.domain.archive import EnterpriseArchive
from service.domain.errors import FieldViolation, InvalidArgument
from service.domain.judicial import JudicialEntryKind
from service.domain.licence import RegistrationStatus, china_today
from service.domain.platform_records import ConductKind, Severity

INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
FACTORS = (
    "identity_verification",
    "business_status",
    "establishment_years",
    "registered_capital",
    "judicial_entries",
    "platform_history",
    "conduct",
    "onsite_certification",
)
CAP_CONDITIONS = (
    "not_in_business",
    "licence_expired",
    "active_dishonest_debtor",
    "active_serious_violation",
)
MAX_REASONS = 4
MAX_IMPROVEMENTS = 2

Bands = tuple[tuple[float, int], ...]


@dataclass(frozen=True)
class LevelClass:
    name: str
    min_score: int


@dataclass(frozen=True)
class Cap:
    when: str
    max_class: str
    reason: str


@dataclass(frozen=True)
class Scorecard:
    version: str
    description: str
    classes: tuple[LevelClass, ...]  # best first
    factors: Mapping[str, Mapping[str, Any]]
    caps: tuple[Cap, ...]
    document: Mapping[str, Any]

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def max_score(self) -> int:
        return sum(int(self.factors[f]["max_points"]) for f in FACTORS)


@dataclass(frozen=True)
class VerificationSummary:
    verification_id: str
    verified: bool
    time: dt.datetime


@dataclass(frozen=True)
class LevelReason:
    factor: str
    points: int
    max_points: int
    description: str
    records: tuple[str, ...]


@dataclass(frozen=True)
class IntegrityLevel:
    uscc: str
    level_class: str
    sufficient_data: bool
    score: int
    reasons: tuple[LevelReason, ...]
    improvements: tuple[str, ...]
    cap_reason: str
    scorecard_version: str
    inputs_digest: str
    compute_time: dt.datetime
    # When the inputs next read differently (a listing expires, a band is crossed...):
    # the level must be worked out again then. None: nothing changes with time alone.
    # Worked out in service/domain/level_timing.py.
    revisit_time: dt.datetime | None = None


# -- parsing ----------------------------------------------------------------------------


def _bands(value: Any, path: str, problems: list[FieldViolation]) -> None:
    ok = (
        isinstance(value, list)
        and value
        and all(
            isinstance(b, list) and len(b) == 2 and all(isinstance(x, int | float) for x in b)
            for b in value
        )
    )
    if not ok or [b[0] for b in value] != sorted(b[0] for b in value):
        problems.append(
            FieldViolation(
                path, "bands are [threshold, points] pairs, thresholds ascending", "BANDS_INVALID"
            )
        )


def parse_scorecard(document: Mapping[str, Any]) -> Scorecard:
    """A scorecard from its JSON document; every problem reported at once."""
    problems: list[FieldViolation] = []

    def bad(path: str, description: str, reason: str) -> None:
        problems.append(FieldViolation(path, description, reason))

    version = document.get("version")
    if not isinstance(version, str) or not 1 <= len(version) <= 32:
        bad("version", "a version string of 1 to 32 characters", "VERSION_INVALID")
    raw_classes = document.get("classes")
    classes: list[LevelClass] = []
    if not isinstance(raw_classes, list) or len(raw_classes) < 2:
        bad("classes", "at least two classes, best first", "CLASSES_INVALID")
    else:
        for index, entry in enumerate(raw_classes):
            try:
                classes.append(LevelClass(str(entry["name"]), int(entry["min_score"])))
            except (KeyError, TypeError, ValueError):
                bad(f"classes[{index}]", "needs name and min_score", "CLASS_INVALID")
        minimums = [c.min_score for c in classes]
        if minimums != sorted(minimums, reverse=True) or (minimums and minimums[-1] != 0):
            bad(
                "classes",
                "min_score must fall from the best class to 0 for the last",
                "CLASSES_ORDER",
            )
        if len({c.name for c in classes}) != len(classes) or INSUFFICIENT_DATA in {
            c.name for c in classes
        }:
            bad("classes", "class names must be distinct", "CLASSES_DUPLICATE")
    factors = document.get("factors")
    if not isinstance(factors, dict):
        bad("factors", "an object of factors", "FACTORS_INVALID")
        factors = {}
    for name in FACTORS:
        entry = factors.get(name)
        if not isinstance(entry, dict):
            bad(f"factors.{name}", "is required", "FACTOR_MISSING")
            continue
        points = entry.get("max_points")
        if not isinstance(points, int) or isinstance(points, bool) or points < 0:
            bad(f"factors.{name}.max_points", "a whole number, 0 or more", "POINTS_INVALID")
    for name in set(factors) - set(FACTORS):
        bad(f"factors.{name}", "is not a factor this service scores", "FACTOR_UNKNOWN")
    if isinstance(factors.get("establishment_years"), dict):
        _bands(
            factors["establishment_years"].get("bands"),
            "factors.establishment_years.bands",
            problems,
        )
    if isinstance(factors.get("registered_capital"), dict):
        _bands(
            factors["registered_capital"].get("bands"), "factors.registered_capital.bands", problems
        )
    history = factors.get("platform_history")
    if isinstance(history, dict):
        for key in ("membership_years", "transactions", "buyers", "repeat_purchase_rate"):
            _bands(history.get(key), f"factors.platform_history.{key}", problems)
    judicial = factors.get("judicial_entries")
    if isinstance(judicial, dict):
        penalties = judicial.get("penalties")
        if not isinstance(penalties, dict) or set(penalties) - {k.value for k in JudicialEntryKind}:
            bad("factors.judicial_entries.penalties", "points per entry kind", "PENALTIES_INVALID")
    conduct = factors.get("conduct")
    if isinstance(conduct, dict) and (
        not isinstance(conduct.get("tolerated_per_thousand"), int | float)
        or conduct["tolerated_per_thousand"] <= 0
    ):
        bad("factors.conduct.tolerated_per_thousand", "a positive number", "TOLERANCE_INVALID")
    caps: list[Cap] = []
    names = {c.name for c in classes}
    for index, entry in enumerate(document.get("caps") or []):
        try:
            cap = Cap(str(entry["when"]), str(entry["max_class"]), str(entry["reason"]))
        except (KeyError, TypeError):
            bad(f"caps[{index}]", "needs when, max_class and reason", "CAP_INVALID")
            continue
        if cap.when not in CAP_CONDITIONS:
            bad(
                f"caps[{index}].when",
                "one of " + ", ".join(CAP_CONDITIONS),
                "CAP_CONDITION_UNKNOWN",
            )
        if cap.max_class not in names:
            bad(f"caps[{index}].max_class", "not one of the classes", "CAP_CLASS_UNKNOWN")
        caps.append(cap)
    if problems:
        raise InvalidArgument(problems, "the scorecard is malformed")
    return Scorecard(
        version=str(version),
        description=str(document.get("description", "")),
        classes=tuple(classes),
        factors=factors,
        caps=tuple(caps),
        document=document,
    )


# -- scoring ----------------------------------------------------------------------------


def _band_points(bands: Sequence[Sequence[float]], value: float) -> int:
    points = 0
    for threshold, band_points in bands:
        if value >= threshold:
            points = int(band_points)
    return points


@dataclass(frozen=True)
class _Scored:
    factor: str
    points: int
    max_points: int
    description: str
    records: tuple[str, ...] = ()
    advice: str = ""


def _identity(card: Scorecard, verification: VerificationSummary | None, on: dt.date) -> _Scored:
    f = card.factors["identity_verification"]
    top = int(f["max_points"])
    if verification is None or not verification.verified:
        return _Scored(
            "IDENTITY_VERIFICATION",
            0,
            top,
            "identity not verified",
            (),
            "complete identity verification",
        )
    # In calendar days in China, like every other age here: the level is a function of
    # its inputs and the day, which is what its digest covers.
    age = (on - china_today(verification.time)).days
    record = (f"verification:{verification.verification_id}",)
    if age <= int(f["fresh_days"]):
        return _Scored(
            "IDENTITY_VERIFICATION", top, top, f"identity verified {age} days ago", record
        )
    stale = int(f["stale_points"])
    return _Scored(
        "IDENTITY_VERIFICATION", stale, top, f"identity last verified {age} days ago", record,
        "renew identity verification",
    )  # fmt: skip


def _business_status(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    top = int(card.factors["business_status"]["max_points"])
    record = archive.registry
    assert record is not None
    if record.licence_valid(archive.read_date):
        return _Scored(
            "BUSINESS_STATUS", top, top, "in business with a valid licence", ("registry",)
        )
    if record.status is not RegistrationStatus.IN_BUSINESS:
        why = f"registry status is {record.status.value}"
    else:
        why = "the licence term has ended or not begun"
    return _Scored(
        "BUSINESS_STATUS", 0, top, why, ("registry",), "restore business status and licence"
    )


def _years(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    f = card.factors["establishment_years"]
    record = archive.registry
    assert record is not None
    years = (archive.read_date - record.establishment_date).days / 365.25
    points = _band_points(f["bands"], years)
    return _Scored(
        "ESTABLISHMENT_YEARS",
        points,
        int(f["max_points"]),
        f"established {years:.1f} years ago",
        ("registry",),
    )


def _capital(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    f = card.factors["registered_capital"]
    record = archive.registry
    assert record is not None
    capital = float(record.registered_capital or 0)
    points = _band_points(f["bands"], capital)
    return _Scored(
        "REGISTERED_CAPITAL",
        points,
        int(f["max_points"]),
        f"registered capital {capital:,.0f}",
        ("registry",),
    )


def _judicial(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    f = card.factors["judicial_entries"]
    top = int(f["max_points"])
    on = archive.read_date
    penalty = 0.0
    records = []
    for entry in archive.judicial_entries:
        if not entry.is_active(on):
            continue
        base = float(f["penalties"].get(entry.kind_on(on).value, 0))
        age_days = (on - entry.listing_date).days
        weight = max(
            float(f["minimum_weight"]), 0.5 ** (age_days / float(f["recency_half_life_days"]))
        )
        penalty += base * weight
        records.append(f"judicial:{entry.entry_id}")
    points = max(0, round(top - penalty))
    if not records:
        return _Scored("JUDICIAL_ENTRIES", top, top, "no active judicial or regulatory entries")
    listed = ", ".join(r.split(":", 1)[1] for r in records)
    return _Scored(
        "JUDICIAL_ENTRIES", points, top, f"{len(records)} active judicial or regulatory entries",
        tuple(records), f"resolve the active listings: {listed}",
    )  # fmt: skip


def _platform_history(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    f = card.factors["platform_history"]
    top = int(f["max_points"])
    if not archive.platforms:
        return _Scored(
            "PLATFORM_HISTORY",
            0,
            top,
            "no platform trading history",
            (),
            "build a trading history on a platform",
        )
    on = archive.read_date
    years = max((p.membership.years_on(on) for p in archive.platforms if p.membership), default=0)
    trades = [p.trade for p in archive.platforms if p.trade]
    transactions = sum(t.cumulative_transactions for t in trades)
    buyers = sum(t.buyers for t in trades)
    repeat = max((t.repeat_purchase_rate for t in trades), default=0.0)
    points = min(
        top,
        _band_points(f["membership_years"], years)
        + _band_points(f["transactions"], transactions)
        + _band_points(f["buyers"], buyers)
        + _band_points(f["repeat_purchase_rate"], repeat),
    )
    records = tuple(f"platform:{p.platform}" for p in archive.platforms)
    description = f"{years} years of membership, {transactions} transactions, {buyers} buyers"
    return _Scored(
        "PLATFORM_HISTORY", points, top, description, records, "build a longer trading history"
    )


def _conduct(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    f = card.factors["conduct"]
    top = int(f["max_points"])
    on = archive.read_date
    transactions = sum(p.trade.cumulative_transactions for p in archive.platforms if p.trade)
    counted = [
        (p.platform, c)
        for p in archive.platforms
        for c in p.conduct_records
        if not c.withdrawn and 0 <= (on - c.date).days <= int(f["window_days"])
    ]
    if not archive.platforms:
        neutral = round(top * float(f["no_history_share"]))
        return _Scored("CONDUCT", neutral, top, "no platform history to judge conduct by")
    weighted = 0.0
    for _platform, record in counted:
        recency = 1 - (on - record.date).days / (2 * int(f["window_days"]))
        weighted += (
            float(f["kind_weights"][record.kind.value])
            * float(f["severity_weights"][record.severity.value])
            * recency
        )
    per_thousand = weighted / max(1.0, transactions / 1000)
    points = max(0, round(top * (1 - per_thousand / float(f["tolerated_per_thousand"]))))
    if not counted:
        return _Scored("CONDUCT", top, top, "no disputes, complaints or punishments in the window")
    serious = sum(
        1 for _, c in counted
        if c.kind is ConductKind.PUNISHMENT and c.severity in (Severity.SERIOUS, Severity.SEVERE)
    )  # fmt: skip
    description = f"{len(counted)} disputes, complaints or punishments in {f['window_days']} days"
    if serious:
        description += f", {serious} of them serious punishments"
    records = tuple(f"conduct:{platform}:{c.record_id}" for platform, c in counted)
    return _Scored(
        "CONDUCT", points, top, description, records, "reduce disputes, complaints and punishments"
    )


def _certification(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    top = int(card.factors["onsite_certification"]["max_points"])
    on = archive.read_date
    valid = [
        f"certification:{p.platform}:{c.record_id}"
        for p in archive.platforms
        for c in p.certifications
        if c.is_valid(on)
    ]
    if valid:
        return _Scored(
            "ONSITE_CERTIFICATION", top, top, "a valid on-site certification", tuple(valid)
        )
    return _Scored(
        "ONSITE_CERTIFICATION",
        0,
        top,
        "no valid on-site certification",
        (),
        "obtain an on-site certification",
    )


def _caps_that_apply(card: Scorecard, archive: EnterpriseArchive) -> list[Cap]:
    record = archive.registry
    assert record is not None
    on = archive.read_date
    active_kinds = {e.kind_on(on) for e in archive.judicial_entries if e.is_active(on)}
    holds = {
        "not_in_business": record.status is not RegistrationStatus.IN_BUSINESS,
        "licence_expired": record.term.has_expired(on),
        "active_dishonest_debtor": JudicialEntryKind.DISHONEST_DEBTOR in active_kinds,
        "active_serious_violation": JudicialEntryKind.SERIOUS_VIOLATION in active_kinds,
    }
    return [cap for cap in card.caps if holds[cap.when]]


def inputs_digest(card: Scorecard, canonical_inputs: Any, on: dt.date) -> str:
    document = {"scorecard": card.version, "on": on.isoformat(), "inputs": canonical_inputs}
    encoded = json.dumps(document, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def compute_level(
    card: Scorecard,
    uscc: str,
    archive: EnterpriseArchive | None,
    verification: VerificationSummary | None,
    canonical_inputs: Any,
    compute_time: dt.datetime,
) -> IntegrityLevel:
    """Apply the scorecard. canonical_inputs: what the archive was built from, for the digest."""
    on = archive.read_date if archive else compute_time.date()
    digest = inputs_digest(card, canonical_inputs, on)
    if archive is None or archive.registry is None:
        reason = LevelReason(
            "DATA", 0, card.max_score,
            "no registry record: too little data to work out a level", (),
        )  # fmt: skip
        return IntegrityLevel(
            uscc, INSUFFICIENT_DATA, False, 0, (reason,),
            ("wait for the registry to publish the enterprise, then verify its identity",),
            "", card.version, digest, compute_time,
        )  # fmt: skip
    scored = [
        _identity(card, verification, archive.read_date),
        _business_status(card, archive),
        _years(card, archive),
        _capital(card, archive),
        _judicial(card, archive),
        _platform_history(card, archive),
        _conduct(card, archive),
        _certification(card, archive),
    ]
    score = sum(s.points for s in scored)
    position = next(i for i, c in enumerate(card.classes) if score >= c.min_score)
    # A cap that applies is reported even when the score alone lands at or below it: the
    # enterprise cannot rise above it whatever else improves.
    cap_reason = ""
    for cap in _caps_that_apply(card, archive):
        cap_position = card.class_names.index(cap.max_class)
        if cap_position >= position:
            position, cap_reason = cap_position, cap.reason
    # The principal reasons are the factors that cost the most points, as credit-score
    # reason codes are: each names the records that drove it.
    shortfalls = sorted(
        (s for s in scored if s.points < s.max_points),
        key=lambda s: (s.points - s.max_points, s.factor),
    )
    reasons = tuple(
        LevelReason(s.factor, s.points, s.max_points, s.description, s.records)
        for s in shortfalls[:MAX_REASONS]
    )
    improvements = tuple(dict.fromkeys(s.advice for s in shortfalls if s.advice))[:MAX_IMPROVEMENTS]
    return IntegrityLevel(
        uscc=uscc,
        level_class=card.classes[position].name,
        sufficient_data=True,
        score=score,
        reasons=reasons,
        improvements=improvements,
        cap_reason=cap_reason,
        scorecard_version=card.version,
        inputs_digest=digest,
        compute_time=compute_time,
    )
