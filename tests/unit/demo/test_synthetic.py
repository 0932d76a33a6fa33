from __future__ import annotations

import datetime
import io
import json
from collections import Counter
from decimal import Decimal

import pytest

from service.demo.synthetic import generate_registry_records, write_jsonl
from service.domain.identifiers.divisions import division_name
from service.domain.identifiers.resident_id import parse_resident_id
from service.domain.identifiers.uscc import parse_uscc
from service.domain.text import TextKind, check_text

AS_OF = datetime.date(2025, 6, 30)
COUNT = 20_000

RECORD_KEYS = {
    "uscc",
    "name",
    "enterprise_type",
    "legal_representative",
    "registered_capital",
    "capital_currency",
    "establishment_date",
    "term_start",
    "term_end",
    "registration_authority",
    "approval_date",
    "status",
    "address",
    "business_scope",
    "shareholders",
    "changes",
}
STATUSES = {
    "in_business",
    "moved_out",
    "cancelled",
    "revoked",
    "withdrawn",
    "suspended",
    "in_liquidation",
    "being_established",
}

Record = dict[str, object]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return list(generate_registry_records(COUNT, seed=7, as_of=AS_OF))


def as_dict(value: object) -> dict[str, object]:
    assert isinstance(value, dict)
    return value


def as_list(value: object) -> list[dict[str, object]]:
    assert isinstance(value, list)
    return value


def day(value: object) -> datetime.date:
    assert isinstance(value, str)
    return datetime.date.fromisoformat(value)


def test_count_and_shape(records: list[Record]) -> None:
    assert len(records) == COUNT
    for record in records:
        assert set(record) == RECORD_KEYS
        assert set(as_dict(record["legal_representative"])) == {"name", "id_number"}
        for holder in as_list(record["shareholders"]):
            assert set(holder) == {"name", "kind", "subscribed_capital", "ratio"}
            assert holder["kind"] in {"natural_person", "enterprise"}
        for change in as_list(record["changes"]):
            assert set(change) == {"date", "item", "before", "after"}
            assert all(isinstance(value, str) for value in change.values())
        assert record["capital_currency"] == "CNY"
        assert record["status"] in STATUSES


def test_records_are_json_ready(records: list[Record]) -> None:
    for record in records[:2000]:
        assert json.loads(json.dumps(record, ensure_ascii=False)) == record


def test_every_uscc_parses_and_is_market_regulated(records: list[Record]) -> None:
    types: Counter[str] = Counter()
    for record in records:
        assert isinstance(record["uscc"], str)
        uscc = parse_uscc(record["uscc"])
        assert uscc.registration_authority == "9"
        types[uscc.organisation_type] += 1
    assert set(types) == {"1", "2", "3"}
    assert 0.77 < types["1"] / COUNT < 0.83
    assert 0.14 < types["2"] / COUNT < 0.20
    assert 0.02 < types["3"] / COUNT < 0.04


def test_every_id_number_parses_and_belongs_to_an_adult(records: list[Record]) -> None:
    missing = 0
    for record in records:
        number = as_dict(record["legal_representative"])["id_number"]
        if number is None:
            missing += 1
            continue
        assert isinstance(number, str)
        born = parse_resident_id(number, AS_OF).birth_date
        established = day(record["establishment_date"])
        birthday_passed = (established.month, established.day) >= (born.month, born.day)
        age = established.year - born.year - (0 if birthday_passed else 1)
        assert 18 <= age <= 65
    assert 0.07 < missing / COUNT < 0.13


def test_same_seed_same_records_other_seed_other_records(records: list[Record]) -> None:
    again = list(generate_registry_records(500, seed=7, as_of=AS_OF))
    other = list(generate_registry_records(500, seed=8, as_of=AS_OF))
    assert again == records[:500]
    assert other != again


def test_uscc_and_name_are_unique(records: list[Record]) -> None:
    assert len({record["uscc"] for record in records}) == COUNT
    assert len({record["name"] for record in records}) == COUNT


def test_status_mix(records: list[Record]) -> None:
    statuses = Counter(record["status"] for record in records)
    assert statuses["in_business"] / COUNT > 0.8
    assert 0.03 < statuses["cancelled"] / COUNT < 0.1
    assert 0.01 < statuses["revoked"] / COUNT < 0.06


def test_kinds_of_registrant(records: list[Record]) -> None:
    for record in records:
        assert isinstance(record["uscc"], str)
        individual = record["uscc"][:2] == "92"
        assert (record["enterprise_type"] == "个体工商户") == individual
        if individual:
            assert record["registered_capital"] is None
            assert record["shareholders"] == []
        if record["uscc"][:2] == "93":
            assert record["enterprise_type"] == "农民专业合作社"


def test_shares_add_up(records: list[Record]) -> None:
    for record in records:
        holders = as_list(record["shareholders"])
        if not holders:
            continue
        assert sum(Decimal(str(h["ratio"])) for h in holders) == Decimal(1)
        assert all(Decimal(str(h["ratio"])) > 0 for h in holders)
        capital = sum(Decimal(str(h["subscribed_capital"])) for h in holders)
        assert capital == Decimal(str(record["registered_capital"]))


def test_dates_are_consistent(records: list[Record]) -> None:
    terms: Counter[str] = Counter()
    for record in records:
        established = day(record["establishment_date"])
        assert record["term_start"] == record["establishment_date"]
        assert established < AS_OF
        assert established <= day(record["approval_date"]) <= AS_OF
        change_days = [day(change["date"]) for change in as_list(record["changes"])]
        assert len(change_days) <= 3
        assert change_days == sorted(change_days)
        assert all(established < changed < AS_OF for changed in change_days)
        if record["term_end"] is None:
            terms["open"] += 1
        else:
            terms["expired" if day(record["term_end"]) < AS_OF else "running"] += 1
    assert all(terms[kind] > COUNT * 0.01 for kind in ("open", "expired", "running"))


def test_registration_authority_names_the_division(records: list[Record]) -> None:
    for record in records:
        assert isinstance(record["uscc"], str) and isinstance(record["registration_authority"], str)
        name = division_name(record["uscc"][2:8])
        assert name is not None
        assert record["registration_authority"].endswith("市场监督管理局")
        assert name in record["registration_authority"]


def test_text_fields_pass_the_services_own_text_rules(records: list[Record]) -> None:
    for record in records:
        check_text(str(record["name"]), TextKind.ENTERPRISE_NAME)
        check_text(str(record["address"]), TextKind.ADDRESS)
        check_text(str(as_dict(record["legal_representative"])["name"]), TextKind.PERSON_NAME)


def test_write_jsonl_round_trips() -> None:
    records = list(generate_registry_records(50, seed=1, as_of=AS_OF))
    stream = io.StringIO()
    assert write_jsonl(records, stream) == 50
    lines = stream.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == records
    assert "市场监督管理局" in lines[0]  # written as UTF-8 text, not \u escapes
