"""Citizen identity numbers (公民身份号码), GB 11643-1999.

Layout of the 18 characters:

    pos 1-6    GB/T 2260 address code where the number was first issued
    pos 7-14   birth date, YYYYMMDD
    pos 15-17  sequence number (odd for men, even for women)
    pos 18     ISO 7064 MOD 11-2 check digit, X standing for 10

Residence permits for residents of Hong Kong, Macao and Taiwan use the same
layout with address codes 810000, 820000 and 830000.

python-stdnum's ``cn.ric`` is not used: it rejects numbers whose address code
was not in use in the birth year, and does not know 830000. An address code
is kept for life, so a number from a county merged away after the birth (or
created after it, when the number was issued after a move) is valid.
"""

from __future__ import annotations

import datetime
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from service.domain.errors import InvalidIdentifier
from service.domain.identifiers.divisions import is_known_division

RESIDENT_ID_LENGTH = 18
EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)

# 2^(17-i) mod 11 for positions i = 0..16.
_WEIGHTS = tuple(pow(2, 17 - position, 11) for position in range(17))
_DIGIT_VALUES: Mapping[str, int] = {str(digit): digit for digit in range(10)}
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


class IdDocumentKind(StrEnum):
    RESIDENT_ID = "RESIDENT_ID"
    HONG_KONG_RESIDENCE_PERMIT = "HONG_KONG_RESIDENCE_PERMIT"
    MACAO_RESIDENCE_PERMIT = "MACAO_RESIDENCE_PERMIT"
    TAIWAN_RESIDENCE_PERMIT = "TAIWAN_RESIDENCE_PERMIT"


_PERMIT_KINDS: Mapping[str, IdDocumentKind] = {
    "810000": IdDocumentKind.HONG_KONG_RESIDENCE_PERMIT,
    "820000": IdDocumentKind.MACAO_RESIDENCE_PERMIT,
    "830000": IdDocumentKind.TAIWAN_RESIDENCE_PERMIT,
}


@dataclass(frozen=True)
class ResidentId:
    """A valid identity number. The number and birth date stay out of repr (personal data)."""

    value: str = field(repr=False)
    kind: IdDocumentKind
    division_code: str
    birth_date: datetime.date = field(repr=False)


def resident_id_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check digit for the first 17 digits of a number."""
    if len(first17) != RESIDENT_ID_LENGTH - 1:
        raise ValueError("an identity number body has 17 digits")
    try:
        digits = [_DIGIT_VALUES[char] for char in first17]
    except KeyError:
        raise ValueError("an identity number body is ASCII digits only") from None
    check = (12 - sum(map(operator.mul, digits, _WEIGHTS)) % 11) % 11
    return "X" if check == 10 else str(check)


def make_resident_id(division: str, birth_date: datetime.date, sequence: int) -> str:
    """Assemble a number, computing its check digit (for generators and tests)."""
    if not 0 <= sequence <= 999:
        raise ValueError("the sequence number has three digits")
    # Formatting the date's fields is several times faster than strftime.
    born = f"{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}"
    first17 = f"{division}{born}{sequence:03d}"
    return first17 + resident_id_check_digit(first17)


def parse_resident_id(raw: str, today: datetime.date) -> ResidentId:
    """Validate a number exactly as given (no trimming, no case folding).

    ``today`` bounds the birth date; pass the caller's clock so tests stay stable.
    Raises InvalidIdentifier naming the first rule the number breaks.
    """
    if not raw:
        raise InvalidIdentifier("ID_NUMBER_REQUIRED", "an identity number is required")
    if len(raw) != RESIDENT_ID_LENGTH:
        raise InvalidIdentifier(
            "ID_NUMBER_LENGTH",
            f"an identity number has exactly {RESIDENT_ID_LENGTH} characters, "
            f"this one has {len(raw)}",
        )
    if not _SHAPE.fullmatch(raw):
        if raw.endswith("x") and _SHAPE.fullmatch(raw[:-1] + "X"):
            description = "the last character must be an upper-case X, not a lower-case x"
        else:
            description = "an identity number is 17 digits followed by a digit or an upper-case X"
        raise InvalidIdentifier("ID_NUMBER_FORMAT", description)
    division = raw[:6]
    if division not in _PERMIT_KINDS and not is_known_division(division):
        raise InvalidIdentifier(
            "ID_NUMBER_DIVISION_CODE",
            "the first 6 digits are not a GB/T 2260 administrative division code",
        )
    birth_date = _birth_date(raw[6:14])
    if birth_date > today:
        raise InvalidIdentifier(
            "ID_NUMBER_BIRTH_DATE_FUTURE", "digits 7 to 14 give a birth date in the future"
        )
    if resident_id_check_digit(raw[:17]) != raw[17]:
        raise InvalidIdentifier(
            "ID_NUMBER_CHECK_DIGIT",
            "the last character does not match the check digit computed from the first 17; "
            "check the number for typing errors",
        )
    return ResidentId(
        value=raw,
        kind=_PERMIT_KINDS.get(division, IdDocumentKind.RESIDENT_ID),
        division_code=division,
        birth_date=birth_date,
    )


def _birth_date(digits: str) -> datetime.date:
    try:
        birth_date = datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        birth_date = None
    if birth_date is None or birth_date < EARLIEST_BIRTH_DATE:
        raise InvalidIdentifier(
            "ID_NUMBER_BIRTH_DATE",
            "digits 7 to 14 must be a real birth date (YYYYMMDD) no earlier than 1900-01-01",
        )
    return birth_date
