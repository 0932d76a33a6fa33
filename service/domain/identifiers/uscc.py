"""Unified social credit codes (统一社会信用代码), GB 32100-2015 with Amendment 1 (2016).

Layout of the 18 characters:

    pos 1      registration authority (登记管理部门), e.g. 9 = market regulation
    pos 2      organisation type within that authority (机构类别)
    pos 3-8    GB/T 2260 division of the registering authority
    pos 9-17   GB 11714 organisation code: 8 characters and its own check character
    pos 18     check character over the first 17 (GB/T 17710 style, modulus 31)

python-stdnum's ``cn.uscc`` is not used: it miscomputes codes whose first
character is a letter (authorities A, N and Y).
"""

from __future__ import annotations

import operator
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from service.domain.errors import InvalidIdentifier
from service.domain.identifiers.divisions import is_known_division

USCC_LENGTH = 18

# Digits and upper-case letters without I, O, Z, S and V, which are too easily
# read as 1, 0, 2, 5 and U; a character's value is its index.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES: Mapping[str, int] = {char: value for value, char in enumerate(USCC_ALPHABET)}
_USCC_MODULUS = len(USCC_ALPHABET)
# 3^(i-1) mod 31 for positions i = 1..17.
_USCC_WEIGHTS = tuple(pow(3, position, _USCC_MODULUS) for position in range(17))

# GB 11714 organisation codes use all digits and letters; A = 10 ... Z = 35.
_ORGANISATION_CODE_VALUES: Mapping[str, int] = {
    char: value for value, char in enumerate(string.digits + string.ascii_uppercase)
}
_ORGANISATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Per position, each character's value already multiplied by that position's weight: a
# check sum is then one lookup per character. Every eligibility check validates a code,
# and this halves what the two check characters cost.
_USCC_WEIGHTED: tuple[Mapping[str, int], ...] = tuple(
    {char: value * weight for char, value in _USCC_VALUES.items()} for weight in _USCC_WEIGHTS
)
_ORGANISATION_CODE_WEIGHTED: tuple[Mapping[str, int], ...] = tuple(
    {char: value * weight for char, value in _ORGANISATION_CODE_VALUES.items()}
    for weight in _ORGANISATION_CODE_WEIGHTS
)

# Registration authority -> organisation types it may register (GB 32100-2015
# table 1 as amended in 2016).
ORGANISATION_TYPES: Mapping[str, frozenset[str]] = {
    "1": frozenset("1239"),  # institutional establishment (机构编制)
    "2": frozenset("19"),  # foreign affairs
    "3": frozenset("123459"),  # justice: law firms, notaries, ...
    "4": frozenset("19"),  # culture
    "5": frozenset("1239"),  # civil affairs: social organisations, foundations, ...
    "6": frozenset("129"),  # tourism
    "7": frozenset("129"),  # religious affairs
    "8": frozenset("19"),  # federation of trade unions
    "9": frozenset("123"),  # market regulation: enterprise, individual business, cooperative
    "A": frozenset("19"),  # central military commission reform and establishment office
    "N": frozenset("1239"),  # agriculture: rural collective economic organisations
    "Y": frozenset("1"),  # other
}

MARKET_REGULATION_AUTHORITY = "9"
INDIVIDUAL_BUSINESS_TYPE = "2"
# The national-level registration authorities register under this code; it is
# not a GB/T 2260 division, so the division table does not know it.
NATIONAL_AUTHORITY_CODE = "100000"


class RegionScope(StrEnum):
    """Where the registering authority sits, from its division code."""

    MAINLAND = "MAINLAND"
    HONG_KONG = "HONG_KONG"
    MACAO = "MACAO"
    TAIWAN = "TAIWAN"


_REGION_BY_PROVINCE: Mapping[str, RegionScope] = {
    "81": RegionScope.HONG_KONG,
    "82": RegionScope.MACAO,
    "71": RegionScope.TAIWAN,
}


@dataclass(frozen=True, slots=True)
class Uscc:
    """A unified social credit code that passed every check of GB 32100."""

    value: str
    registration_authority: str
    organisation_type: str
    division_code: str
    organisation_code: str
    """The nine-character GB 11714 organisation code, check character included."""

    @property
    def is_market_regulated(self) -> bool:
        """Registered by market regulation (enterprises, individual businesses, cooperatives)."""
        return self.registration_authority == MARKET_REGULATION_AUTHORITY

    @property
    def is_individual_business(self) -> bool:
        return self.is_market_regulated and self.organisation_type == INDIVIDUAL_BUSINESS_TYPE

    @property
    def region_scope(self) -> RegionScope:
        return _REGION_BY_PROVINCE.get(self.division_code[:2], RegionScope.MAINLAND)


def normalise_uscc(raw: str) -> str:
    """Tidy a code as people type it: full-width to ASCII, no whitespace, upper case.

    ``parse_uscc`` never does this itself, so that a caller who stores what it
    was sent knows the stored value is exactly the validated one.
    """
    folded = unicodedata.normalize("NFKC", raw)
    return "".join(folded.split()).upper()


def organisation_code_check_character(first8: str) -> str:
    """The GB 11714 check character for an organisation code's first 8 characters."""
    if len(first8) != 8:
        raise ValueError("an organisation code body has 8 characters")
    try:
        total = sum(map(operator.getitem, _ORGANISATION_CODE_WEIGHTED, first8))
    except KeyError:
        raise ValueError("an organisation code uses digits and upper-case letters") from None
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def uscc_check_character(first17: str) -> str:
    """The check character (position 18) for the first 17 characters of a code."""
    if len(first17) != USCC_LENGTH - 1:
        raise ValueError("a code body has 17 characters")
    try:
        total = sum(map(operator.getitem, _USCC_WEIGHTED, first17))
    except KeyError:
        raise ValueError("a code body uses only characters of the USCC alphabet") from None
    return USCC_ALPHABET[(_USCC_MODULUS - total % _USCC_MODULUS) % _USCC_MODULUS]


def make_uscc(authority: str, org_type: str, division: str, org_code8: str) -> str:
    """Assemble a code, computing both check characters (for generators and tests).

    Only the shape is checked (ValueError); parse the result to apply every rule.
    """
    if len(authority) != 1 or len(org_type) != 1 or len(division) != 6:
        raise ValueError("authority and type are one character each, the division six")
    organisation_code = org_code8 + organisation_code_check_character(org_code8)
    first17 = authority + org_type + division + organisation_code
    return first17 + uscc_check_character(first17)


def parse_uscc(raw: str) -> Uscc:
    """Validate a code exactly as given; see ``normalise_uscc`` to tidy input first.

    Raises InvalidIdentifier naming the first rule the code breaks.
    """
    check_uscc(raw)
    return Uscc(
        value=raw,
        registration_authority=raw[0],
        organisation_type=raw[1],
        division_code=raw[2:8],
        organisation_code=raw[8:17],
    )


def check_uscc(raw: str) -> None:
    """``parse_uscc`` for a caller that needs only the verdict, not the parts."""
    if not raw:
        raise InvalidIdentifier("USCC_REQUIRED", "a unified social credit code is required")
    if len(raw) != USCC_LENGTH:
        raise InvalidIdentifier(
            "USCC_LENGTH",
            f"a unified social credit code has exactly {USCC_LENGTH} characters, "
            f"this one has {len(raw)}",
        )
    _check_alphabet(raw)
    authority, org_type = raw[0], raw[1]
    division, organisation_code = raw[2:8], raw[8:17]
    allowed_types = ORGANISATION_TYPES.get(authority)
    if allowed_types is None:
        raise InvalidIdentifier(
            "USCC_REGISTRATION_AUTHORITY",
            "the first character (registration authority) must be one of "
            f"{', '.join(ORGANISATION_TYPES)}",
        )
    if org_type not in allowed_types:
        raise InvalidIdentifier(
            "USCC_ORGANISATION_TYPE",
            "the second character (organisation type) must be one of "
            f"{', '.join(sorted(allowed_types))} for this registration authority",
        )
    if division != NATIONAL_AUTHORITY_CODE and not is_known_division(division):
        raise InvalidIdentifier(
            "USCC_DIVISION_CODE",
            "characters 3 to 8 must be a GB/T 2260 administrative division code",
        )
    if organisation_code_check_character(organisation_code[:8]) != organisation_code[8]:
        raise InvalidIdentifier(
            "USCC_ORGANISATION_CODE_CHECK",
            "characters 9 to 17 are not a valid organisation code (its check character "
            "does not match); check the code for typing errors",
        )
    if uscc_check_character(raw[:17]) != raw[17]:
        raise InvalidIdentifier(
            "USCC_CHECK_CHARACTER",
            "the last character does not match the check character computed from the "
            "first 17; check the code for typing errors",
        )


_USCC_CHARACTERS = frozenset(USCC_ALPHABET)


def _check_alphabet(raw: str) -> None:
    if _USCC_CHARACTERS.issuperset(raw):
        return
    for position, char in enumerate(raw, start=1):
        if char in _USCC_VALUES:
            continue
        if char.upper() in _USCC_VALUES and char.isascii():
            raise InvalidIdentifier(
                "USCC_ALPHABET",
                f"character {position} is a lower-case letter; unified social credit codes "
                "use upper-case letters only",
            )
        raise InvalidIdentifier(
            "USCC_ALPHABET",
            f"character {position} is not allowed; unified social credit codes use only "
            "digits 0-9 and upper-case letters, never I, O, Z, S or V",
        )
