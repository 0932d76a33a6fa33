"""When a level's inputs next change meaning: every kind of boundary, and fading.

Each test computes a level, takes its revisit time, and checks that the level computed
a second before that time is the one computed now while the level computed at that time
is another: the revisit time is exactly the boundary, no later and no earlier.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from service.app.levels import canonical_inputs
from service.domain.archive import Fact, assemble_archive, judicial_fact, platform_fact
from service.domain.judicial import JudicialEntry, JudicialEntryKind
from service.domain.level_timing import china_midnight, with_revisit_time
from service.domain.licence import china_today
from service.domain.platform_records import (
    Certification,
    ConductKind,
    ConductRecord,
    Membership,
    Severity,
    TradeSummary,
)
from service.domain.scorecard import IntegrityLevel, VerificationSummary, compute_level
from tests.unit.domain.test_scorecard import CARD, NOW, USCC, registry

SECOND = dt.timedelta(seconds=1)


def steady_platform(member_since: dt.date = dt.date(2016, 1, 1)) -> list[Fact]:
    """Platform history at the top of every band, and nothing that ages."""
    return [
        platform_fact(USCC, "1688", Membership(member_since)),
        platform_fact(USCC, "1688", TradeSummary(dt.date(2026, 10, 31), 50000, 9000, 0.6)),
    ]


def judicial(
    kind: JudicialEntryKind,
    listed: dt.date,
    *,
    removal: dt.date | None = None,
    expiry: dt.date | None = None,
) -> Fact:
    entry = JudicialEntry(
        f"J-{listed.isoformat()}", kind, "法院", "", listed, removal, expiry, "import", ""
    )
    return judicial_fact(USCC, entry)


def timed(
    facts: list[Fact], verification: VerificationSummary | None = None, at: dt.datetime = NOW
) -> IntegrityLevel:
    archive = assemble_archive(USCC, facts, at)
    inputs = canonical_inputs(facts, verification)
    level = compute_level(CARD, USCC, archive, verification, inputs, at)
    return with_revisit_time(level, CARD, archive, verification)


def standing(level: IntegrityLevel) -> tuple[Any, ...]:
    return (level.level_class, level.score, level.cap_reason)


def assert_turns_on(
    facts: list[Fact], day: dt.date, verification: VerificationSummary | None = None
) -> tuple[IntegrityLevel, IntegrityLevel]:
    """The level computed now holds until the first moment of `day` in China, and no longer."""
    now = timed(facts, verification)
    assert now.revisit_time == china_midnight(day)
    before = timed(facts, verification, china_midnight(day) - SECOND)
    after = timed(facts, verification, china_midnight(day))
    assert standing(before) == standing(now)
    assert standing(after) != standing(before)
    return before, after


def points(level: IntegrityLevel, factor: str) -> int | None:
    return next((r.points for r in level.reasons if r.factor == factor), None)


def test_china_midnight_is_the_start_of_the_day_in_china() -> None:
    assert china_midnight(dt.date(2027, 3, 1)) == dt.datetime(2027, 2, 28, 16, tzinfo=dt.UTC)


def test_a_level_with_nothing_ahead_is_not_revisited() -> None:
    assert timed([registry(), *steady_platform()]).revisit_time is None
    assert timed(steady_platform()).revisit_time is None  # no registry record yet


def test_a_dishonest_debtor_listing_holds_the_class_until_it_expires() -> None:
    listing = judicial(
        JudicialEntryKind.DISHONEST_DEBTOR, dt.date(2025, 6, 1), expiry=dt.date(2027, 6, 1)
    )
    before, after = assert_turns_on([registry(), *steady_platform(), listing], dt.date(2027, 6, 1))
    assert (before.level_class, before.cap_reason) == ("B", "DISHONEST_DEBTOR")
    assert (after.level_class, after.cap_reason) == ("AA", "")


def test_a_removal_date_ends_the_listing() -> None:
    listing = judicial(
        JudicialEntryKind.ADMINISTRATIVE_PENALTY, dt.date(2025, 1, 10), removal=dt.date(2027, 2, 1)
    )
    before, after = assert_turns_on([registry(), *steady_platform(), listing], dt.date(2027, 2, 1))
    assert points(before, "JUDICIAL_ENTRIES") == 180 and after.score == before.score + 20


def test_abnormal_operations_become_a_serious_violation_after_three_years() -> None:
    listing = judicial(JudicialEntryKind.ABNORMAL_OPERATIONS, dt.date(2024, 3, 15))
    before, after = assert_turns_on([registry(), *steady_platform(), listing], dt.date(2027, 3, 15))
    assert before.level_class == "AA" and before.cap_reason == ""
    assert (after.level_class, after.cap_reason) == ("B", "SERIOUS_VIOLATION")


def test_a_licence_term_ending_drops_the_class_to_c() -> None:
    ending = registry(term=["2012-03-02", "2027-01-15", False])
    before, after = assert_turns_on([ending, *steady_platform()], dt.date(2027, 1, 16))
    assert before.level_class == "AA"
    assert (after.level_class, after.cap_reason) == ("C", "LICENCE_EXPIRED")


def test_a_licence_term_beginning_restores_business_status() -> None:
    starting = registry(term=["2026-12-01", None, True])
    before, after = assert_turns_on([starting, *steady_platform()], dt.date(2026, 12, 1))
    assert points(before, "BUSINESS_STATUS") == 0 and points(after, "BUSINESS_STATUS") is None


def test_a_verification_goes_stale_after_fresh_days_counted_in_china() -> None:
    # 20:00 UTC is already the next day in China: the verification dates from 1 May.
    verified = VerificationSummary("v-1", True, dt.datetime(2026, 4, 30, 20, tzinfo=dt.UTC))
    before, after = assert_turns_on([registry(), *steady_platform()], dt.date(2027, 5, 2), verified)
    assert points(before, "IDENTITY_VERIFICATION") is None  # full marks
    assert points(after, "IDENTITY_VERIFICATION") == 60


def test_establishment_years_cross_a_band() -> None:
    young = registry(establishment_date="2023-12-01")
    before, after = assert_turns_on([young, *steady_platform()], dt.date(2026, 12, 1))
    assert points(before, "ESTABLISHMENT_YEARS") == 30
    assert points(after, "ESTABLISHMENT_YEARS") == 60


def test_membership_years_cross_a_band_on_the_anniversary_a_leap_day_member_gets() -> None:
    facts = [registry(), *steady_platform(member_since=dt.date(2024, 2, 29))]
    before, after = assert_turns_on(facts, dt.date(2027, 3, 1))
    assert points(before, "PLATFORM_HISTORY") == 120 and points(after, "PLATFORM_HISTORY") == 135


def conduct(record_id: str, day: dt.date, severity: Severity = Severity.SEVERE) -> Fact:
    record = ConductRecord(record_id, ConductKind.PUNISHMENT, severity, day, "r", "", False)
    return platform_fact(USCC, "1688", record)


def test_a_conduct_record_leaves_the_window() -> None:
    facts = [registry(), *steady_platform(), conduct("C1", dt.date(2025, 1, 10))]
    # Counted while it is at most 730 days old: the 731st day is the first without it.
    before, after = assert_turns_on(facts, dt.date(2025, 1, 10) + dt.timedelta(days=731))
    assert points(before, "CONDUCT") == 147 and points(after, "CONDUCT") is None


def test_a_conduct_record_dated_ahead_counts_from_its_date() -> None:
    facts = [registry(), *steady_platform(), conduct("C2", dt.date(2027, 2, 1))]
    before, after = assert_turns_on(facts, dt.date(2027, 2, 1))
    assert "CONDUCT" in {r.factor for r in after.reasons} - {r.factor for r in before.reasons}


def test_a_certification_lapses_the_day_after_valid_until() -> None:
    certified = Certification("V1", "验厂机构", dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    facts = [registry(), *steady_platform(), platform_fact(USCC, "1688", certified)]
    before, after = assert_turns_on(facts, dt.date(2027, 1, 2))
    assert points(after, "ONSITE_CERTIFICATION") == 0 and before.score == after.score + 50


def test_the_earliest_of_several_boundaries_wins() -> None:
    facts = [
        registry(term=["2012-03-02", "2027-01-15", False]),
        *steady_platform(),
        judicial(
            JudicialEntryKind.DISHONEST_DEBTOR, dt.date(2025, 6, 1), expiry=dt.date(2027, 6, 1)
        ),
        platform_fact(
            USCC, "1688", Certification("V1", "验厂机构", dt.date(2026, 1, 1), dt.date(2027, 1, 1))
        ),
    ]
    assert_turns_on(facts, dt.date(2027, 1, 2))
    later = timed(facts, at=china_midnight(dt.date(2027, 1, 2)))
    assert later.revisit_time == china_midnight(dt.date(2027, 1, 16))


def assert_class_holds_day_by_day_until_the_revisit(
    facts: list[Fact],
) -> tuple[str, dt.datetime, str]:
    """(class now, revisit time, class then), checked against the full computation one
    day at a time."""
    now = timed(facts)
    revisit = now.revisit_time
    assert revisit is not None and revisit == china_midnight(china_today(revisit))
    probe = NOW
    while probe < revisit:
        assert timed(facts, at=probe).level_class == now.level_class
        probe += dt.timedelta(days=1)
    assert timed(facts, at=revisit - SECOND).level_class == now.level_class
    then = timed(facts, at=revisit).level_class
    assert then != now.level_class
    return now.level_class, revisit, then


def test_fading_is_followed_to_the_first_day_it_moves_the_class() -> None:
    # No registered capital: an administrative penalty listed ten days ago holds the
    # level just below AA, and its fading weight lifts it over some months later.
    facts = [
        registry(registered_capital="0"),
        *steady_platform(),
        judicial(JudicialEntryKind.ADMINISTRATIVE_PENALTY, dt.date(2026, 11, 13)),
    ]
    before, _revisit, after = assert_class_holds_day_by_day_until_the_revisit(facts)
    assert (before, after) == ("A", "AA")


def test_a_fading_conduct_record_is_followed_to_the_first_day_it_moves_the_class() -> None:
    facts = [
        registry(registered_capital="100000"),
        platform_fact(USCC, "1688", Membership(dt.date(2016, 1, 1))),
        platform_fact(USCC, "1688", TradeSummary(dt.date(2026, 10, 31), 1000, 9000, 0.6)),
        conduct("C3", dt.date(2026, 3, 1), Severity.MODERATE),
    ]
    before, revisit, after = assert_class_holds_day_by_day_until_the_revisit(facts)
    assert (before, after) == ("A", "AA")
    assert revisit < china_midnight(dt.date(2026, 3, 1) + dt.timedelta(days=731))  # still counted


def test_fading_that_never_moves_the_class_is_revisited_when_it_stops() -> None:
    facts = [
        registry(),
        *steady_platform(),
        judicial(JudicialEntryKind.ADMINISTRATIVE_PENALTY, dt.date(2026, 11, 13)),
    ]
    now = timed(facts)
    # The weight reaches its floor after one half-life: the score settles then.
    settled = dt.date(2026, 11, 13) + dt.timedelta(days=365 + 1)
    assert now.revisit_time == china_midnight(settled)
    assert timed(facts, at=now.revisit_time).score > now.score
    assert timed(facts, at=now.revisit_time).level_class == now.level_class
