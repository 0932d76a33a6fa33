"""The first look at every request, before any use case touches it.

Whatever a caller sends, every value in the message is within bounds the service can hold
and show: text of a bounded length with no control characters, numbers that are finite and
not negative, timestamps and dates a calendar has, enum values the contract defines, and
repeated fields of a bounded size. A problem is a field violation naming the field, in the
same form as the use cases' own; its description never repeats the value, which may be
long, invisible or somebody's personal data.

These are outer bounds: the use cases check what each field means (a USCC's check
character, a name's characters, a page size's maximum) with their own, tighter rules, and
no storage column's limit is ever the first line of defence.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterator
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from service.domain.errors import FieldViolation

# Identifiers, names of resources and of purposes, scenarios, policies and platforms.
_IDENTIFIER_FIELDS = frozenset(
    {"parent", "name", "uscc", "request_id", "event_id", "record_id", "store_id", "platform",
     "purpose", "scenario", "policy", "field"}
)  # fmt: skip
_IDENTIFIER_LENGTH = 128
_PAGE_TOKEN_LENGTH = 512
# Prose a person may break into lines.
_PROSE_FIELDS = frozenset({"description", "message", "business_scope"})
_PROSE_LENGTH = 2000
_TEXT_LENGTH = 500
_REPEATED_LIMIT = 1000
_MAX_INTEGER = 2**53 - 1  # exact in every client's JSON numbers, and within BIGINT
_MAX_NUMBER = 1e15
# Timestamps within years 0001-9999 (RFC 3339, google.protobuf.Timestamp's own range).
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799
# Reported at most; the rest would only make the answer too large for grpc's trailers.
_MAX_VIOLATIONS = 20
# Bidirectional overrides and isolates reorder what a reader sees ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# Subtrees whose use case checks each item on its own and answers per item (a platform's
# records are accepted or rejected one by one), so one bad item must not refuse the rest.
_CHECKED_PER_ITEM = frozenset({"integrity.v1.IngestPlatformRecordsRequest.records"})

_INTEGER_TYPES = frozenset(
    {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT32,
     FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_SFIXED64,
     FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED32,
     FieldDescriptor.TYPE_FIXED64}
)  # fmt: skip
_FLOAT_TYPES = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})


def screen_request(message: Message) -> list[FieldViolation]:
    """Every value out of bounds in the message, named by its field path."""
    problems: list[FieldViolation] = []
    for problem in _screen(message, ""):
        problems.append(problem)
        if len(problems) == _MAX_VIOLATIONS:
            break
    return problems


def _screen(message: Message, prefix: str) -> Iterator[FieldViolation]:
    for field, value in message.ListFields():
        if field.full_name in _CHECKED_PER_ITEM:
            continue
        path = f"{prefix}{field.name}"
        if field.is_repeated:
            if len(value) > _REPEATED_LIMIT:
                yield FieldViolation(path, f"at most {_REPEATED_LIMIT} values", "TOO_MANY_VALUES")
                continue
            for index, item in enumerate(value):
                yield from _screen_value(field, item, f"{path}[{index}]")
        else:
            yield from _screen_value(field, value, path)


def _screen_value(field: FieldDescriptor, value: object, path: str) -> Iterator[FieldViolation]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        assert isinstance(value, Message)
        yield from _screen_message(value.DESCRIPTOR, value, path)
    elif kind == FieldDescriptor.TYPE_STRING:
        assert isinstance(value, str)
        problem = _text_problem(field.name, value)
        if problem is not None:
            yield FieldViolation(path, *problem)
    elif kind == FieldDescriptor.TYPE_BYTES:
        assert isinstance(value, bytes)
        if len(value) > _TEXT_LENGTH:
            yield FieldViolation(path, f"at most {_TEXT_LENGTH} bytes", "VALUE_TOO_LONG")
    elif kind == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        if enum is not None and value not in enum.values_by_number:
            yield FieldViolation(path, f"not a value of {enum.name}", "ENUM_VALUE_UNKNOWN")
    elif kind in _INTEGER_TYPES:
        assert isinstance(value, int)
        if not 0 <= value <= _MAX_INTEGER:
            yield FieldViolation(path, f"must be from 0 to {_MAX_INTEGER}", "NUMBER_OUT_OF_RANGE")
    elif kind in _FLOAT_TYPES:
        assert isinstance(value, float)
        if not (math.isfinite(value) and 0 <= value <= _MAX_NUMBER):
            yield FieldViolation(
                path, "must be a finite number, not negative", "NUMBER_OUT_OF_RANGE"
            )


def _screen_message(descriptor: Any, value: Message, path: str) -> Iterator[FieldViolation]:
    if descriptor.full_name == "google.protobuf.Timestamp":
        seconds, nanos = getattr(value, "seconds"), getattr(value, "nanos")  # noqa: B009
        if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
            yield FieldViolation(
                path, "must be within the years 0001 to 9999", "TIMESTAMP_OUT_OF_RANGE"
            )
        if not 0 <= nanos <= 999_999_999:
            yield FieldViolation(
                path, "nanos must be from 0 to 999999999", "TIMESTAMP_OUT_OF_RANGE"
            )
    elif descriptor.full_name == "google.type.Date":
        year, month, day = (getattr(value, part) for part in ("year", "month", "day"))
        if not (0 <= year <= 9999 and 0 <= month <= 12 and 0 <= day <= 31):
            yield FieldViolation(path, "not a calendar date", "DATE_INVALID")
    else:
        yield from _screen(value, f"{path}.")


def _text_problem(name: str, value: str) -> tuple[str, str] | None:
    """(description, reason) for a text value out of bounds, or None."""
    if name == "page_token":
        limit = _PAGE_TOKEN_LENGTH
    elif name in _IDENTIFIER_FIELDS:
        limit = _IDENTIFIER_LENGTH
    elif name in _PROSE_FIELDS:
        limit = _PROSE_LENGTH
    else:
        limit = _TEXT_LENGTH
    if len(value) > limit:
        return f"at most {limit} characters", "TEXT_TOO_LONG"
    if value.isascii() and value.isprintable():
        return None  # the common case, answered without looking at each character
    line_breaks = name in _PROSE_FIELDS
    for position, char in enumerate(value, start=1):
        if char == "\n" and line_breaks:
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") or char in _BIDI_CONTROLS or _is_noncharacter(char):
            return (
                f"character {position} (U+{ord(char):04X}) is a control character",
                "TEXT_CONTROL_CHARACTER",
            )
    return None


def _is_noncharacter(char: str) -> bool:
    point = ord(char)
    return 0xFDD0 <= point <= 0xFDEF or (point & 0xFFFE) == 0xFFFE
