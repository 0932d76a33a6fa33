"""When a level's inputs next change meaning, so that it is worked out again then.

A level is computed as of a calendar day in China, and most of its inputs read
differently only from particular days on: a judicial listing begins, is removed or
expires; an abnormal-operations listing reads as a serious violation after three years;
the licence term begins or ends; a verification, the establishment or a membership ages
into another band; a conduct record enters or leaves the window; a certification begins
or lapses. The earliest such day is the level's revisit time.

Two inputs fade gradually instead: a judicial entry's weight halves every half-life down
to its floor, and a conduct record's weight falls across the window. Fading moves the
score a point every few days, and revisiting for each point would rewrite such levels
every few days for years, so fading is followed only to the first day it moves the
*class* (and to the day it stops, so the score settles). Between two boundaries fading
only ever lowers penalties, so the score only rises and that day is found by bisection.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterator

from service.domain.archive import EnterpriseArchive
from service.domain.licence import CHINA_TZ, china_today
from service.domain.platform_records import Membership
from service.domain.scorecard import (
    IntegrityLevel,
    VerificationSummary,
    _band_points,
    _caps_that_apply,
    _conduct,
    _judicial,
    compute_level,
)
from service.domain.scorecard_document import Bands, Scorecard

DAYS_PER_YEAR = 365.25  # as the establishment factor counts years
DAY = dt.timedelta(days=1)
# Fading without a floor never stops: look again after this long even if the class holds.
LONGEST_FADING_LOOK_AHEAD_DAYS = 3653


def china_midnight(day: dt.date) -> dt.datetime:
    """The instant a calendar day in China begins, in UTC."""
    return dt.datetime.combine(day, dt.time(), CHINA_TZ).astimezone(dt.UTC)


def with_revisit_time(
    level: IntegrityLevel,
    card: Scorecard,
    archive: EnterpriseArchive | None,
    verification: VerificationSummary | None,
) -> IntegrityLevel:
    """The level computed from these inputs, with the time they next give another one."""
    day = next_change_date(card, archive, verification)
    return dataclasses.replace(level, revisit_time=None if day is None else china_midnight(day))


def next_change_date(
    card: Scorecard, archive: EnterpriseArchive | None, verification: VerificationSummary | None
) -> dt.date | None:
    """The first day after the archive's read date on which the level could differ."""
    if archive is None or archive.registry is None:
        return None  # no level to speak of until the registry publishes the enterprise
    today = archive.read_date
    earliest = min((d for d in _boundaries(card, archive, verification) if d > today), default=None)
    fading_ends = _fading_ends(card, archive)
    if not fading_ends:
        return earliest
    if not _fading_only_raises_the_score(card):
        return today + DAY  # bisection needs one direction: look again every day
    # Revisit when fading stops too, even if the class holds, so the score settles.
    limit = min(max(fading_ends) + DAY, today + LONGEST_FADING_LOOK_AHEAD_DAYS * DAY)
    if earliest is not None:
        limit = min(limit, earliest)
    return _first_class_change(card, archive, verification, today, limit) or limit


# -- discrete boundaries ----------------------------------------------------------------


def _boundaries(
    card: Scorecard, archive: EnterpriseArchive, verification: VerificationSummary | None
) -> Iterator[dt.date]:
    """Days from which some input reads differently; the caller keeps the future ones."""
    factors = card.factors
    today = archive.read_date
    registry = archive.registry
    assert registry is not None
    if verification is not None and verification.verified:
        fresh_days = factors.identity_verification.fresh_days
        yield china_today(verification.time) + (fresh_days + 1) * DAY
    term = registry.term
    if term.start is not None:
        yield term.start
    if not term.open_ended and term.end is not None:
        yield term.end + DAY  # has_expired: the end day is the last valid one
    established = registry.establishment_date
    years = (today - established).days / DAYS_PER_YEAR
    threshold = _next_band_change(factors.establishment_years.bands, years)
    if threshold is not None:
        yield established + _days_to_reach(threshold) * DAY
    for entry in archive.judicial_entries:
        yield entry.listing_date
        for day in (entry.removal_date, entry.expiry_date, entry.escalation_date):
            if day is not None:
                yield day
    yield from _platform_boundaries(card, archive)


def _platform_boundaries(card: Scorecard, archive: EnterpriseArchive) -> Iterator[dt.date]:
    today = archive.read_date
    memberships = [p.membership for p in archive.platforms if p.membership]
    if memberships:
        years = max(m.years_on(today) for m in memberships)
        bands = card.factors.platform_history.membership_years
        threshold = _next_band_change(bands, years)
        if threshold is not None:
            whole = max(1, math.ceil(threshold))
            yield min(_anniversary(m, whole) for m in memberships)
    window = card.factors.conduct.window_days
    for platform in archive.platforms:
        for record in platform.conduct_records:
            if not record.withdrawn:
                yield record.date
                yield record.date + (window + 1) * DAY  # counted while its age <= window
        for certification in platform.certifications:
            yield certification.certified_date
            if certification.valid_until is not None:
                yield certification.valid_until + DAY


def _next_band_change(bands: Bands, value: float) -> float | None:
    """The lowest threshold above value at which the band's points differ from value's."""
    points = _band_points(bands, value)
    for band in bands:
        if band.threshold > value and _band_points(bands, band.threshold) != points:
            return float(band.threshold)
    return None


def _days_to_reach(years: float) -> int:
    """The fewest whole days that count as `years` years, as the factor divides them."""
    days = max(0, math.ceil(years * DAYS_PER_YEAR))
    while days > 0 and (days - 1) / DAYS_PER_YEAR >= years:
        days -= 1
    while days / DAYS_PER_YEAR < years:
        days += 1
    return days


def _anniversary(membership: Membership, years: int) -> dt.date:
    """The first day on which the membership counts `years` whole years."""
    since = membership.member_since
    try:
        return since.replace(year=since.year + years)
    except ValueError:  # 29 February: the year is complete on 1 March
        return dt.date(since.year + years, 3, 1)


# -- gradual fading ---------------------------------------------------------------------


def _fading_ends(card: Scorecard, archive: EnterpriseArchive) -> list[dt.date]:
    """For each input still fading, the last day its weight changes.

    A conduct record fades until it leaves the window, which is a boundary already; a
    judicial entry until its weight reaches the floor.
    """
    today = archive.read_date
    ends: list[dt.date] = []
    judicial = card.factors.judicial_entries
    floor = judicial.minimum_weight
    half_life = float(judicial.recency_half_life_days)
    for entry in archive.judicial_entries:
        if not entry.is_active(today):
            continue
        if floor <= 0:
            ends.append(dt.date.max - DAY)
        elif floor < 1:
            floor_age = math.ceil(half_life * math.log2(1 / floor))
            if today < entry.listing_date + floor_age * DAY:
                ends.append(entry.listing_date + floor_age * DAY)
    window = card.factors.conduct.window_days
    for platform in archive.platforms:
        for record in platform.conduct_records:
            if not record.withdrawn and 0 <= (today - record.date).days <= window:
                ends.append(record.date + window * DAY)
    return ends


def _fading_only_raises_the_score(card: Scorecard) -> bool:
    judicial, conduct = card.factors.judicial_entries, card.factors.conduct
    weights = [
        *judicial.penalties.values(),
        *conduct.kind_weights.values(),
        *conduct.severity_weights.values(),
    ]
    return all(float(w) >= 0 for w in weights)


def _first_class_change(
    card: Scorecard,
    archive: EnterpriseArchive,
    verification: VerificationSummary | None,
    today: dt.date,
    limit: dt.date,
) -> dt.date | None:
    """The first day in (today, limit) with another class, if fading alone gets there.

    Between boundaries only the two fading factors move, the caps hold, and the class
    only moves one way, so bisection over those two factors finds that day.
    """

    def fading_points(day: dt.date) -> int:
        moved = dataclasses.replace(archive, read_time=china_midnight(day))
        return _judicial(card, moved).points + _conduct(card, moved).points

    capped = max(
        (card.class_names.index(cap.max_class) for cap in _caps_that_apply(card, archive)),
        default=0,
    )
    level = compute_level(card, archive.uscc, archive, verification, {}, archive.read_time)
    steady = level.score - fading_points(today)

    def class_on(day: dt.date) -> int:
        score = steady + fading_points(day)
        return max(capped, next(i for i, c in enumerate(card.classes) if score >= c.min_score))

    now = class_on(today)
    low, high = today, limit - DAY  # class_on(low) == now; is class_on(high) different?
    if high <= low or class_on(high) == now:
        return None
    while (high - low).days > 1:
        middle = low + ((high - low).days // 2) * DAY
        if class_on(middle) == now:
            low = middle
        else:
            high = middle
    return high
