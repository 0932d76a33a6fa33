from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.errors import InvalidIdentifier
from service.domain.identifiers.divisions import current_county_codes
from service.domain.identifiers.uscc import (
    NATIONAL_AUTHORITY_CODE,
    USCC_ALPHABET,
    RegionScope,
    check_uscc,
    make_uscc,
    normalise_uscc,
    organisation_code_check_character,
    parse_uscc,
    uscc_check_character,
)

# Codes as published by the enterprises or on public registry pages; each was
# checked against both check characters before it was trusted here.
PUBLISHED = [
    "91110000802100433B",
    "91350100M000100Y43",  # the common textbook example
    "91330100799655058B",  # 阿里巴巴（中国）有限公司
    "914403001922038216",  # 华为技术有限公司
    "9144030071526726XG",  # 腾讯科技（深圳）有限公司: organisation check character X
    "91110108551385082Q",  # 小米科技有限责任公司
    "91440300708461136T",
    "91110105771583283D",
    "91110108740084270C",
    "112302070019030687",  # authority 1 (institutional establishment)
    "51610700305332460K",  # authority 5 (civil affairs)
]

# Values of the USCC alphabet (no I, O, S, V, Z) and of GB 11714 (A=10 ... Z=35),
# spelled out so the tests do not share the implementation's tables.
USCC_VALUE = {c: i for i, c in enumerate("0123456789ABCDEFGHJKLMNPQRTUWXY")}
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def org_value(char: str) -> int:
    return int(char, 36)


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code: str) -> None:
    uscc = parse_uscc(code)
    assert uscc.value == code
    assert uscc.registration_authority == code[0]
    assert uscc.organisation_type == code[1]
    assert uscc.division_code == code[2:8]
    assert uscc.organisation_code == code[8:17]
    assert uscc.region_scope is RegionScope.MAINLAND


def test_textbook_example_by_hand() -> None:
    # 9 1 3 5 0 1 0 0 M 0 0 0 1 0 0 Y 4 with M = 21 and Y = 30 in the USCC alphabet
    total = (
        9 * 1 + 1 * 3 + 3 * 9 + 5 * 27 + 0 * 19 + 1 * 26 + 0 * 16 + 0 * 17
        + 21 * 20 + 0 * 29 + 0 * 25 + 0 * 13 + 1 * 8 + 0 * 24 + 0 * 10 + 30 * 30 + 4 * 28
    )  # fmt: skip
    assert total == 1640 and total % 31 == 28  # (31 - 28) % 31 = 3
    assert uscc_check_character("91350100M000100Y4") == "3"
    # In GB 11714 the letters count differently: M = 22, Y = 34.
    org_total = 22 * 3 + 0 * 7 + 0 * 9 + 0 * 10 + 1 * 5 + 0 * 8 + 0 * 4 + 34 * 2
    assert org_total == 139 and 11 - org_total % 11 == 4
    assert organisation_code_check_character("M000100Y") == "4"


@pytest.mark.parametrize(
    ("authority", "org_type", "division", "body", "org_total", "total", "expected"),
    [
        # N (agriculture), type 2; USCC sum 1187 = 38*31 + 9 -> 22 = N
        ("N", "2", "330106", "12345678", 201, 1187, "N2330106123456788N"),
        # organisation sum 242 is 0 mod 11 -> 11 -> "0"; USCC 950 = 30*31 + 20 -> 11 = B
        ("N", "3", "510104", "57193624", 242, 950, "N3510104571936240B"),
        # A (military establishment office); 1580 = 50*31 + 30 -> 1
        ("A", "1", "110000", "MA01AB2C", 316, 1580, "A1110000MA01AB2C31"),
        # Y (other); organisation 736 = 66*11 + 10 -> 1; USCC 2780 = 89*31 + 21 -> 10 = A
        ("Y", "1", "440305", "MA5DXQ3K", 736, 2780, "Y1440305MA5DXQ3K1A"),
    ],
)
def test_letter_first_codes_by_hand(
    authority: str,
    org_type: str,
    division: str,
    body: str,
    org_total: int,
    total: int,
    expected: str,
) -> None:
    assert sum(org_value(c) * w for c, w in zip(body, ORG_WEIGHTS, strict=True)) == org_total
    assert sum(USCC_VALUE[c] * w for c, w in zip(expected, USCC_WEIGHTS, strict=False)) == total
    code = make_uscc(authority, org_type, division, body)
    assert code == expected
    parsed = parse_uscc(code)
    assert (parsed.registration_authority, parsed.organisation_type) == (authority, org_type)
    assert not parsed.is_market_regulated


def test_alphabet_is_the_31_symbols_without_i_o_z_s_v() -> None:
    assert len(USCC_ALPHABET) == 31
    assert set(USCC_ALPHABET).isdisjoint("IOZSV")


def test_market_regulation_properties() -> None:
    enterprise = parse_uscc(make_uscc("9", "1", "330106", "MA27XK1F"))
    shop = parse_uscc(make_uscc("9", "2", "330106", "MA27XK1G"))
    cooperative = parse_uscc(make_uscc("9", "3", "330106", "MA27XK1H"))
    civil_affairs = parse_uscc("51610700305332460K")
    assert enterprise.is_market_regulated and not enterprise.is_individual_business
    assert shop.is_market_regulated and shop.is_individual_business
    assert cooperative.is_market_regulated and not cooperative.is_individual_business
    assert not civil_affairs.is_market_regulated and not civil_affairs.is_individual_business


@pytest.mark.parametrize(
    ("division", "scope"),
    [
        ("810000", RegionScope.HONG_KONG),
        ("820000", RegionScope.MACAO),
        ("710000", RegionScope.TAIWAN),
        ("330106", RegionScope.MAINLAND),
        (NATIONAL_AUTHORITY_CODE, RegionScope.MAINLAND),
    ],
)
def test_region_scope(division: str, scope: RegionScope) -> None:
    assert parse_uscc(make_uscc("9", "1", division, "12345678")).region_scope is scope


def test_national_registration_authority_code_is_accepted() -> None:
    code = make_uscc("9", "1", "100000", "71093123")
    assert parse_uscc(code).division_code == "100000"


def test_normalise_uscc_tidies_but_parse_does_not() -> None:
    messy = " 9135 0100m000100y43\u3000"
    assert normalise_uscc(messy) == "91350100M000100Y43"
    assert normalise_uscc("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"
    with pytest.raises(InvalidIdentifier):
        parse_uscc(messy)


def rejection(raw: str) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_uscc(raw)
    assert raw not in caught.value.description or not raw
    return caught.value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "USCC_REQUIRED"),
        ("9135010", "USCC_LENGTH"),
        ("91350100M000100Y433", "USCC_LENGTH"),
        ("91350100M000100Y4 ", "USCC_ALPHABET"),
        ("91350100M0001O0Y43", "USCC_ALPHABET"),
        ("01350100M000100Y43", "USCC_REGISTRATION_AUTHORITY"),
        ("B1350100M000100Y43", "USCC_REGISTRATION_AUTHORITY"),
        ("94350100M000100Y43", "USCC_ORGANISATION_TYPE"),
        ("Y2350100M000100Y43", "USCC_ORGANISATION_TYPE"),
        ("91999999M000100Y43", "USCC_DIVISION_CODE"),
        ("91830000M000100Y43", "USCC_DIVISION_CODE"),  # a permit prefix, not a division
        ("91350100M000100Y53", "USCC_ORGANISATION_CODE_CHECK"),
        ("91350100M000100Y44", "USCC_CHECK_CHARACTER"),
    ],
)
def test_rejection_reasons(raw: str, reason: str) -> None:
    assert rejection(raw).reason == reason
    with pytest.raises(InvalidIdentifier) as caught:
        check_uscc(raw)  # the verdict alone, as the eligibility check asks for it
    assert caught.value.reason == reason


def test_lower_case_is_an_alphabet_violation_asking_for_upper_case() -> None:
    problem = rejection("91350100m000100Y43")
    assert problem.reason == "USCC_ALPHABET"
    assert "upper-case" in problem.description
    assert "character 9" in problem.description


def test_excluded_letters_are_named() -> None:
    problem = rejection("9135010SM000100Y43")
    assert "I, O, Z, S or V" in problem.description


@pytest.mark.parametrize(("args"), [("9", "1", "33010", "12345678"), ("9", "1", "330106", "1234")])
def test_make_uscc_rejects_malformed_parts(args: tuple[str, str, str, str]) -> None:
    with pytest.raises(ValueError):
        make_uscc(*args)


def test_organisation_code_whose_check_is_not_in_the_uscc_alphabet_cannot_be_made() -> None:
    with pytest.raises(ValueError):
        make_uscc("9", "1", "330106", "1234567I")


# -- properties ------------------------------------------------------------

org_bodies = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8)
divisions = st.sampled_from(current_county_codes())
authority_types = st.sampled_from(
    [("9", "1"), ("9", "2"), ("9", "3"), ("1", "1"), ("5", "9"), ("N", "2"), ("A", "9"), ("Y", "1")]
)


@given(authority_types, divisions, org_bodies)
def test_made_codes_satisfy_both_check_equations(
    authority_type: tuple[str, str], division: str, body: str
) -> None:
    code = make_uscc(*authority_type, division, body)
    # The whole code, check character weighted 1, is 0 mod 31; the organisation
    # code, check character weighted 1 (X = 10), is 0 mod 11.
    assert (
        sum(USCC_VALUE[c] * w for c, w in zip(code, USCC_WEIGHTS, strict=False))
        + USCC_VALUE[code[17]]
    ) % 31 == 0
    org_check = 10 if code[16] == "X" else int(code[16])
    assert (
        sum(org_value(c) * w for c, w in zip(body, ORG_WEIGHTS, strict=True)) + org_check
    ) % 11 == 0
    assert parse_uscc(code).value == code


@given(
    authority_types,
    divisions,
    org_bodies,
    st.integers(min_value=0, max_value=17),
    st.sampled_from(USCC_ALPHABET),
)
def test_any_single_character_change_is_rejected(
    authority_type: tuple[str, str], division: str, body: str, position: int, char: str
) -> None:
    code = make_uscc(*authority_type, division, body)
    changed = code[:position] + char + code[position + 1 :]
    if changed == code:
        return
    with pytest.raises(InvalidIdentifier):
        parse_uscc(changed)
