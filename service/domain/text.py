"""Validation of free-text fields that platforms submit.

Each kind of field accepts letters, combining marks and decimal digits of any
script (rare characters in Chinese names, such as 𠮷, live outside the Basic
Multilingual Plane), plus the punctuation real values of that kind use.
Everything else is refused rather than escaped: quotes, semicolons, angle
brackets and symbols never occur in registered names or addresses, so a value
that contains them is a mistake or an attack, and storing it would make every
later consumer responsible for escaping it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from service.domain.errors import InvalidIdentifier

# Controls, format characters (zero-width joiners, bidi overrides), surrogates,
# private use and unassigned code points: invisible or meaningless in a name,
# and the usual tools for spoofing one.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd"})

_SPACES = " \u3000"  # ASCII and ideographic space
_MIDDLE_DOTS = "\u00b7\u30fb\u2022\u2027"  # as produced by different input methods
_IDEOGRAPHIC_ZERO = "〇"  # category Nl, yet an ordinary character in names and house numbers


class TextKind(StrEnum):
    ENTERPRISE_NAME = "ENTERPRISE_NAME"
    PERSON_NAME = "PERSON_NAME"
    ADDRESS = "ADDRESS"
    REFERENCE = "REFERENCE"


@dataclass(frozen=True)
class _TextRule:
    label: str
    max_length: int
    punctuation: str
    """Characters allowed besides letters, marks and digits of any script."""
    words_allowed: bool = True
    """Whether letters, marks and digits of any script are allowed at all."""


_REFERENCE_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/"

_RULES: Mapping[TextKind, _TextRule] = {
    TextKind.ENTERPRISE_NAME: _TextRule(
        label="an enterprise name",
        max_length=150,
        punctuation=_SPACES + _IDEOGRAPHIC_ZERO + "()（）·.-&＆,、",
    ),
    TextKind.PERSON_NAME: _TextRule(
        label="a person's name",
        max_length=60,
        punctuation=_SPACES + _IDEOGRAPHIC_ZERO + _MIDDLE_DOTS + "-.",
    ),
    TextKind.ADDRESS: _TextRule(
        label="an address",
        max_length=300,
        # House numbers and ranges: "12-3室", "1#楼", "3/F", "1～3号", "（近文三路）".
        punctuation=_SPACES + _IDEOGRAPHIC_ZERO + "()（）·.-－,，、#＃/／:：~～",
    ),
    TextKind.REFERENCE: _TextRule(
        label="a reference",
        max_length=200,
        punctuation=_REFERENCE_CHARACTERS,
        words_allowed=False,
    ),
}


def max_length(kind: TextKind) -> int:
    """The most code points a value of this kind may have."""
    return _RULES[kind].max_length


def check_text(value: str, kind: TextKind) -> None:
    """Raise InvalidIdentifier naming the first problem with ``value``, if any.

    Descriptions name an offending character by code point and position, never
    the value itself (it may be a person's name).
    """
    rule = _RULES[kind]
    if not value.strip():
        raise InvalidIdentifier("TEXT_REQUIRED", f"{rule.label} is required")
    if len(value) > rule.max_length:
        raise InvalidIdentifier(
            "TEXT_TOO_LONG",
            f"{rule.label} has at most {rule.max_length} characters, this one has {len(value)}",
        )
    for position, char in enumerate(value, start=1):
        category = unicodedata.category(char)
        if category in _CONTROL_CATEGORIES:
            raise InvalidIdentifier(
                "TEXT_CONTROL_CHARACTER",
                f"character {position} ({_code_point(char)}) is an invisible control, format, "
                f"surrogate, private-use or unassigned character, not allowed in {rule.label}",
            )
        if char in rule.punctuation or (rule.words_allowed and category in _WORD_CATEGORIES):
            continue
        raise InvalidIdentifier(
            "TEXT_CHARACTER_NOT_ALLOWED",
            f"character {position} ({_code_point(char)}) is not allowed in {rule.label}; "
            f"{_allowed_summary(rule)}",
        )


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def _allowed_summary(rule: _TextRule) -> str:
    listed = " ".join(
        _code_point(char) if char.isspace() else char
        for char in rule.punctuation
        if not (char.isascii() and char.isalnum())
    )
    if rule.words_allowed:
        return f"use letters, digits and these characters: {listed}"
    return f"use ASCII letters, digits and these characters: {listed}"
