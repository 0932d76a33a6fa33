"""Screening free text for resident ID numbers and mainland phone numbers.

Platforms fill free-text fields (conduct descriptions, rules, store categories,
certifiers, consent references) that end up in archives other people read. A
buyer's phone number or a person's ID number pasted into one of them would be
sensitive personal information published by accident, so such text is refused.

The text is normalised with NFKC first (full-width digits, spaces and hyphens
become ASCII), then cut into groups of ASCII digits. Groups joined by spaces,
hyphens, brackets or a plus sign form one run, since people write
"138 1234 5678" and "330106 19800517 0012"; every window of consecutive groups
in a run is judged as a whole. Anything else (letters, CJK characters, dots,
commas, colons, slashes) ends a run, so amounts ("13,800.00"), times and dates
never merge with their neighbours.

A window is an ID number only if it has the standard's own structure: 18
characters with a province code, a real birth date and a matching MOD 11-2 check
digit, or the old 15-digit form with a known division code and a real birth
date. That keeps order numbers (usually starting with a year: "2026..." has no
province 20) and USCCs (a valid USCC is never taken for an ID) out. Phones are
mobiles, 1[3-9] and nine digits (optionally behind 86 or 0086), and landlines
with an area code: 010 or 02x and eight digits, or 0xxx and seven or eight,
subscriber numbers never starting with 0 or 1.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from enum import StrEnum

from service.domain.errors import FieldViolation, InvalidIdentifier
from service.domain.identifiers.divisions import is_known_division
from service.domain.identifiers.resident_id import resident_id_check_digit
from service.domain.identifiers.uscc import parse_uscc

REASON = "PERSONAL_DATA_IN_FREE_TEXT"

# GB/T 2260 province codes, and 81-83 for Hong Kong, Macao and Taiwan residence permits.
_PROVINCE_RANGES = ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65), (71, 71), (81, 83))
_PROVINCES = frozenset(str(code) for low, high in _PROVINCE_RANGES for code in range(low, high + 1))
_TOKENS = re.compile(
    r"(?P<digits>[0-9]+[Xx]?)|(?P<joiner>[ \-()+]+)|(?P<other>[^0-9 \-()+]+)", re.ASCII
)
_MOBILE = re.compile(r"(?:0086|86)?1[3-9]\d{9}", re.ASCII)
_LANDLINE = re.compile(r"(?:0(?:10|2\d)[2-8]\d{7})|(?:0[3-9]\d{2}[2-8]\d{6,7})", re.ASCII)
# The longest window worth judging: 0086 and a mobile number.
_LONGEST = 18
# The fewest digits any of them has: a mobile number, a landline with its area code.
_FEWEST_DIGITS = 11
_ANY_DIGIT = re.compile(r"\d")
# The ids the service hands out and logs (callers, verifications, request ids). Their hex
# groups, joined by hyphens, can read as a landline ("...a2-0435-4303-9016-..."): a UUID is
# never a phone or ID number, so it is taken out before the digits are read.
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII
)


class PersonalDataKind(StrEnum):
    ID_NUMBER = "an identity number"
    PHONE_NUMBER = "a phone number"


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return year >= 1900


def _is_id_number(candidate: str) -> bool:
    if len(candidate) == 18:
        body, check = candidate[:17], candidate[17].upper()
        if not body.isdigit() or body[:2] not in _PROVINCES:
            return False
        if not _real_date(int(body[6:10]), int(body[10:12]), int(body[12:14])):
            return False
        if resident_id_check_digit(body) != check:
            return False
        try:
            parse_uscc(candidate.upper())
        except InvalidIdentifier:
            return True
        return False  # a valid USCC that happens to look like an ID number
    if len(candidate) == 15 and candidate.isdigit():
        return is_known_division(candidate[:6]) and _real_date(
            1900 + int(candidate[6:8]), int(candidate[8:10]), int(candidate[10:12])
        )
    return False


def _judge(candidate: str) -> PersonalDataKind | None:
    if _is_id_number(candidate):
        return PersonalDataKind.ID_NUMBER
    if candidate.isdigit() and (_MOBILE.fullmatch(candidate) or _LANDLINE.fullmatch(candidate)):
        return PersonalDataKind.PHONE_NUMBER
    return None


def _runs(text: str) -> list[list[str]]:
    """Digit groups, split into runs of groups that only joiners separate."""
    runs: list[list[str]] = []
    current: list[str] = []
    joined = True  # whether the next group may continue the current run
    for token in _TOKENS.finditer(text):
        if token.lastgroup == "digits":
            if not joined and current:
                runs.append(current)
                current = []
            current.append(token.group())
            # An X ends an ID number: nothing after it belongs to the same number.
            joined = not token.group()[-1].isalpha()
        elif token.lastgroup == "joiner":
            joined = True
        else:
            if current:
                runs.append(current)
            current, joined = [], True
    if current:
        runs.append(current)
    return runs


def find_personal_data(text: str) -> PersonalDataKind | None:
    """What kind of personal data the text carries, or None."""
    # Most free text has too few digits (of any script, full-width included) to hold either
    # kind of number: those skip the normalisation, which costs more than the rest.
    if len(_ANY_DIGIT.findall(text)) < _FEWEST_DIGITS:
        return None
    normalised = _UUID.sub("/", unicodedata.normalize("NFKC", text))
    for run in _runs(normalised):
        for start in range(len(run)):
            window = ""
            for group in run[start:]:
                if window and window[-1].isalpha():
                    break
                window += group
                if len(window) > _LONGEST:
                    break
                kind = _judge(window)
                if kind is not None:
                    return kind
    return None


def screen_free_text(field: str, text: str) -> FieldViolation | None:
    """A violation naming the field when the text carries personal data; never the value."""
    kind = find_personal_data(text)
    if kind is None:
        return None
    return FieldViolation(
        field,
        f"looks like it contains {kind.value}: free text must not carry personal "
        "information; remove it and refer to people by the platform's own ids",
        REASON,
    )
