"""The integrity level: a versioned scorecard applied to an enterprise's archive.

A scorecard is data (factors, weights, bands, thresholds, caps), read and checked whole
by service/domain/scorecard_document.py; the code here only applies it. Every level
names the factors that cost it the most points and the records behind them, says what
would most improve it, and carries the scorecard version and a digest of its inputs so
it can be recomputed exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from service.domain.archive import EnterpriseArchive
from service.domain.consent import level_scope_missing_description
from service.domain.judicial import JudicialEntryKind
from service.domain.licence import RegistrationStatus, china_today
from service.domain.platform_records import ConductKind, Severity
from service.domain.scorecard_document import INSUFFICIENT_DATA, Bands, Cap, Scorecard

MAX_REASONS = 4
MAX_IMPROVEMENTS = 2


@dataclass(frozen=True)
class VerificationSummary:
    verification_id: str
    verified: bool
    time: dt.datetime
    # Whether its authorisation covers the integrity level (see consent.py): without it
    # the verification is not used here.
    integrity_level_authorised: bool = True


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


# -- scoring ----------------------------------------------------------------------------


def _band_points(bands: Bands, value: float) -> int:
    points = 0
    for band in bands:
        if value >= band.threshold:
            points = band.points
    return points


@dataclass(frozen=True)
class _Scored:
    factor: str
    points: int
    max_points: int
    description: str
    records: tuple[str, ...] = ()
    advice: str = ""
    # A factor the service refused to score (a missing authorisation scope): its reason is
    # always among the principal ones, so the refusal is never silent.
    refused: bool = False


def _identity(card: Scorecard, verification: VerificationSummary | None, on: dt.date) -> _Scored:
    f = card.factors.identity_verification
    top = f.max_points
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
    if not verification.integrity_level_authorised:
        return _Scored(
            "IDENTITY_VERIFICATION", 0, top, level_scope_missing_description(), record,
            "verify again with the legal representative's authorisation covering the "
            "integrity level",
            refused=True,
        )  # fmt: skip
    if age <= f.fresh_days:
        return _Scored(
            "IDENTITY_VERIFICATION", top, top, f"identity verified {age} days ago", record
        )
    stale = f.stale_points
    return _Scored(
        "IDENTITY_VERIFICATION", stale, top, f"identity last verified {age} days ago", record,
        "renew identity verification",
    )  # fmt: skip


def _business_status(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    top = card.factors.business_status.max_points
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
    f = card.factors.establishment_years
    record = archive.registry
    assert record is not None
    years = (archive.read_date - record.establishment_date).days / 365.25
    points = _band_points(f.bands, years)
    return _Scored(
        "ESTABLISHMENT_YEARS",
        points,
        f.max_points,
        f"established {years:.1f} years ago",
        ("registry",),
    )


def _capital(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    f = card.factors.registered_capital
    record = archive.registry
    assert record is not None
    capital = float(record.registered_capital or 0)
    points = _band_points(f.bands, capital)
    return _Scored(
        "REGISTERED_CAPITAL",
        points,
        f.max_points,
        f"registered capital {capital:,.0f}",
        ("registry",),
    )


def _judicial(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    f = card.factors.judicial_entries
    top = f.max_points
    on = archive.read_date
    penalty = 0.0
    records = []
    for entry in archive.judicial_entries:
        if not entry.is_active(on):
            continue
        base = f.penalties[entry.kind_on(on)]
        age_days = (on - entry.listing_date).days
        weight = max(f.minimum_weight, 0.5 ** (age_days / float(f.recency_half_life_days)))
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
    f = card.factors.platform_history
    top = f.max_points
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
        _band_points(f.membership_years, years)
        + _band_points(f.transactions, transactions)
        + _band_points(f.buyers, buyers)
        + _band_points(f.repeat_purchase_rate, repeat),
    )
    records = tuple(f"platform:{p.platform}" for p in archive.platforms)
    description = f"{years} years of membership, {transactions} transactions, {buyers} buyers"
    return _Scored(
        "PLATFORM_HISTORY", points, top, description, records, "build a longer trading history"
    )


def _conduct(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    f = card.factors.conduct
    top = f.max_points
    on = archive.read_date
    transactions = sum(p.trade.cumulative_transactions for p in archive.platforms if p.trade)
    counted = [
        (p.platform, c)
        for p in archive.platforms
        for c in p.conduct_records
        if not c.withdrawn and 0 <= (on - c.date).days <= f.window_days
    ]
    if not archive.platforms:
        neutral = round(top * f.no_history_share)
        return _Scored("CONDUCT", neutral, top, "no platform history to judge conduct by")
    weighted = 0.0
    for _platform, record in counted:
        recency = 1 - (on - record.date).days / (2 * f.window_days)
        weighted += f.kind_weights[record.kind] * f.severity_weights[record.severity] * recency
    per_thousand = weighted / max(1.0, transactions / 1000)
    points = max(0, round(top * (1 - per_thousand / f.tolerated_per_thousand)))
    if not counted:
        return _Scored("CONDUCT", top, top, "no disputes, complaints or punishments in the window")
    serious = sum(
        1 for _, c in counted
        if c.kind is ConductKind.PUNISHMENT and c.severity in (Severity.SERIOUS, Severity.SEVERE)
    )  # fmt: skip
    description = f"{len(counted)} disputes, complaints or punishments in {f.window_days} days"
    if serious:
        description += f", {serious} of them serious punishments"
    records = tuple(f"conduct:{platform}:{c.record_id}" for platform, c in counted)
    return _Scored(
        "CONDUCT", points, top, description, records, "reduce disputes, complaints and punishments"
    )


def _certification(card: Scorecard, archive: EnterpriseArchive) -> _Scored:
    top = card.factors.onsite_certification.max_points
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
    refused = [s for s in shortfalls if s.refused]
    principal = refused + [s for s in shortfalls if not s.refused][: MAX_REASONS - len(refused)]
    reasons = tuple(
        LevelReason(s.factor, s.points, s.max_points, s.description, s.records)
        for s in shortfalls
        if s in principal
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
