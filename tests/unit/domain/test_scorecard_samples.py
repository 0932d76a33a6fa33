"""Sample archives spread over every branch of every factor and cap, and the packaged
2026.1 card's levels for them as computed before the scorecard was read as a typed
document: reading it differently must not move a single point.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from service.app.levels import canonical_inputs
from service.domain.archive import EnterpriseArchive, assemble_archive, judicial_fact, platform_fact
from service.domain.judicial import JudicialEntry, JudicialEntryKind
from service.domain.platform_records import (
    Certification,
    ConductKind,
    ConductRecord,
    Membership,
    Severity,
    TradeSummary,
)
from service.domain.scorecard import IntegrityLevel, VerificationSummary, compute_level
from service.domain.scorecard_document import Scorecard
from tests.unit.domain.test_scorecard import CARD, FRESH, NOW, USCC, registry, strong_platform

Sample = tuple[EnterpriseArchive | None, VerificationSummary | None, Any]


def _entry(entry_id: str, kind: JudicialEntryKind, listed: dt.date, **more: Any) -> Any:
    entry = JudicialEntry(entry_id, kind, "局", "", listed, None, None, "samr", "")
    return judicial_fact(USCC, dataclasses.replace(entry, **more))


def _conduct(record_id: str, kind: ConductKind, severity: Severity, on: dt.date) -> Any:
    return platform_fact(
        USCC, "1688", ConductRecord(record_id, kind, severity, on, "规则", "", False)
    )


def _every_conduct_record() -> list[Any]:
    dates = (dt.date(2026, 11, 1), dt.date(2025, 6, 1), dt.date(2023, 1, 1), dt.date(2027, 1, 1))
    return [
        _conduct(f"{kind.value}-{severity.value}-{i}", kind, severity, on)
        for kind in ConductKind
        for severity in Severity
        for i, on in enumerate(dates)
    ]


def _every_judicial_entry() -> list[Any]:
    return [
        _entry("D-new", JudicialEntryKind.DISHONEST_DEBTOR, dt.date(2026, 11, 1)),
        _entry("D-old", JudicialEntryKind.DISHONEST_DEBTOR, dt.date(2019, 1, 1)),
        _entry("S-1", JudicialEntryKind.SERIOUS_VIOLATION, dt.date(2026, 3, 1)),
        _entry("A-new", JudicialEntryKind.ABNORMAL_OPERATIONS, dt.date(2026, 8, 1)),
        _entry("A-esc", JudicialEntryKind.ABNORMAL_OPERATIONS, dt.date(2021, 8, 1)),
        _entry("P-1", JudicialEntryKind.ADMINISTRATIVE_PENALTY, dt.date(2026, 1, 1)),
        _entry(
            "P-gone",
            JudicialEntryKind.ADMINISTRATIVE_PENALTY,
            dt.date(2025, 1, 1),
            removal_date=dt.date(2025, 3, 1),
        ),
        _entry("P-future", JudicialEntryKind.ADMINISTRATIVE_PENALTY, dt.date(2027, 1, 1)),
    ]


def _facts() -> dict[str, tuple[list[Any], VerificationSummary | None]]:
    stale = VerificationSummary("v-0", True, NOW - dt.timedelta(days=500))
    failed = VerificationSummary("v-2", False, NOW)
    membership = platform_fact(USCC, "1688", Membership(dt.date(2023, 5, 1)))
    busy = platform_fact(USCC, "1688", TradeSummary(dt.date(2026, 10, 31), 50000, 9000, 0.6))
    quiet = platform_fact(USCC, "jd", TradeSummary(dt.date(2026, 10, 31), 120, 60, 0.05))
    lapsed = platform_fact(
        USCC, "jd", Certification("V0", "验厂机构", dt.date(2024, 1, 1), dt.date(2025, 1, 1))
    )
    return {
        "strong": ([registry(), *strong_platform()], FRESH),
        "no registry record": (strong_platform(), FRESH),
        "nothing at all": ([], None),
        "stale verification": ([registry(), *strong_platform()], stale),
        "failed verification": ([registry(), *strong_platform()], failed),
        "unverified, registry only": ([registry()], None),
        "revoked": ([registry(status="revoked"), *strong_platform()], FRESH),
        "in liquidation": ([registry(status="in_liquidation")], stale),
        "licence expired": ([registry(term=["2012-03-02", "2025-01-01", False])], FRESH),
        "young and small": (
            [registry(establishment_date="2026-06-01", registered_capital="50000")],
            FRESH,
        ),
        "no capital stated": ([registry(registered_capital=None), membership], FRESH),
        "established in the future": ([registry(establishment_date="2027-01-01")], FRESH),
        "mid bands": (
            [registry(establishment_date="2020-01-01", registered_capital="2000000"), membership],
            stale,
        ),
        "every judicial entry": ([registry(), *strong_platform(), *_every_judicial_entry()], FRESH),
        "every conduct record, busy": (
            [registry(), membership, busy, *_every_conduct_record()],
            FRESH,
        ),
        "every conduct record, quiet": ([registry(), quiet, *_every_conduct_record()], None),
        "one recent abnormal listing": (
            [
                registry(),
                *strong_platform(),
                _entry("A-1", JudicialEntryKind.ABNORMAL_OPERATIONS, dt.date(2026, 5, 1)),
            ],
            FRESH,
        ),
        "one old penalty": (
            [
                registry(),
                *strong_platform(),
                _entry("P-0", JudicialEntryKind.ADMINISTRATIVE_PENALTY, dt.date(2021, 5, 1)),
            ],
            FRESH,
        ),
        "two platforms": ([registry(), *strong_platform(), quiet, lapsed], FRESH),
        "membership without trade": ([registry(), membership], FRESH),
        "lapsed certification only": ([registry(), lapsed], FRESH),
        "everything adverse": (
            [
                registry(status="suspended", registered_capital="0"),
                quiet,
                *_every_judicial_entry(),
                *_every_conduct_record(),
            ],
            failed,
        ),
    }


def _samples() -> dict[str, Sample]:
    built: dict[str, Sample] = {}
    for name, (facts, verification) in _facts().items():
        archive = assemble_archive(USCC, facts, NOW)
        built[name] = (archive, verification, canonical_inputs(facts, verification))
    return built


SAMPLES = _samples()


def level_of(card: Scorecard, sample: Sample) -> IntegrityLevel:
    archive, verification, inputs = sample
    return compute_level(card, USCC, archive, verification, inputs, NOW)


# Worked out by the scorecard code before this change, from the same samples.
BEFORE: dict[str, tuple[Any, ...]] = {
    "established in the future": (
        "A",
        625,
        "",
        (
            ("PLATFORM_HISTORY", 0),
            ("ESTABLISHMENT_YEARS", 0),
            ("CONDUCT", 75),
            ("ONSITE_CERTIFICATION", 0),
        ),
    ),
    "every conduct record, busy": (
        "AAA",
        908,
        "",
        (("ONSITE_CERTIFICATION", 0), ("CONDUCT", 123), ("PLATFORM_HISTORY", 135)),
    ),
    "every conduct record, quiet": (
        "B",
        520,
        "",
        (
            ("CONDUCT", 0),
            ("IDENTITY_VERIFICATION", 0),
            ("PLATFORM_HISTORY", 20),
            ("ONSITE_CERTIFICATION", 0),
        ),
    ),
    "every judicial entry": ("B", 800, "SERIOUS_VIOLATION", (("JUDICIAL_ENTRIES", 0),)),
    "everything adverse": (
        "C",
        120,
        "NOT_IN_BUSINESS",
        (
            ("JUDICIAL_ENTRIES", 0),
            ("BUSINESS_STATUS", 0),
            ("CONDUCT", 0),
            ("IDENTITY_VERIFICATION", 0),
        ),
    ),
    "failed verification": ("AAA", 850, "", (("IDENTITY_VERIFICATION", 0),)),
    "in liquidation": (
        "C",
        485,
        "NOT_IN_BUSINESS",
        (
            ("BUSINESS_STATUS", 0),
            ("PLATFORM_HISTORY", 0),
            ("IDENTITY_VERIFICATION", 60),
            ("CONDUCT", 75),
        ),
    ),
    "lapsed certification only": (
        "AA",
        800,
        "",
        (("PLATFORM_HISTORY", 0), ("ONSITE_CERTIFICATION", 0)),
    ),
    "licence expired": (
        "C",
        575,
        "LICENCE_EXPIRED",
        (
            ("BUSINESS_STATUS", 0),
            ("PLATFORM_HISTORY", 0),
            ("CONDUCT", 75),
            ("ONSITE_CERTIFICATION", 0),
        ),
    ),
    "membership without trade": (
        "AA",
        825,
        "",
        (("PLATFORM_HISTORY", 25), ("ONSITE_CERTIFICATION", 0)),
    ),
    "mid bands": (
        "A",
        695,
        "",
        (
            ("PLATFORM_HISTORY", 25),
            ("IDENTITY_VERIFICATION", 60),
            ("ONSITE_CERTIFICATION", 0),
            ("ESTABLISHMENT_YEARS", 80),
        ),
    ),
    "no capital stated": (
        "AA",
        775,
        "",
        (("PLATFORM_HISTORY", 25), ("ONSITE_CERTIFICATION", 0), ("REGISTERED_CAPITAL", 0)),
    ),
    "no registry record": ("INSUFFICIENT_DATA", 0, "", (("DATA", 0),)),
    "nothing at all": ("INSUFFICIENT_DATA", 0, "", (("DATA", 0),)),
    "one old penalty": ("AAA", 980, "", (("JUDICIAL_ENTRIES", 180),)),
    "one recent abnormal listing": ("AAA", 946, "", (("JUDICIAL_ENTRIES", 146),)),
    "revoked": ("C", 850, "NOT_IN_BUSINESS", (("BUSINESS_STATUS", 0),)),
    "stale verification": ("AAA", 910, "", (("IDENTITY_VERIFICATION", 60),)),
    "strong": ("AAA", 1000, "", ()),
    "two platforms": ("AAA", 1000, "", ()),
    "unverified, registry only": (
        "B",
        575,
        "",
        (
            ("IDENTITY_VERIFICATION", 0),
            ("PLATFORM_HISTORY", 0),
            ("CONDUCT", 75),
            ("ONSITE_CERTIFICATION", 0),
        ),
    ),
    "young and small": (
        "B",
        575,
        "",
        (
            ("PLATFORM_HISTORY", 0),
            ("ESTABLISHMENT_YEARS", 0),
            ("CONDUCT", 75),
            ("ONSITE_CERTIFICATION", 0),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_packaged_card_scores_as_it_did_before(name: str) -> None:
    level = level_of(CARD, SAMPLES[name])
    reasons = tuple((r.factor, r.points) for r in level.reasons)
    assert (level.level_class, level.score, level.cap_reason, reasons) == BEFORE[name]
