"""Scorecard documents: the JSON ops load, read field by field into a typed Scorecard.

A scorecard is versioned data (factors, their bands and weights, class thresholds, hard
caps). It is read with the shared document reader (service/domain/documents.py) and
accepted only whole: every key every factor needs, each number a number in its range,
bands in ascending order, classes from best to a last class at 0, caps naming known
classes and conditions, no unknown keys. Scoring (service/domain/scorecard.py) relies
on exactly that, so a card that is accepted can never make scoring fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from service.domain.documents import DocumentFields, refuse_if_invalid
from service.domain.errors import FieldViolation
from service.domain.judicial import JudicialEntryKind
from service.domain.platform_records import ConductKind, Severity

INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
MAX_SCORE = 1000
# A class whose threshold is above every possible score is closed: nobody lands in it.
CLOSED_CLASS_SCORE = MAX_SCORE + 1
MAX_DAYS = 36500
MAX_WEIGHT = 1000.0
MAX_AMOUNT = 1e15  # capital in yuan, transactions, buyers: beyond any enterprise
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

_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")
_CLASS_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_+-]{0,31}")
_CAP_REASON = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_MAX_DESCRIPTION_LENGTH = 1000

_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True)
class Band:
    threshold: float
    """The measured value (years, yuan, count, rate) from which the band applies."""
    points: int
    """Points for a value at or above threshold, until the next band's threshold."""


Bands = tuple[Band, ...]


@dataclass(frozen=True)
class IdentityVerificationFactor:
    max_points: int
    """Points for an identity verified within fresh_days."""
    fresh_days: int
    """How many days a verification counts as fresh."""
    stale_points: int
    """Points for a verification older than fresh_days (at most max_points)."""


@dataclass(frozen=True)
class BusinessStatusFactor:
    max_points: int
    """Points for an enterprise in business with a valid licence; otherwise 0."""


@dataclass(frozen=True)
class EstablishmentYearsFactor:
    max_points: int
    """The most the factor can give."""
    bands: Bands
    """Points by years since establishment, thresholds ascending."""


@dataclass(frozen=True)
class RegisteredCapitalFactor:
    max_points: int
    """The most the factor can give."""
    bands: Bands
    """Points by registered capital in yuan, thresholds ascending."""


@dataclass(frozen=True)
class JudicialEntriesFactor:
    max_points: int
    """Points with no active entry; penalties are taken from it, down to 0."""
    penalties: Mapping[JudicialEntryKind, float]
    """Points an active entry of each kind costs when just listed."""
    recency_half_life_days: int
    """Days after listing at which an entry costs half its penalty."""
    minimum_weight: float
    """The share of its penalty (0 to 1) an entry costs however old it is."""


@dataclass(frozen=True)
class PlatformHistoryFactor:
    max_points: int
    """The most the four bands together can give."""
    membership_years: Bands
    """Points by the longest platform membership, in whole years."""
    transactions: Bands
    """Points by cumulative transactions over all platforms."""
    buyers: Bands
    """Points by buyers over all platforms."""
    repeat_purchase_rate: Bands
    """Points by the best repeat purchase rate (0 to 1)."""


@dataclass(frozen=True)
class ConductFactor:
    max_points: int
    """Points with no dispute, complaint or punishment in the window."""
    window_days: int
    """How many days back records count; older ones weigh less, down to half."""
    kind_weights: Mapping[ConductKind, float]
    """Weight of each kind of record."""
    severity_weights: Mapping[Severity, float]
    """Weight of each severity, multiplied with the kind's."""
    tolerated_per_thousand: float
    """Weighted records per thousand transactions at which the factor reaches 0."""
    no_history_share: float
    """The share of max_points (0 to 1) given with no platform history to judge by."""


@dataclass(frozen=True)
class OnsiteCertificationFactor:
    max_points: int
    """Points for a valid on-site certification; otherwise 0."""


@dataclass(frozen=True)
class Factors:
    identity_verification: IdentityVerificationFactor
    """Identity verified, and how recently."""
    business_status: BusinessStatusFactor
    """Registry status and licence validity."""
    establishment_years: EstablishmentYearsFactor
    """Years since establishment."""
    registered_capital: RegisteredCapitalFactor
    """Registered capital."""
    judicial_entries: JudicialEntriesFactor
    """Active judicial and regulatory entries, by kind and recency."""
    platform_history: PlatformHistoryFactor
    """Membership years, transactions, buyers and repeat purchases on platforms."""
    conduct: ConductFactor
    """Disputes, complaints and punishments relative to volume and recency."""
    onsite_certification: OnsiteCertificationFactor
    """On-site certification."""

    @property
    def max_score(self) -> int:
        return sum(
            (
                self.identity_verification.max_points,
                self.business_status.max_points,
                self.establishment_years.max_points,
                self.registered_capital.max_points,
                self.judicial_entries.max_points,
                self.platform_history.max_points,
                self.conduct.max_points,
                self.onsite_certification.max_points,
            )
        )


@dataclass(frozen=True)
class LevelClass:
    name: str
    """The class a level reports, like "AA"."""
    min_score: int
    """The lowest score in the class; CLOSED_CLASS_SCORE closes it."""


@dataclass(frozen=True)
class Cap:
    when: str
    """One of CAP_CONDITIONS."""
    max_class: str
    """The best class an enterprise can have while the condition holds."""
    reason: str
    """The UPPER_SNAKE reason a capped level reports."""


@dataclass(frozen=True)
class Scorecard:
    version: str
    """The version levels carry, like "2026.1"."""
    description: str
    """What changed in this version, for people."""
    classes: tuple[LevelClass, ...]
    """Best first; the last starts at 0, so every score has a class."""
    factors: Factors
    """How each factor scores."""
    caps: tuple[Cap, ...]
    """Conditions that hold an enterprise at or below a class."""
    document: Mapping[str, Any]
    """The document as loaded, stored as it is."""

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def max_score(self) -> int:
        return self.factors.max_score


# -- reading ------------------------------------------------------------------------------


def _bands(
    section: DocumentFields, name: str, max_threshold: float, max_points: int | None
) -> Bands | None:
    items = section.items(name, min_items=1)
    if items is None:
        return None
    bands: list[Band] = []
    for path, raw in items:
        if not (isinstance(raw, list | tuple) and len(raw) == 2):
            section.add(path, "a [threshold, points] pair", "BAND_INVALID")
            continue
        threshold = section.number_value(f"{path}[0]", raw[0], 0, max_threshold)
        # Without a valid max_points the band's points are only checked to be whole.
        points = section.whole_number_value(f"{path}[1]", raw[1], 0, max_points)
        if threshold is not None and points is not None:
            if bands and threshold <= bands[-1].threshold:
                section.add(
                    f"{path}[0]",
                    f"thresholds must ascend: not above {bands[-1].threshold:g}",
                    "BANDS_ORDER",
                )
            bands.append(Band(threshold, points))
    return tuple(bands) if len(bands) == len(items) else None


def _weights(
    section: DocumentFields, name: str, options: type[_E], high: float
) -> dict[_E, float] | None:
    table = section.section(name)
    if table is None:
        return None
    weights = {o: table.number(o.value, 0, high) for o in options}
    table.refuse_unread("must be one of " + ", ".join(o.value for o in options), "KEY_UNKNOWN")
    if any(w is None for w in weights.values()):
        return None
    return {o: float(w) for o, w in weights.items() if w is not None}


def _points(f: DocumentFields) -> int | None:
    return f.whole_number("max_points", 0, MAX_SCORE, required=True, reason="POINTS_INVALID")


def _identity_verification(f: DocumentFields) -> IdentityVerificationFactor | None:
    top = _points(f)
    fresh = f.whole_number("fresh_days", 0, MAX_DAYS, required=True)
    stale = f.whole_number("stale_points", 0, top, required=True)
    if top is None or fresh is None or stale is None:
        return None
    return IdentityVerificationFactor(top, fresh, stale)


def _business_status(f: DocumentFields) -> BusinessStatusFactor | None:
    top = _points(f)
    return None if top is None else BusinessStatusFactor(top)


def _establishment_years(f: DocumentFields) -> EstablishmentYearsFactor | None:
    top = _points(f)
    bands = _bands(f, "bands", 200, top)
    return None if top is None or bands is None else EstablishmentYearsFactor(top, bands)


def _registered_capital(f: DocumentFields) -> RegisteredCapitalFactor | None:
    top = _points(f)
    bands = _bands(f, "bands", MAX_AMOUNT, top)
    return None if top is None or bands is None else RegisteredCapitalFactor(top, bands)


def _judicial_entries(f: DocumentFields) -> JudicialEntriesFactor | None:
    top = _points(f)
    penalties = _weights(f, "penalties", JudicialEntryKind, MAX_SCORE)
    half_life = f.whole_number("recency_half_life_days", 1, MAX_DAYS, required=True)
    floor = f.number("minimum_weight", 0, 1)
    if top is None or penalties is None or half_life is None or floor is None:
        return None
    return JudicialEntriesFactor(top, penalties, half_life, floor)


def _platform_history(f: DocumentFields) -> PlatformHistoryFactor | None:
    top = _points(f)
    years = _bands(f, "membership_years", 200, top)
    transactions = _bands(f, "transactions", MAX_AMOUNT, top)
    buyers = _bands(f, "buyers", MAX_AMOUNT, top)
    repeat = _bands(f, "repeat_purchase_rate", 1, top)
    if top is None or years is None or transactions is None or buyers is None or repeat is None:
        return None
    return PlatformHistoryFactor(top, years, transactions, buyers, repeat)


def _conduct(f: DocumentFields) -> ConductFactor | None:
    top = _points(f)
    window = f.whole_number("window_days", 1, MAX_DAYS, required=True)
    kinds = _weights(f, "kind_weights", ConductKind, MAX_WEIGHT)
    severities = _weights(f, "severity_weights", Severity, MAX_WEIGHT)
    # Above a small floor: the tolerance divides the weighted count.
    tolerated = f.number("tolerated_per_thousand", 0.001, 1_000_000)
    neutral = f.number("no_history_share", 0, 1)
    if (
        top is None
        or window is None
        or kinds is None
        or severities is None
        or tolerated is None
        or neutral is None
    ):
        return None
    return ConductFactor(top, window, kinds, severities, tolerated, neutral)


def _onsite_certification(f: DocumentFields) -> OnsiteCertificationFactor | None:
    top = _points(f)
    return None if top is None else OnsiteCertificationFactor(top)


_FACTOR_READERS: dict[str, Callable[[DocumentFields], Any]] = {
    "identity_verification": _identity_verification,
    "business_status": _business_status,
    "establishment_years": _establishment_years,
    "registered_capital": _registered_capital,
    "judicial_entries": _judicial_entries,
    "platform_history": _platform_history,
    "conduct": _conduct,
    "onsite_certification": _onsite_certification,
}
assert tuple(_FACTOR_READERS) == FACTORS


def _factors(top: DocumentFields) -> Factors | None:
    section = top.section("factors", reason="FACTORS_INVALID")
    if section is None:
        return None
    read: dict[str, Any] = {}
    for name, reader in _FACTOR_READERS.items():
        fields = section.section(name, reason="FACTOR_INVALID")
        if fields is None:
            continue
        read[name] = reader(fields)
        fields.refuse_unread(f"not a setting of {name}", "SETTING_UNKNOWN")
    section.refuse_unread("is not a factor this service scores", "FACTOR_UNKNOWN")
    if any(read.get(name) is None for name in FACTORS):
        return None
    factors = Factors(**read)
    if factors.max_score > MAX_SCORE:
        top.add(
            "factors",
            f"max_points add up to {factors.max_score}, more than {MAX_SCORE}",
            "SCORE_TOO_HIGH",
        )
    return factors


def _classes(top: DocumentFields) -> tuple[LevelClass, ...] | None:
    items = top.items("classes", min_items=2)
    if items is None:
        return None
    classes: list[LevelClass] = []
    for path, raw in items:
        if not isinstance(raw, Mapping):
            top.add(path, "must be an object with name and min_score", "CLASS_INVALID")
            continue
        entry = DocumentFields(raw, top.at(path), top.violations)
        name = entry.code(
            "name", _CLASS_NAME, "1 to 32 of A-Z, a-z, 0-9, _, + and -", "CLASS_NAME_INVALID"
        )
        minimum = entry.whole_number("min_score", 0, CLOSED_CLASS_SCORE, required=True)
        entry.refuse_unread("not a field of a class", "FIELD_UNKNOWN")
        if name == INSUFFICIENT_DATA:
            entry.add("name", "is what a level without enough data reports", "CLASS_NAME_RESERVED")
        elif name in [c.name for c in classes]:
            entry.add("name", "class names must be distinct", "CLASSES_DUPLICATE")
        elif name is not None and minimum is not None:
            if classes and minimum > classes[-1].min_score:
                entry.add(
                    "min_score",
                    f"must not exceed the better class's ({classes[-1].min_score})",
                    "CLASSES_ORDER",
                )
            classes.append(LevelClass(name, minimum))
    if len(classes) != len(items):
        return None
    if classes and classes[-1].min_score != 0:
        # Otherwise a low score would land in no class at all.
        last = f"classes[{len(classes) - 1}].min_score"
        top.add(last, "the last class starts at 0", "CLASSES_ORDER")
    return tuple(classes)


def _caps(top: DocumentFields, class_names: tuple[str, ...] | None) -> tuple[Cap, ...]:
    items = top.items("caps")
    caps: list[Cap] = []
    for path, raw in items or ():
        if not isinstance(raw, Mapping):
            top.add(path, "needs when, max_class and reason", "CAP_INVALID")
            continue
        entry = DocumentFields(raw, top.at(path), top.violations)
        when = entry.get("when", required=True)
        if when is not None and when not in CAP_CONDITIONS:
            entry.add("when", "one of " + ", ".join(CAP_CONDITIONS), "CAP_CONDITION_UNKNOWN")
        elif when is not None and when in (c.when for c in caps):
            entry.add("when", "another cap already has this condition", "CAP_DUPLICATE")
        max_class = entry.get("max_class", required=True)
        # Unknown classes cannot be checked against when the classes themselves are bad.
        if max_class is not None and class_names is not None and max_class not in class_names:
            entry.add("max_class", "not one of the classes", "CAP_CLASS_UNKNOWN")
        reason = entry.code("reason", _CAP_REASON, "UPPER_SNAKE, up to 64", "CAP_REASON_INVALID")
        entry.refuse_unread("not a field of a cap", "FIELD_UNKNOWN")
        if isinstance(when, str) and isinstance(max_class, str) and reason is not None:
            caps.append(Cap(when, max_class, reason))
    return tuple(caps)


def parse_scorecard(document: Mapping[str, Any]) -> Scorecard:
    """Validate a scorecard document; raises InvalidArgument with every problem found."""
    violations: list[FieldViolation] = []
    if not isinstance(document, Mapping):
        violations.append(FieldViolation("", "must be an object", "DOCUMENT_INVALID"))
        refuse_if_invalid(violations, "scorecard")
    top = DocumentFields(document, "", violations)
    version = top.code(
        "version", _VERSION, "1 to 32 of A-Z, a-z, 0-9, ., _ and -", "VERSION_INVALID"
    )
    description = top.text(
        "description", _MAX_DESCRIPTION_LENGTH, required=False, reason="DESCRIPTION_INVALID"
    )
    classes = _classes(top)
    factors = _factors(top)
    caps = _caps(top, None if classes is None else tuple(c.name for c in classes))
    top.refuse_unread("not a field of a scorecard", "FIELD_UNKNOWN")
    refuse_if_invalid(violations, "scorecard")
    assert version is not None and classes is not None and factors is not None
    return Scorecard(version, description or "", classes, factors, caps, document)
