from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from service.domain.identifiers.divisions import current_county_codes
from service.domain.identifiers.resident_id import make_resident_id, resident_id_check_digit
from service.domain.identifiers.uscc import make_uscc, parse_uscc
from service.domain.personal_data_screen import (
    REASON,
    PersonalDataKind,
    find_personal_data,
    screen_free_text,
)

ID = PersonalDataKind.ID_NUMBER
PHONE = PersonalDataKind.PHONE_NUMBER

# Text around the number: CJK, punctuation and letters end a number, never join it.
surroundings = st.sampled_from(
    ["", "买家", "联系人：", "身份证号 ", "电话:", "（", "), ", "tel ", "。", "号码为"]
)
divisions = st.sampled_from(current_county_codes())
births = st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2010, 12, 31))
sequences = st.integers(min_value=0, max_value=999)
mobiles = st.builds(
    lambda second, rest: f"1{second}{rest:09d}",
    st.sampled_from("3456789"),
    st.integers(min_value=0, max_value=999_999_999),
)


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" or c == "X" else c for c in text)


def _spaced(number: str, widths: tuple[int, ...], joiner: str) -> str:
    parts, position = [], 0
    for width in widths:
        parts.append(number[position : position + width])
        position += width
    parts.append(number[position:])
    return joiner.join(p for p in parts if p)


@given(divisions, births, sequences, surroundings, surroundings)
@example("110105", dt.date(1949, 12, 31), 2, "", "")  # 11010519491231002X
def test_an_id_number_in_text_is_found(
    division: str, born: dt.date, sequence: int, before: str, after: str
) -> None:
    number = make_resident_id(division, born, sequence)
    assert find_personal_data(f"{before}{number}{after}") is ID
    assert find_personal_data(f"{before}{number.lower()}{after}") is ID


@given(
    divisions,
    births,
    sequences,
    st.sampled_from([(6, 8), (6, 8, 4), (4, 4, 4, 4), (3, 3, 4, 4, 4)]),
    st.sampled_from([" ", "-", "\u3000", " - "]),
)
def test_an_id_number_written_in_groups_or_full_width_is_found(
    division: str, born: dt.date, sequence: int, widths: tuple[int, ...], joiner: str
) -> None:
    number = make_resident_id(division, born, sequence)
    spaced = _spaced(number, widths, joiner)
    assert find_personal_data(f"投诉人身份证 {spaced} 已核实") is ID
    assert find_personal_data(f"投诉人身份证{_full_width(number)}已核实") is ID
    assert find_personal_data(f"于2026-11-01 {spaced}") is ID  # a date before it does not hide it


@given(divisions, births, sequences)
def test_a_fifteen_digit_id_number_is_found(division: str, born: dt.date, sequence: int) -> None:
    old = f"{division}{born:%y%m%d}{sequence:03d}"
    assert find_personal_data(f"旧证号{old}") is ID


@given(
    mobiles,
    st.sampled_from(["", "+86", "+86 ", "86", "0086 ", "(+86)", "+86-"]),
    st.sampled_from([(), (3, 4), (3, 4, 4)]),
    st.sampled_from([" ", "-"]),
    surroundings,
    surroundings,
)
def test_a_mobile_number_is_found_with_or_without_country_code_and_separators(
    mobile: str, prefix: str, widths: tuple[int, ...], joiner: str, before: str, after: str
) -> None:
    written = _spaced(mobile, widths, joiner) if widths else mobile
    assert find_personal_data(f"{before}{prefix}{written}{after}") is PHONE
    assert find_personal_data(f"{before}{_full_width(prefix + written)}{after}") is PHONE


@pytest.mark.parametrize(
    "text",
    [
        "商家电话0571-88886666",
        "座机 (0571) 8888 6666 转客服",
        "北京010-62345678",
        "020 8765 4321",
        "0755-2345678",
        "投诉电话：057188886666",
        "买家 ０５７１－８８８８６６６６",
    ],
)
def test_landlines_with_area_codes_are_found(text: str) -> None:
    assert find_personal_data(text) is PHONE


@pytest.mark.parametrize(
    "text",
    [
        "",
        "虚假发货，情节严重",
        "订单金额 13,800.00 元，退款 1380.50 元",
        "金额13800000元",
        "2026-11-01 至 2026-12-31 期间违规",
        "2026年11月01日 08:30:15",
        "订单号 202611011234567890",
        "订单号 2026110112345678",
        "订单 202611011234567",
        "运单 SF1234567890123",
        "违反《规则》第3.2.1条，扣12分",
        "邮编310000",
        "时间戳 1764547200",
        "1764547200000",
        "(2023)浙0106执1234号",
        "店铺 1688 号，类目 3C 数码",
        "文三路100号1501室",
        "consent/2026/0001",
    ],
)
def test_ordinary_numbers_are_not_flagged(text: str) -> None:
    assert find_personal_data(text) is None


@given(
    st.sampled_from("9"),
    st.sampled_from("123"),
    divisions,
    st.integers(min_value=0, max_value=99_999_999),
)
def test_usccs_are_not_flagged(authority: str, org_type: str, division: str, code: int) -> None:
    uscc = make_uscc(authority, org_type, division, f"{code:08d}")
    assert find_personal_data(f"统一社会信用代码{uscc}") is None
    assert find_personal_data(uscc) is None


def test_an_all_digit_uscc_shaped_like_an_id_number_is_not_flagged() -> None:
    # A valid USCC (authority 1, type 1: "11", Beijing's province code) whose digits 7-14
    # read as 1946-12-09 and whose last digit is also the ID number check digit.
    uscc = "111201194612098785"
    parse_uscc(uscc)
    assert resident_id_check_digit(uscc[:17]) == uscc[17]
    assert find_personal_data(f"代码{uscc}") is None


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**6))
def test_amounts_are_not_flagged(yuan: int, fen: int) -> None:
    assert find_personal_data(f"成交额 {yuan:,}.{fen % 100:02d} 元") is None


def test_the_violation_names_the_field_and_never_the_value() -> None:
    number = make_resident_id("110105", dt.date(1980, 5, 17), 12)
    violation = screen_free_text("conduct.description", f"买家{number}投诉")
    assert violation is not None
    assert violation.field == "conduct.description"
    assert violation.reason == REASON
    assert number not in violation.description
    assert screen_free_text("conduct.description", "虚假发货") is None


def test_a_uuid_whose_groups_read_as_a_landline_is_not_flagged() -> None:
    # "0435-4303-9016" alone is a landline with its area code; inside a UUID it is an id.
    caller_id = "183c11a2-0435-4303-9016-b89b6c03bc6f"
    assert find_personal_data("0435-4303-9016") is PersonalDataKind.PHONE_NUMBER
    assert find_personal_data(caller_id) is None
    assert find_personal_data(f"enterprises/x/verifications/{caller_id}") is None


@given(st.uuids())
def test_uuids_are_not_flagged(value: uuid.UUID) -> None:
    assert find_personal_data(str(value)) is None
    assert find_personal_data(str(value).upper()) is None


def test_a_phone_number_beside_a_uuid_is_still_flagged() -> None:
    assert find_personal_data("183c11a2-0435-4303-9016-b89b6c03bc6f 13812345678") is not None
