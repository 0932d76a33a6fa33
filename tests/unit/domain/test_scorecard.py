"""The scorecard: every factor and cap on crafted archives, and reproducibility."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from importlib import resources
from typing import Any

import pytest

from service.app.levels import canonical_inputs
from service.domain.archive import (
    Fact,
    FactKind,
    assemble_archive,
    judicial_fact,
    platform_fact,
)
from service.domain.errors import InvalidArgument
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
from service.domain.scorecard_document import INSUFFICIENT_DATA, parse_scorecard

NOW = dt.datetime(2026, 11, 23, 4, tzinfo=dt.UTC)
USCC = "91330106MA27XXXXXX"
DOCUMENT: dict[str, Any] = json.loads(
    (resources.files("service.config.scorecards") / "2026.1.json").read_text(encoding="utf-8")
)
CARD = parse_scorecard(DOCUMENT)
FRESH = VerificationSummary("v-1", True, NOW - dt.timedelta(days=30))


def registry(**overrides: Any) -> Fact:
    payload: dict[str, Any] = {
        "name": "杭州云启网络科技有限公司",
        "enterprise_type": "有限责任公司",
        "legal_rep_name_masked": "王**",
        "legal_rep_id_masked": None,
        "registered_capital": "60000000",
        "capital_currency": "CNY",
        "establishment_date": "2012-03-02",
        "term": ["2012-03-02", None, True],
        "registration_authority": "杭州市西湖区市场监督管理局",
        "approval_date": None,
        "status": "in_business",
        "address": "杭州",
        "business_scope": "",
        "shareholders": [],
        "changes": [],
        "snapshot_time": "2026-11-01T00:00:00+00:00",
    }
    payload.update(overrides)
    return Fact(USCC, FactKind.REGISTRY, "record", "", payload)


def strong_platform() -> list[Fact]:
    return [
        platform_fact(USCC, "1688", Membership(dt.date(2016, 1, 1))),
        platform_fact(USCC, "1688", TradeSummary(dt.date(2026, 10, 31), 50000, 9000, 0.6)),
        platform_fact(
            USCC, "1688", Certification("V1", "验厂机构", dt.date(2026, 1, 1), dt.date(2027, 1, 1))
        ),
    ]


def level(
    facts: list[Fact], verification: VerificationSummary | None = FRESH, card: Any = CARD
) -> IntegrityLevel:
    archive = assemble_archive(USCC, facts, NOW)
    return compute_level(
        card, USCC, archive, verification, canonical_inputs(facts, verification), NOW
    )


def factor(result: IntegrityLevel, name: str) -> Any:
    return next((r for r in result.reasons if r.factor == name), None)


def test_a_strong_enterprise_is_top_class_with_no_adverse_reasons() -> None:
    result = level([registry(), *strong_platform()])
    assert result.sufficient_data and result.level_class == "AAA"
    assert result.score == CARD.max_score == 1000
    assert result.reasons == () and result.improvements == ()


def test_no_registry_record_is_insufficient_data_not_a_low_class() -> None:
    result = level(strong_platform())
    assert result.level_class == INSUFFICIENT_DATA and not result.sufficient_data
    assert result.reasons[0].factor == "DATA"
    assert compute_level(CARD, USCC, None, None, {}, NOW).level_class == INSUFFICIENT_DATA


def test_identity_verification_fresh_stale_and_missing() -> None:
    base = [registry(), *strong_platform()]
    stale = level(base, VerificationSummary("v-0", True, NOW - dt.timedelta(days=500)))
    assert factor(stale, "IDENTITY_VERIFICATION").points == 60
    assert factor(stale, "IDENTITY_VERIFICATION").records == ("verification:v-0",)
    assert "renew identity verification" in stale.improvements
    missing = level(base, None)
    assert factor(missing, "IDENTITY_VERIFICATION").points == 0
    assert "complete identity verification" in missing.improvements
    rejected = level(base, VerificationSummary("v-2", False, NOW))
    assert factor(rejected, "IDENTITY_VERIFICATION").points == 0


@pytest.mark.parametrize(
    ("overrides", "cap"),
    [
        ({"status": "revoked"}, "NOT_IN_BUSINESS"),
        ({"status": "cancelled"}, "NOT_IN_BUSINESS"),
        ({"status": "suspended"}, "NOT_IN_BUSINESS"),
        ({"term": ["2012-03-02", "2025-01-01", False]}, "LICENCE_EXPIRED"),
    ],
)
def test_not_in_business_is_capped(overrides: dict[str, Any], cap: str) -> None:
    result = level([registry(**overrides), *strong_platform()])
    assert result.level_class == "C" and result.cap_reason == cap
    assert factor(result, "BUSINESS_STATUS").points == 0


def test_dishonest_debtor_caps_and_costs_points_by_recency() -> None:
    recent = JudicialEntry(
        "J-1",
        JudicialEntryKind.DISHONEST_DEBTOR,
        "法院",
        "",
        dt.date(2026, 10, 1),
        None,
        dt.date(2028, 10, 1),
        "court",
        "",
    )
    old = dataclasses.replace(recent, listing_date=dt.date(2025, 1, 1))
    fresh_result = level([registry(), *strong_platform(), judicial_fact(USCC, recent)])
    old_result = level([registry(), *strong_platform(), judicial_fact(USCC, old)])
    assert fresh_result.level_class == "B" and fresh_result.cap_reason == "DISHONEST_DEBTOR"
    assert factor(fresh_result, "JUDICIAL_ENTRIES").records == ("judicial:J-1",)
    assert (
        factor(fresh_result, "JUDICIAL_ENTRIES").points
        < factor(old_result, "JUDICIAL_ENTRIES").points
    )
    assert any("J-1" in advice for advice in fresh_result.improvements)


def test_removed_or_expired_entries_stop_counting() -> None:
    removed = JudicialEntry(
        "J-2",
        JudicialEntryKind.DISHONEST_DEBTOR,
        "法院",
        "",
        dt.date(2025, 1, 1),
        dt.date(2025, 6, 1),
        None,
        "court",
        "",
    )
    expired = JudicialEntry(
        "J-3",
        JudicialEntryKind.ADMINISTRATIVE_PENALTY,
        "局",
        "",
        dt.date(2023, 1, 1),
        None,
        dt.date(2024, 1, 1),
        "samr",
        "",
    )
    result = level(
        [registry(), *strong_platform(), judicial_fact(USCC, removed), judicial_fact(USCC, expired)]
    )
    assert result.level_class == "AAA" and result.cap_reason == ""


def test_abnormal_operations_escalate_after_three_years() -> None:
    entry = JudicialEntry(
        "A-1",
        JudicialEntryKind.ABNORMAL_OPERATIONS,
        "局",
        "",
        dt.date(2022, 1, 1),
        None,
        None,
        "samr",
        "",
    )
    result = level([registry(), *strong_platform(), judicial_fact(USCC, entry)])
    assert result.cap_reason == "SERIOUS_VIOLATION"


def test_age_and_capital_bands() -> None:
    young = level(
        [registry(establishment_date="2026-06-01", registered_capital="50000"), *strong_platform()]
    )
    assert factor(young, "ESTABLISHMENT_YEARS").points == 0
    assert factor(young, "REGISTERED_CAPITAL").points == 0
    assert young.score == 1000 - 100 - 50


def test_platform_history_and_conduct_relative_to_volume() -> None:
    no_platform = level([registry()])
    assert factor(no_platform, "PLATFORM_HISTORY").points == 0
    assert factor(no_platform, "CONDUCT").points == 75  # no history: neutral, not punished
    punishments = [
        platform_fact(
            USCC,
            "1688",
            ConductRecord(
                f"C{i}",
                ConductKind.PUNISHMENT,
                Severity.SERIOUS,
                dt.date(2026, 9, 1),
                "虚假发货",
                "",
                False,
            ),
        )
        for i in range(3)
    ]
    busy = level([registry(), *strong_platform(), *punishments])
    small = [
        registry(),
        platform_fact(USCC, "1688", Membership(dt.date(2016, 1, 1))),
        platform_fact(USCC, "1688", TradeSummary(dt.date(2026, 10, 31), 500, 100, 0.6)),
        *punishments,
    ]
    quiet = level(small)
    assert (
        factor(busy, "CONDUCT").points > factor(quiet, "CONDUCT").points
    )  # same records, more volume
    assert "serious punishments" in factor(quiet, "CONDUCT").description
    assert set(factor(quiet, "CONDUCT").records) == {
        "conduct:1688:C0",
        "conduct:1688:C1",
        "conduct:1688:C2",
    }
    withdrawn = [
        platform_fact(
            USCC,
            "1688",
            ConductRecord(
                "W", ConductKind.PUNISHMENT, Severity.SEVERE, dt.date(2026, 9, 1), "r", "", True
            ),
        )
    ]
    assert level([registry(), *strong_platform(), *withdrawn]).score == 1000


def test_certification_and_at_most_four_reasons() -> None:
    weak = level(
        [registry(status="in_business", registered_capital="0", establishment_date="2026-01-01")],
        None,
    )
    assert len(weak.reasons) == 4
    assert [r.points - r.max_points for r in weak.reasons] == sorted(
        r.points - r.max_points for r in weak.reasons
    )
    assert factor(level([registry(), *strong_platform()[:2]]), "ONSITE_CERTIFICATION").points == 0


def test_same_inputs_give_the_same_level_and_digest() -> None:
    facts = [registry(), *strong_platform()]
    first, second = level(facts), level(list(reversed(facts)))
    assert first == second
    changed = level([registry(status="revoked"), *strong_platform()])
    assert changed.inputs_digest != first.inputs_digest


def test_scorecard_data_changes_the_result_not_code() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["version"] = "2026.2"
    document["classes"][0]["min_score"] = 1001  # nobody reaches AAA
    stricter = parse_scorecard(document)
    result = level([registry(), *strong_platform()], card=stricter)
    assert result.level_class == "AA" and result.scorecard_version == "2026.2"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("version"), "version"),
        (lambda d: d["classes"].reverse(), "classes[1].min_score"),
        (lambda d: d["factors"].pop("conduct"), "factors.conduct"),
        (lambda d: d["factors"].update(luck={"max_points": 5}), "factors.luck"),
        (
            lambda d: d["factors"]["establishment_years"].update(bands=[[5, 1], [1, 2]]),
            "factors.establishment_years.bands[1][0]",
        ),
        (
            lambda d: d["caps"].append({"when": "moon_phase", "max_class": "C", "reason": "X"}),
            "caps[4].when",
        ),
        (
            lambda d: d["caps"].append(
                {"when": "not_in_business", "max_class": "Z", "reason": "X"}
            ),
            "caps[4].max_class",
        ),
    ],
)
def test_malformed_scorecards_are_refused(mutate: Any, field: str) -> None:
    document = copy.deepcopy(DOCUMENT)
    mutate(document)
    with pytest.raises(InvalidArgument) as caught:
        parse_scorecard(document)
    assert field in {v.field for v in caught.value.violations}
