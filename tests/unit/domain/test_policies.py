"""Eligibility policies: parsing documents, the version in force, and evaluating conditions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from service.domain.errors import InvalidArgument
from service.domain.judicial import JudicialEntry, JudicialEntryKind
from service.domain.licence import CHINA_TZ, LicenceTerm, RegistrationStatus
from service.domain.platform_records import (
    Certification,
    ConductKind,
    ConductRecord,
    Severity,
    Store,
    StoreStatus,
)
from service.domain.policies import (
    BusinessStatus,
    Condition,
    ConditionKind,
    Consequence,
    Decision,
    EligibilityResult,
    EnterpriseStanding,
    IdentityVerified,
    MinClass,
    NoRecentPunishment,
    Policy,
    PunishmentScope,
    StoreCount,
    evaluate,
    policy_in_force,
)
from service.domain.policy_documents import parse_policy

CLASSES = ("AAA", "AA", "A", "B", "C")
PLATFORM = "1688"
# 10:00 in China; the check date is 2025-03-01 whichever zone `at` is written in.
AT = dt.datetime(2025, 3, 1, 10, 0, tzinfo=CHINA_TZ)
TODAY = dt.date(2025, 3, 1)
MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)

GOOD = EnterpriseStanding(
    uscc="91330106MA27XXXXXX",
    status=RegistrationStatus.IN_BUSINESS,
    licence_term=LicenceTerm(dt.date(2015, 3, 2), None, open_ended=True),
    level_class="AA",
    last_verified=AT - 10 * DAY,
    judicial_entries=(),
    conduct_records=(),
    certifications=(),
    stores=(),
)


def standing(**changes: Any) -> EnterpriseStanding:
    return dataclasses.replace(GOOD, **changes)


def document(*conditions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "platform": PLATFORM,
        "policy": "store_opening",
        "version": 3,
        "description": "opening a store",
        "announce_time": "2025-02-10T00:00:00+08:00",
        "effective_time": "2025-02-18T00:00:00+08:00",
        "conditions": list(conditions),
        **fields,
    }


def policy(*conditions: dict[str, Any]) -> Policy:
    return parse_policy(document(*conditions), CLASSES)


def check(
    condition: dict[str, Any], subject: EnterpriseStanding, at: dt.datetime = AT
) -> list[str]:
    """The reason codes of one condition checked alone."""
    result = evaluate(policy(condition), subject, at, CLASSES)
    return [u.reason_code for u in result.unmet]


def problems(doc: dict[str, Any], classes: tuple[str, ...] = CLASSES) -> set[tuple[str, str]]:
    with pytest.raises(InvalidArgument) as caught:
        parse_policy(doc, classes)
    return {(v.field, v.reason) for v in caught.value.violations}


def judicial(
    kind: JudicialEntryKind,
    listed: dt.date,
    removed: dt.date | None = None,
    entry_id: str = "J-1",
) -> JudicialEntry:
    return JudicialEntry(entry_id, kind, "court", "", listed, removed, None, "import", "")


def punishment(
    day: dt.date,
    severity: Severity = Severity.SERIOUS,
    *,
    platform: str = PLATFORM,
    kind: ConductKind = ConductKind.PUNISHMENT,
    withdrawn: bool = False,
    record_id: str = "P-1",
) -> tuple[str, ConductRecord]:
    return platform, ConductRecord(record_id, kind, severity, day, "rule", "", withdrawn)


def certification(
    certified: dt.date, valid_until: dt.date | None, platform: str = PLATFORM
) -> tuple[str, Certification]:
    return platform, Certification("C-1", "certifier", certified, valid_until)


def store(status: StoreStatus, platform: str = PLATFORM, store_id: str = "S") -> tuple[str, Store]:
    return platform, Store(store_id, "address", (), status, None)


# --- parsing -------------------------------------------------------------------------------


def test_parses_a_policy_document_into_typed_conditions() -> None:
    parsed = policy(
        {
            "kind": "identity_verified",
            "within_days": 365,
            "on_unmet": "deny",
            "supplementary_information": ["  a copy of the business licence "],
        },
        {"kind": "business_status"},
        {"kind": "min_class", "class": "A", "on_unmet": "review"},
        {"kind": "no_recent_punishment", "min_severity": "serious", "within_days": 90},
        {"kind": "store_count", "max": 5},
    )
    assert parsed.reference == "platforms/1688/policies/store_opening@3"
    assert parsed.description == "opening a store"
    assert parsed.announce_time == dt.datetime(2025, 2, 10, tzinfo=CHINA_TZ)
    assert parsed.effective_time == dt.datetime(2025, 2, 17, 16, tzinfo=dt.UTC)
    assert [c.kind for c in parsed.conditions] == [
        ConditionKind.IDENTITY_VERIFIED,
        ConditionKind.BUSINESS_STATUS,
        ConditionKind.MIN_CLASS,
        ConditionKind.NO_RECENT_PUNISHMENT,
        ConditionKind.STORE_COUNT,
    ]
    identity, status, level, recent, stores = parsed.conditions
    assert identity == Condition(
        IdentityVerified(365), Consequence.DENY, ("a copy of the business licence",)
    )
    assert status.params == BusinessStatus(frozenset({RegistrationStatus.IN_BUSINESS}))
    assert level == Condition(MinClass("A"), Consequence.REVIEW)
    assert recent.params == NoRecentPunishment(Severity.SERIOUS, 90, PunishmentScope.OWN_PLATFORM)
    assert stores.params == StoreCount(None, 5)


def test_the_description_is_optional() -> None:
    doc = document({"kind": "onsite_certification"})
    del doc["description"]
    assert parse_policy(doc, CLASSES).description == ""


def test_judicial_and_punishment_conditions_may_repeat() -> None:
    parsed = policy(
        {"kind": "no_active_judicial", "kinds": ["dishonest_debtor"]},
        {"kind": "no_active_judicial", "kinds": ["abnormal_operations"], "on_unmet": "review"},
        {"kind": "no_recent_punishment", "min_severity": "severe", "within_days": 365},
        {"kind": "no_recent_punishment", "min_severity": "moderate", "within_days": 30},
    )
    assert len(parsed.conditions) == 4


def test_boundary_values_are_accepted() -> None:
    parsed = parse_policy(
        document(
            {"kind": "identity_verified", "within_days": 1},
            {"kind": "licence_valid_for_days", "days": 0},
            {"kind": "no_recent_punishment", "min_severity": "minor", "within_days": 3650},
            {"kind": "store_count", "min": 0, "max": 0},
            {"kind": "onsite_certification", "supplementary_information": ["x" * 200] * 10},
            platform="a" * 32,
            policy="p" * 64,
            version=1,
            announce_time="2025-02-18T00:00:00Z",
            effective_time="2025-02-18T00:00:00Z",
        ),
        CLASSES,
    )
    assert parsed.version == 1
    assert parsed.announce_time == parsed.effective_time


BAD_TOP_LEVEL = [
    ({"platform": "Tmall"}, "platform", "PLATFORM_INVALID"),
    ({"platform": "-jd"}, "platform", "PLATFORM_INVALID"),
    ({"platform": "a" * 33}, "platform", "PLATFORM_INVALID"),
    ({"platform": "jd\n"}, "platform", "PLATFORM_INVALID"),
    ({"platform": 1688}, "platform", "PLATFORM_INVALID"),
    ({"policy": "store-opening"}, "policy", "POLICY_ID_INVALID"),
    ({"policy": ""}, "policy", "POLICY_ID_INVALID"),
    ({"policy": "p" * 65}, "policy", "POLICY_ID_INVALID"),
    ({"version": 0}, "version", "VERSION_INVALID"),
    ({"version": True}, "version", "VERSION_INVALID"),
    ({"version": "3"}, "version", "VERSION_INVALID"),
    ({"version": 3.0}, "version", "VERSION_INVALID"),
    ({"description": 7}, "description", "DESCRIPTION_INVALID"),
    ({"description": "d" * 1001}, "description", "DESCRIPTION_INVALID"),
    ({"announce_time": "2025-02-10T00:00:00"}, "announce_time", "TIME_INVALID"),
    ({"announce_time": "2025-02-10"}, "announce_time", "TIME_INVALID"),
    ({"effective_time": "18 Feb 2025"}, "effective_time", "TIME_INVALID"),
    ({"effective_time": 1739808000}, "effective_time", "TIME_INVALID"),
    (
        {"effective_time": "2025-02-09T23:59:00+08:00"},
        "effective_time",
        "EFFECTIVE_BEFORE_ANNOUNCE",
    ),
    ({"conditions": []}, "conditions", "CONDITION_COUNT_OUT_OF_RANGE"),
    (
        {"conditions": [{"kind": "no_active_judicial", "kinds": ["dishonest_debtor"]}] * 51},
        "conditions",
        "CONDITION_COUNT_OUT_OF_RANGE",
    ),
    ({"conditions": {"kind": "business_status"}}, "conditions", "LIST_INVALID"),
    ({"owner": "ops"}, "owner", "FIELD_UNKNOWN"),
]


@pytest.mark.parametrize(("change", "field", "reason"), BAD_TOP_LEVEL)
def test_bad_policy_fields(change: dict[str, Any], field: str, reason: str) -> None:
    doc = {"conditions": [{"kind": "business_status"}], **change}
    assert problems(document(**doc)) == {(field, reason)}


@pytest.mark.parametrize(
    "field", ["platform", "policy", "version", "announce_time", "effective_time", "conditions"]
)
def test_required_policy_fields(field: str) -> None:
    doc = document({"kind": "business_status"})
    del doc[field]
    assert problems(doc) == {(field, "REQUIRED")}


BAD_CONDITIONS = [
    ("not a mapping", "conditions[0]", "CONDITION_INVALID"),
    ({}, "conditions[0].kind", "REQUIRED"),
    ({"kind": "credit_score"}, "conditions[0].kind", "CONDITION_KIND_UNKNOWN"),
    ({"kind": "business_status", "on_unmet": "warn"}, "conditions[0].on_unmet", "ON_UNMET_INVALID"),
    ({"kind": "business_status", "on_unmet": "DENY"}, "conditions[0].on_unmet", "ON_UNMET_INVALID"),
    ({"kind": "business_status", "status": "x"}, "conditions[0].status", "PARAMETER_UNKNOWN"),
    ({"kind": "onsite_certification", "days": 3}, "conditions[0].days", "PARAMETER_UNKNOWN"),
    # identity_verified
    (
        {"kind": "identity_verified", "within_days": 0},
        "conditions[0].within_days",
        "NUMBER_OUT_OF_RANGE",
    ),
    (
        {"kind": "identity_verified", "within_days": 3651},
        "conditions[0].within_days",
        "NUMBER_OUT_OF_RANGE",
    ),
    (
        {"kind": "identity_verified", "within_days": "365"},
        "conditions[0].within_days",
        "NUMBER_OUT_OF_RANGE",
    ),
    (
        {"kind": "identity_verified", "within_days": True},
        "conditions[0].within_days",
        "NUMBER_OUT_OF_RANGE",
    ),
    # business_status
    ({"kind": "business_status", "allowed": []}, "conditions[0].allowed", "LIST_EMPTY"),
    (
        {"kind": "business_status", "allowed": "in_business"},
        "conditions[0].allowed",
        "LIST_INVALID",
    ),
    (
        {"kind": "business_status", "allowed": ["in_business", "存续"]},
        "conditions[0].allowed[1]",
        "VALUE_UNKNOWN",
    ),
    # licence_valid_for_days
    ({"kind": "licence_valid_for_days"}, "conditions[0].days", "REQUIRED"),
    ({"kind": "licence_valid_for_days", "days": -1}, "conditions[0].days", "NUMBER_OUT_OF_RANGE"),
    ({"kind": "licence_valid_for_days", "days": 3651}, "conditions[0].days", "NUMBER_OUT_OF_RANGE"),
    # min_class
    ({"kind": "min_class"}, "conditions[0].class", "REQUIRED"),
    ({"kind": "min_class", "class": "AAAA"}, "conditions[0].class", "CLASS_UNKNOWN"),
    ({"kind": "min_class", "class": "INSUFFICIENT_DATA"}, "conditions[0].class", "CLASS_UNKNOWN"),
    # no_active_judicial
    ({"kind": "no_active_judicial"}, "conditions[0].kinds", "REQUIRED"),
    ({"kind": "no_active_judicial", "kinds": []}, "conditions[0].kinds", "LIST_EMPTY"),
    ({"kind": "no_active_judicial", "kinds": ["fraud"]}, "conditions[0].kinds[0]", "VALUE_UNKNOWN"),
    # no_recent_punishment
    ({"kind": "no_recent_punishment", "within_days": 30}, "conditions[0].min_severity", "REQUIRED"),
    (
        {"kind": "no_recent_punishment", "min_severity": "serious"},
        "conditions[0].within_days",
        "REQUIRED",
    ),
    (
        {"kind": "no_recent_punishment", "min_severity": "grave", "within_days": 30},
        "conditions[0].min_severity",
        "VALUE_UNKNOWN",
    ),
    (
        {"kind": "no_recent_punishment", "min_severity": "minor", "within_days": 0},
        "conditions[0].within_days",
        "NUMBER_OUT_OF_RANGE",
    ),
    (
        {
            "kind": "no_recent_punishment",
            "min_severity": "minor",
            "within_days": 30,
            "scope": "all",
        },
        "conditions[0].scope",
        "VALUE_UNKNOWN",
    ),
    # store_count
    ({"kind": "store_count"}, "conditions[0]", "STORE_BOUNDS_REQUIRED"),
    ({"kind": "store_count", "min": 3, "max": 2}, "conditions[0].min", "STORE_MIN_ABOVE_MAX"),
    ({"kind": "store_count", "min": -1}, "conditions[0].min", "NUMBER_OUT_OF_RANGE"),
    ({"kind": "store_count", "max": 1.5}, "conditions[0].max", "NUMBER_OUT_OF_RANGE"),
    # supplementary_information
    (
        {"kind": "business_status", "supplementary_information": "licence"},
        "conditions[0].supplementary_information",
        "LIST_INVALID",
    ),
    (
        {"kind": "business_status", "supplementary_information": ["x"] * 11},
        "conditions[0].supplementary_information",
        "TOO_MANY_ITEMS",
    ),
    (
        {"kind": "business_status", "supplementary_information": ["ok", "  "]},
        "conditions[0].supplementary_information[1]",
        "TEXT_EMPTY",
    ),
    (
        {"kind": "business_status", "supplementary_information": [5]},
        "conditions[0].supplementary_information[0]",
        "TEXT_EMPTY",
    ),
    (
        {"kind": "business_status", "supplementary_information": ["x" * 201]},
        "conditions[0].supplementary_information[0]",
        "TEXT_TOO_LONG",
    ),
]


@pytest.mark.parametrize(("condition", "field", "reason"), BAD_CONDITIONS)
def test_bad_conditions(condition: Any, field: str, reason: str) -> None:
    assert problems(document(condition)) == {(field, reason)}


def test_duplicate_condition_kinds_are_rejected_at_each_repeat() -> None:
    doc = document(
        {"kind": "business_status"},
        {"kind": "min_class", "class": "A"},
        {"kind": "business_status", "allowed": ["in_liquidation"]},
        {"kind": "business_status"},
    )
    assert problems(doc) == {
        ("conditions[2].kind", "CONDITION_DUPLICATE"),
        ("conditions[3].kind", "CONDITION_DUPLICATE"),
    }


def test_every_problem_is_reported_at_once() -> None:
    doc = {
        "platform": "JD",
        "policy": "store opening",
        "version": 0,
        "announce_time": "2025-02-18T00:00:00+08:00",
        "effective_time": "2025-02-10T00:00:00+08:00",
        "conditions": [
            {"kind": "identity_verified", "within_days": 0, "grace_days": 3},
            {"kind": "licence_valid_for_days", "on_unmet": "maybe"},
            {"kind": "min_class", "class": "S", "supplementary_information": [""]},
            {"kind": "identity_verified"},
            {"kind": "teleport"},
        ],
        "notes": "x",
    }
    assert problems(doc) == {
        ("platform", "PLATFORM_INVALID"),
        ("policy", "POLICY_ID_INVALID"),
        ("version", "VERSION_INVALID"),
        ("effective_time", "EFFECTIVE_BEFORE_ANNOUNCE"),
        ("conditions[0].within_days", "NUMBER_OUT_OF_RANGE"),
        ("conditions[0].grace_days", "PARAMETER_UNKNOWN"),
        ("conditions[1].on_unmet", "ON_UNMET_INVALID"),
        ("conditions[1].days", "REQUIRED"),
        ("conditions[2].class", "CLASS_UNKNOWN"),
        ("conditions[2].supplementary_information[0]", "TEXT_EMPTY"),
        ("conditions[3].kind", "CONDITION_DUPLICATE"),
        ("conditions[4].kind", "CONDITION_KIND_UNKNOWN"),
        ("notes", "FIELD_UNKNOWN"),
    }


def test_min_class_is_checked_against_the_configured_classes() -> None:
    parsed = parse_policy(document({"kind": "min_class", "class": "A+"}), ("A+", "A", "B"))
    assert parsed.conditions[0].params == MinClass("A+")
    assert problems(document({"kind": "min_class", "class": "AAA"}), ("A+", "A", "B")) == {
        ("conditions[0].class", "CLASS_UNKNOWN")
    }


def test_parse_errors_carry_the_invalid_argument_status() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_policy(document(), CLASSES)
    assert caught.value.status == "INVALID_ARGUMENT"
    assert "invalid policy document" in caught.value.message


# --- the version in force ------------------------------------------------------------------


def version(number: int, effective: str, announce: str = "2025-01-01T00:00:00+08:00") -> Policy:
    return parse_policy(
        document(
            {"kind": "business_status"},
            version=number,
            announce_time=announce,
            effective_time=effective,
        ),
        CLASSES,
    )


V1 = version(1, "2025-01-01T00:00:00+08:00")
V2 = version(2, "2025-02-18T00:00:00+08:00", announce="2025-02-10T00:00:00+08:00")
V2_EFFECTIVE = dt.datetime(2025, 2, 18, tzinfo=CHINA_TZ)


def test_a_version_is_in_force_from_its_effective_time() -> None:
    versions = [V2, V1]
    assert policy_in_force(versions, V2_EFFECTIVE - MINUTE) is V1
    assert policy_in_force(versions, V2_EFFECTIVE) is V2
    assert policy_in_force(versions, V2_EFFECTIVE + MINUTE) is V2
    # The same instant written in UTC.
    assert policy_in_force(versions, dt.datetime(2025, 2, 17, 16, tzinfo=dt.UTC)) is V2


def test_an_announced_version_is_not_in_force_yet() -> None:
    announced = dt.datetime(2025, 2, 12, tzinfo=CHINA_TZ)
    assert policy_in_force([V1, V2], announced) is V1
    assert policy_in_force([V2], announced) is None


def test_nothing_is_in_force_before_the_first_version() -> None:
    assert policy_in_force([V1, V2], dt.datetime(2024, 12, 31, 23, 59, tzinfo=CHINA_TZ)) is None
    assert policy_in_force([], AT) is None


def test_a_retired_version_stops_being_in_force_at_its_retire_time() -> None:
    retire = dt.datetime(2025, 2, 20, 9, 30, tzinfo=CHINA_TZ)
    versions = [V1, V2]
    assert policy_in_force(versions, retire - MINUTE, {2: retire}) is V2
    assert policy_in_force(versions, retire, {2: retire}) is V1
    assert policy_in_force(versions, retire + MINUTE, {2: retire}) is V1
    assert policy_in_force(versions, retire, {1: retire, 2: retire}) is None
    # Retiring an older version does not affect the newer one.
    assert policy_in_force(versions, retire, {1: retire}) is V2


def test_versions_effective_together_resolve_to_the_highest() -> None:
    v3 = version(3, "2025-02-18T00:00:00+08:00")
    assert policy_in_force([v3, V2, V1], V2_EFFECTIVE) is v3
    assert policy_in_force([V2, v3], V2_EFFECTIVE, {3: V2_EFFECTIVE}) is V2


def test_check_times_must_carry_an_offset() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        policy_in_force([V1], dt.datetime(2025, 3, 1))
    with pytest.raises(ValueError, match="UTC offset"):
        evaluate(V1, GOOD, dt.datetime(2025, 3, 1), CLASSES)


# --- conditions ----------------------------------------------------------------------------


def test_identity_verified() -> None:
    fresh = {"kind": "identity_verified", "within_days": 365}
    assert check(fresh, standing(last_verified=None)) == ["IDENTITY_NOT_VERIFIED"]
    window_start = AT - 365 * DAY
    assert check(fresh, standing(last_verified=window_start)) == []
    assert check(fresh, standing(last_verified=window_start + MINUTE)) == []
    assert check(fresh, standing(last_verified=window_start - MINUTE)) == [
        "IDENTITY_VERIFICATION_STALE"
    ]
    ever = {"kind": "identity_verified"}
    assert check(ever, standing(last_verified=AT - 3000 * DAY)) == []
    assert check(ever, standing(last_verified=None)) == ["IDENTITY_NOT_VERIFIED"]


def test_business_status() -> None:
    default = {"kind": "business_status"}
    assert check(default, GOOD) == []
    assert check(default, standing(status=None)) == ["REGISTRY_RECORD_MISSING"]
    assert check(default, standing(status=RegistrationStatus.CANCELLED)) == [
        "BUSINESS_STATUS_NOT_ALLOWED"
    ]
    liquidation = standing(status=RegistrationStatus.IN_LIQUIDATION)
    assert check(default, liquidation) == ["BUSINESS_STATUS_NOT_ALLOWED"]
    wider = {"kind": "business_status", "allowed": ["in_business", "in_liquidation"]}
    assert check(wider, liquidation) == []
    assert check(wider, standing(status=RegistrationStatus.REVOKED)) == [
        "BUSINESS_STATUS_NOT_ALLOWED"
    ]


def term(end: dt.date | None, start: dt.date | None = dt.date(2015, 1, 1)) -> LicenceTerm:
    return LicenceTerm(start, end, open_ended=end is None)


def test_licence_valid_for_days() -> None:
    month = {"kind": "licence_valid_for_days", "days": 30}
    assert check(month, standing(licence_term=term(None))) == []
    assert check(month, standing(licence_term=term(TODAY + 30 * DAY))) == []
    assert check(month, standing(licence_term=term(TODAY + 31 * DAY))) == []
    assert check(month, standing(licence_term=term(TODAY + 29 * DAY))) == [
        "LICENCE_EXPIRES_TOO_SOON"
    ]
    assert check(month, standing(licence_term=term(TODAY))) == ["LICENCE_EXPIRES_TOO_SOON"]
    assert check(month, standing(licence_term=term(TODAY - DAY))) == ["LICENCE_EXPIRED"]
    assert check(month, standing(licence_term=None)) == ["LICENCE_EXPIRED"]
    not_started = term(None, start=TODAY + DAY)
    assert check(month, standing(licence_term=not_started)) == ["LICENCE_EXPIRED"]
    assert check(month, standing(licence_term=term(None, start=TODAY))) == []


def test_licence_valid_today_counts_the_end_date_as_its_last_day() -> None:
    today_only = {"kind": "licence_valid_for_days", "days": 0}
    assert check(today_only, standing(licence_term=term(TODAY))) == []
    assert check(today_only, standing(licence_term=term(TODAY - DAY))) == ["LICENCE_EXPIRED"]


def test_licence_dates_are_read_in_china() -> None:
    today_only = {"kind": "licence_valid_for_days", "days": 0}
    ends_today = standing(licence_term=term(TODAY))
    # 15:59 UTC is 23:59 in China, still 1 March; 16:00 UTC is 2 March there.
    last_minute = dt.datetime(2025, 3, 1, 15, 59, tzinfo=dt.UTC)
    assert check(today_only, ends_today, last_minute) == []
    assert check(today_only, ends_today, last_minute + MINUTE) == ["LICENCE_EXPIRED"]


def test_min_class() -> None:
    at_least_a = {"kind": "min_class", "class": "A"}
    assert check(at_least_a, standing(level_class="AAA")) == []
    assert check(at_least_a, standing(level_class="A")) == []
    assert check(at_least_a, standing(level_class="B")) == ["CLASS_TOO_LOW"]
    assert check(at_least_a, standing(level_class="C")) == ["CLASS_TOO_LOW"]
    assert check(at_least_a, standing(level_class=None)) == ["LEVEL_INSUFFICIENT_DATA"]
    assert check(at_least_a, standing(level_class="INSUFFICIENT_DATA")) == [
        "LEVEL_INSUFFICIENT_DATA"
    ]


def test_min_class_fails_closed_on_a_class_it_cannot_rank() -> None:
    at_least_a = policy({"kind": "min_class", "class": "A"})
    result = evaluate(at_least_a, standing(level_class="A+"), AT, CLASSES)
    assert [u.reason_code for u in result.unmet] == ["CLASS_UNKNOWN"]
    assert result.decision is Decision.DENY
    # The classes were reconfigured after the policy was loaded.
    result = evaluate(at_least_a, standing(level_class="B"), AT, ("S", "B"))
    assert [u.reason_code for u in result.unmet] == ["CLASS_UNKNOWN"]


def test_no_active_judicial() -> None:
    blocking = {"kind": "no_active_judicial", "kinds": ["dishonest_debtor", "serious_violation"]}
    debtor = JudicialEntryKind.DISHONEST_DEBTOR
    assert check(blocking, GOOD) == []
    assert check(blocking, standing(judicial_entries=(judicial(debtor, TODAY),))) == [
        "ACTIVE_JUDICIAL_ENTRY"
    ]
    listed_tomorrow = judicial(debtor, TODAY + DAY)
    assert check(blocking, standing(judicial_entries=(listed_tomorrow,))) == []
    removed_today = judicial(debtor, TODAY - 100 * DAY, removed=TODAY)
    assert check(blocking, standing(judicial_entries=(removed_today,))) == []
    removed_tomorrow = judicial(debtor, TODAY - 100 * DAY, removed=TODAY + DAY)
    assert check(blocking, standing(judicial_entries=(removed_tomorrow,))) == [
        "ACTIVE_JUDICIAL_ENTRY"
    ]
    penalty = judicial(JudicialEntryKind.ADMINISTRATIVE_PENALTY, TODAY - DAY)
    assert check(blocking, standing(judicial_entries=(penalty,))) == []


def test_no_active_judicial_counts_abnormal_operations_as_it_reads_on_the_day() -> None:
    blocking = {"kind": "no_active_judicial", "kinds": ["serious_violation"]}
    abnormal = JudicialEntryKind.ABNORMAL_OPERATIONS
    three_years_ago = judicial(abnormal, dt.date(2022, 3, 1))
    not_yet = judicial(abnormal, dt.date(2022, 3, 2))
    assert check(blocking, standing(judicial_entries=(three_years_ago,))) == [
        "ACTIVE_JUDICIAL_ENTRY"
    ]
    assert check(blocking, standing(judicial_entries=(not_yet,))) == []


def test_active_judicial_entries_are_named_by_id() -> None:
    entries = (
        judicial(JudicialEntryKind.DISHONEST_DEBTOR, TODAY - DAY, entry_id="J-7"),
        judicial(JudicialEntryKind.DISHONEST_DEBTOR, TODAY - DAY, entry_id="J-9"),
    )
    blocking = policy({"kind": "no_active_judicial", "kinds": ["dishonest_debtor"]})
    (unmet,) = evaluate(blocking, standing(judicial_entries=entries), AT, CLASSES).unmet
    assert "J-7" in unmet.description
    assert "J-9" in unmet.description
    assert "court" not in unmet.description


def test_no_recent_punishment() -> None:
    serious_month = {"kind": "no_recent_punishment", "min_severity": "serious", "within_days": 30}

    def reasons(*records: tuple[str, ConductRecord]) -> list[str]:
        return check(serious_month, standing(conduct_records=records))

    assert reasons() == []
    assert reasons(punishment(TODAY)) == ["RECENT_PUNISHMENT"]
    assert reasons(punishment(TODAY - 30 * DAY)) == ["RECENT_PUNISHMENT"]
    assert reasons(punishment(TODAY - 31 * DAY)) == []
    assert reasons(punishment(TODAY + DAY)) == []
    assert reasons(punishment(TODAY, Severity.SEVERE)) == ["RECENT_PUNISHMENT"]
    assert reasons(punishment(TODAY, Severity.MODERATE)) == []
    assert reasons(punishment(TODAY, Severity.MINOR)) == []
    assert reasons(punishment(TODAY, withdrawn=True)) == []
    assert reasons(punishment(TODAY, kind=ConductKind.COMPLAINT)) == []
    assert reasons(punishment(TODAY, kind=ConductKind.DISPUTE)) == []
    assert reasons(punishment(TODAY, platform="taobao")) == []


def test_no_recent_punishment_on_any_platform() -> None:
    anywhere = {
        "kind": "no_recent_punishment",
        "min_severity": "minor",
        "within_days": 30,
        "scope": "any_platform",
    }
    elsewhere = standing(conduct_records=(punishment(TODAY, platform="taobao", record_id="T-1"),))
    assert check(anywhere, elsewhere) == ["RECENT_PUNISHMENT"]
    (unmet,) = evaluate(policy(anywhere), elsewhere, AT, CLASSES).unmet
    assert "T-1" not in unmet.description
    assert "1 on other platforms" in unmet.description
    own = standing(conduct_records=(punishment(TODAY, record_id="P-5"),))
    (unmet,) = evaluate(policy(anywhere), own, AT, CLASSES).unmet
    assert "P-5" in unmet.description


def test_onsite_certification() -> None:
    onsite = {"kind": "onsite_certification"}

    def reasons(*certifications: tuple[str, Certification]) -> list[str]:
        return check(onsite, standing(certifications=certifications))

    assert reasons() == ["NO_VALID_CERTIFICATION"]
    assert reasons(certification(TODAY - 100 * DAY, None)) == []
    assert reasons(certification(TODAY - 100 * DAY, TODAY)) == []
    assert reasons(certification(TODAY - 100 * DAY, TODAY - DAY)) == ["NO_VALID_CERTIFICATION"]
    assert reasons(certification(TODAY, None)) == []
    assert reasons(certification(TODAY + DAY, None)) == ["NO_VALID_CERTIFICATION"]
    assert reasons(certification(TODAY - DAY, None, platform="taobao")) == [
        "NO_VALID_CERTIFICATION"
    ]
    expired_and_valid = (
        certification(TODAY - 400 * DAY, TODAY - 35 * DAY),
        certification(TODAY - 30 * DAY, None),
    )
    assert reasons(*expired_and_valid) == []


def test_store_count() -> None:
    one_to_three = {"kind": "store_count", "min": 1, "max": 3}
    open_ = StoreStatus.OPEN

    def reasons(*stores: tuple[str, Store]) -> list[str]:
        return check(one_to_three, standing(stores=stores))

    not_counted = (
        store(StoreStatus.CLOSED),
        store(StoreStatus.SUSPENDED),
        store(open_, platform="taobao"),
    )
    assert reasons(*not_counted) == ["TOO_FEW_STORES"]
    assert reasons(store(open_), *not_counted) == []
    assert reasons(*[store(open_, store_id=f"S{i}") for i in range(3)]) == []
    assert reasons(*[store(open_, store_id=f"S{i}") for i in range(4)]) == ["TOO_MANY_STORES"]
    none_yet = {"kind": "store_count", "max": 0}
    assert check(none_yet, GOOD) == []
    assert check(none_yet, standing(stores=(store(open_),))) == ["TOO_MANY_STORES"]


# --- decisions -----------------------------------------------------------------------------

MIXED = policy(
    {
        "kind": "identity_verified",
        "within_days": 365,
        "supplementary_information": ["a copy of the business licence", "a bank statement"],
    },
    {
        "kind": "min_class",
        "class": "A",
        "on_unmet": "review",
        "supplementary_information": ["a bank statement", "tax records"],
    },
    {
        "kind": "onsite_certification",
        "on_unmet": "review",
        "supplementary_information": ["photos of the premises"],
    },
    {
        "kind": "business_status",
        "supplementary_information": ["a registry extract"],
    },
)
CERTIFIED = (certification(TODAY - DAY, None),)


def test_allow_when_every_condition_is_met() -> None:
    result = evaluate(MIXED, standing(certifications=CERTIFIED), AT, CLASSES)
    assert result == EligibilityResult(Decision.ALLOW, (), ())


def test_review_when_only_review_conditions_are_unmet() -> None:
    result = evaluate(MIXED, standing(level_class="B"), AT, CLASSES)
    assert result.decision is Decision.REVIEW
    assert [(u.kind, u.reason_code, u.consequence) for u in result.unmet] == [
        ("min_class", "CLASS_TOO_LOW", Consequence.REVIEW),
        ("onsite_certification", "NO_VALID_CERTIFICATION", Consequence.REVIEW),
    ]
    assert result.supplementary_information == (
        "a bank statement",
        "tax records",
        "photos of the premises",
    )


def test_deny_when_any_deny_condition_is_unmet_and_every_unmet_one_is_reported() -> None:
    subject = standing(last_verified=None, level_class="C")
    result = evaluate(MIXED, subject, AT, CLASSES)
    assert result.decision is Decision.DENY
    assert [(u.reason_code, u.consequence) for u in result.unmet] == [
        ("IDENTITY_NOT_VERIFIED", Consequence.DENY),
        ("CLASS_TOO_LOW", Consequence.REVIEW),
        ("NO_VALID_CERTIFICATION", Consequence.REVIEW),
    ]
    # Deduplicated, in condition order, and nothing from the met business_status condition.
    assert result.supplementary_information == (
        "a copy of the business licence",
        "a bank statement",
        "tax records",
        "photos of the premises",
    )


def test_a_suspended_enterprise_is_denied_whatever_the_conditions() -> None:
    suspended = standing(
        certifications=CERTIFIED, service_suspended=True, suspension_reason="under investigation"
    )
    result = evaluate(MIXED, suspended, AT, CLASSES)
    assert result.decision is Decision.DENY
    (unmet,) = result.unmet
    assert (unmet.kind, unmet.reason_code, unmet.consequence) == (
        "service",
        "ENTERPRISE_SUSPENDED",
        Consequence.DENY,
    )
    assert "under investigation" in unmet.description
    assert result.supplementary_information == ()
    # Other unmet conditions are not reported alongside the suspension.
    worse = dataclasses.replace(suspended, last_verified=None, level_class="C")
    assert len(evaluate(MIXED, worse, AT, CLASSES).unmet) == 1


def test_platform_scoped_conditions_use_the_policys_platform() -> None:
    other = parse_policy(
        document(
            {"kind": "onsite_certification"}, {"kind": "store_count", "min": 1}, platform="jd"
        ),
        CLASSES,
    )
    subject = standing(certifications=CERTIFIED, stores=(store(StoreStatus.OPEN),))
    reasons = [u.reason_code for u in evaluate(other, subject, AT, CLASSES).unmet]
    assert reasons == ["NO_VALID_CERTIFICATION", "TOO_FEW_STORES"]
