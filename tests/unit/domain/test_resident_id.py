from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.errors import InvalidIdentifier
from service.domain.identifiers.divisions import current_county_codes, is_known_division
from service.domain.identifiers.resident_id import (
    IdDocumentKind,
    make_resident_id,
    parse_resident_id,
    resident_id_check_digit,
)

TODAY = datetime.date(2025, 6, 30)
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def test_published_sample_is_valid() -> None:
    parsed = parse_resident_id("11010519491231002X", TODAY)
    assert parsed.kind is IdDocumentKind.RESIDENT_ID
    assert parsed.division_code == "110105"
    assert parsed.birth_date == datetime.date(1949, 12, 31)


def test_published_sample_check_digit_by_hand() -> None:
    digits = [1, 1, 0, 1, 0, 5, 1, 9, 4, 9, 1, 2, 3, 1, 0, 0, 2]
    total = sum(d * w for d, w in zip(digits, WEIGHTS, strict=True))
    assert total == 167 and total % 11 == 2  # (12 - 2) % 11 = 10 -> X
    assert resident_id_check_digit("11010519491231002") == "X"


def test_standard_example_born_before_1900_has_a_right_check_digit_but_is_refused() -> None:
    # GB 11643-1999's second example (潮阳县, born 1880). The check digit is right;
    # the service refuses births before 1900 as implausible for a legal representative.
    assert resident_id_check_digit("44052418800101001") == "4"
    with pytest.raises(InvalidIdentifier) as caught:
        parse_resident_id("440524188001010014", TODAY)
    assert caught.value.reason == "ID_NUMBER_BIRTH_DATE"


def test_code_retired_before_the_birth_is_accepted() -> None:
    # loc.dat: 11 0103 county="[-2010]崇文区". The table's years come from
    # Wikipedia and numbers outlive reorganisations, so the service never compares
    # a code's years with the birth date, in either direction.
    number = make_resident_id("110103", datetime.date(2015, 6, 1), 12)
    assert parse_resident_id(number, TODAY).division_code == "110103"


def test_code_created_after_the_birth_is_accepted() -> None:
    # loc.dat: 11 0118 county="[2015-]密云区". Someone born in 1975 who was
    # first issued a number after 2015 there carries 110118.
    number = make_resident_id("110118", datetime.date(1975, 3, 9), 123)
    assert parse_resident_id(number, TODAY).birth_date == datetime.date(1975, 3, 9)


@pytest.mark.parametrize(
    ("prefix", "kind"),
    [
        ("810000", IdDocumentKind.HONG_KONG_RESIDENCE_PERMIT),
        ("820000", IdDocumentKind.MACAO_RESIDENCE_PERMIT),
        ("830000", IdDocumentKind.TAIWAN_RESIDENCE_PERMIT),
    ],
)
def test_residence_permits(prefix: str, kind: IdDocumentKind) -> None:
    number = make_resident_id(prefix, datetime.date(1980, 2, 29), 7)
    assert parse_resident_id(number, TODAY).kind is kind


def test_830000_is_not_a_division_but_is_a_permit_prefix() -> None:
    assert not is_known_division("830000")
    parse_resident_id(make_resident_id("830000", datetime.date(1990, 1, 1), 1), TODAY)


def test_birth_on_today_is_accepted() -> None:
    parse_resident_id(make_resident_id("330106", TODAY, 1), TODAY)


def with_valid_check(first17: str) -> str:
    return first17 + resident_id_check_digit(first17)


def rejection(raw: str) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_resident_id(raw, TODAY)
    if raw:
        assert raw not in caught.value.description
        assert raw[6:14] not in caught.value.description  # nor the birth date
    return caught.value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "ID_NUMBER_REQUIRED"),
        ("11010519491231002", "ID_NUMBER_LENGTH"),
        ("11010519491231002X1", "ID_NUMBER_LENGTH"),
        ("110105194912310O2X", "ID_NUMBER_FORMAT"),
        ("11010519491231002Y", "ID_NUMBER_FORMAT"),
        ("X10105194912310023", "ID_NUMBER_FORMAT"),
        ("１１０１０５１９４９１２３１００２X", "ID_NUMBER_FORMAT"),
        ("11010519491231002 ", "ID_NUMBER_FORMAT"),
        (with_valid_check("99999919491231002"), "ID_NUMBER_DIVISION_CODE"),
        (with_valid_check("84000019491231002"), "ID_NUMBER_DIVISION_CODE"),
        (with_valid_check("11010519990230002"), "ID_NUMBER_BIRTH_DATE"),
        (with_valid_check("11010519991301002"), "ID_NUMBER_BIRTH_DATE"),
        (with_valid_check("11010518991231002"), "ID_NUMBER_BIRTH_DATE"),
        (with_valid_check("11010520250701002"), "ID_NUMBER_BIRTH_DATE_FUTURE"),
        ("110105194912310021", "ID_NUMBER_CHECK_DIGIT"),
    ],
)
def test_rejection_reasons(raw: str, reason: str) -> None:
    assert rejection(raw).reason == reason


def test_lower_case_x_asks_for_upper_case() -> None:
    problem = rejection("11010519491231002x")
    assert problem.reason == "ID_NUMBER_FORMAT"
    assert "upper-case X" in problem.description


def test_repr_does_not_reveal_the_number_or_birth_date() -> None:
    text = repr(parse_resident_id("11010519491231002X", TODAY))
    assert "11010519491231002X" not in text
    assert "1949" not in text


@pytest.mark.parametrize("sequence", [-1, 1000])
def test_make_resident_id_rejects_bad_sequence(sequence: int) -> None:
    with pytest.raises(ValueError):
        make_resident_id("110105", datetime.date(1949, 12, 31), sequence)


# -- properties ------------------------------------------------------------

birth_dates = st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY)
divisions = st.sampled_from(current_county_codes())
sequences = st.integers(min_value=0, max_value=999)


@given(divisions, birth_dates, sequences)
def test_made_numbers_parse_and_satisfy_iso_7064(
    division: str, birth_date: datetime.date, sequence: int
) -> None:
    number = make_resident_id(division, birth_date, sequence)
    # ISO 7064 MOD 11-2: all 18 characters, the check weighted 1 and X = 10, are 1 mod 11.
    check = 10 if number[17] == "X" else int(number[17])
    assert (sum(int(d) * w for d, w in zip(number, WEIGHTS, strict=False)) + check) % 11 == 1
    parsed = parse_resident_id(number, TODAY)
    assert (parsed.division_code, parsed.birth_date) == (division, birth_date)


@given(
    divisions,
    birth_dates,
    sequences,
    st.integers(min_value=0, max_value=17),
    st.sampled_from("0123456789X"),
)
def test_any_single_character_change_is_rejected(
    division: str, birth_date: datetime.date, sequence: int, position: int, char: str
) -> None:
    number = make_resident_id(division, birth_date, sequence)
    changed = number[:position] + char + number[position + 1 :]
    if changed == number:
        return
    with pytest.raises(InvalidIdentifier):
        parse_resident_id(changed, TODAY)
