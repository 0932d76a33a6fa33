"""Reading the JSON documents ops load (policies, scorecards), field by field.

A document is read whole before anything is decided: every problem is noted with its
path ("conditions[2].days", "factors.conduct.window_days"), so an author fixes a document
in one pass, and keys nobody read are refused rather than silently ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from service.domain.errors import FieldViolation, InvalidArgument

_E = TypeVar("_E", bound=StrEnum)


def is_whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not 1


def is_finite_number(value: Any) -> bool:
    # Python's json reads NaN and Infinity: neither is a number any rule can compare with.
    return (is_whole_number(value) or isinstance(value, float)) and math.isfinite(value)


def refuse_if_invalid(violations: Sequence[FieldViolation], document_kind: str) -> None:
    if violations:
        raise InvalidArgument(
            violations, f"invalid {document_kind} document: {len(violations)} problems"
        )


class DocumentFields:
    """Reads one object of the document, noting the names read and every problem."""

    def __init__(self, raw: Mapping[str, Any], path: str, violations: list[FieldViolation]):
        self.raw = raw
        self.path = path
        self.violations = violations
        self.read: set[str] = set()

    def at(self, name: str) -> str:
        """The path of one of this object's fields."""
        return f"{self.path}.{name}" if self.path else name

    def add(self, name: str, description: str, reason: str) -> None:
        self.violations.append(FieldViolation(self.at(name), description, reason))

    def get(self, name: str, *, required: bool) -> Any:
        """The raw value; None when absent or null (JSON null sets nothing)."""
        self.read.add(name)
        value = self.raw.get(name)
        if value is None and required:
            self.add(name, "is required", "REQUIRED")
        return value

    def refuse_unread(self, description: str, reason: str) -> None:
        """Call once every known field was read: what is left is unknown."""
        for name in self.raw:
            if name not in self.read:
                self.add(str(name), description, reason)

    def section(
        self, name: str, *, required: bool = True, reason: str = "OBJECT_INVALID"
    ) -> DocumentFields | None:
        """A nested object, read by a reader of its own that reports into the same list."""
        value = self.get(name, required=required)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.add(name, "must be an object", reason)
            return None
        return DocumentFields(value, self.at(name), self.violations)

    def items(
        self, name: str, *, required: bool = True, min_items: int = 0
    ) -> list[tuple[str, Any]] | None:
        """A list: each item with its own path."""
        value = self.get(name, required=required)
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            self.add(name, "must be a list", "LIST_INVALID")
            return None
        if len(value) < min_items:
            self.add(name, f"at least {min_items} items", "LIST_TOO_SHORT")
        return [(f"{name}[{i}]", item) for i, item in enumerate(value)]

    def whole_number(
        self,
        name: str,
        low: int,
        high: int | None,
        *,
        required: bool,
        reason: str = "NUMBER_OUT_OF_RANGE",
    ) -> int | None:
        value = self.get(name, required=required)
        if value is None:
            return None
        return self.whole_number_value(name, value, low, high, reason=reason)

    def whole_number_value(
        self,
        name: str,
        value: Any,
        low: int,
        high: int | None,
        *,
        reason: str = "NUMBER_OUT_OF_RANGE",
    ) -> int | None:
        if is_whole_number(value) and low <= value and (high is None or value <= high):
            return int(value)
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        self.add(name, f"must be a whole number {bounds}", reason)
        return None

    def number(
        self,
        name: str,
        low: float,
        high: float,
        *,
        above_low: bool = False,
        required: bool = True,
        reason: str = "NUMBER_OUT_OF_RANGE",
    ) -> float | None:
        """A finite number in [low, high], or (low, high] when above_low."""
        value = self.get(name, required=required)
        if value is None:
            return None
        return self.number_value(name, value, low, high, above_low=above_low, reason=reason)

    def number_value(
        self,
        name: str,
        value: Any,
        low: float,
        high: float,
        *,
        above_low: bool = False,
        reason: str = "NUMBER_OUT_OF_RANGE",
    ) -> float | None:
        fits = (
            is_finite_number(value)
            and (value > low if above_low else value >= low)
            and value <= high
        )
        if fits:
            return float(value)
        lower = f"above {low:g}" if above_low else f"from {low:g}"
        upper = f"and at most {high:g}" if above_low else f"to {high:g}"
        self.add(name, f"must be a number {lower} {upper}", reason)
        return None

    def text(
        self, name: str, max_length: int, *, required: bool, reason: str = "TEXT_INVALID"
    ) -> str | None:
        value = self.get(name, required=required)
        if value is None:
            return None
        if isinstance(value, str) and len(value) <= max_length:
            return value
        self.add(name, f"a string of at most {max_length} characters", reason)
        return None

    def code(self, name: str, pattern: re.Pattern[str], rule: str, reason: str) -> str | None:
        value = self.get(name, required=True)
        if value is None:
            return None
        if isinstance(value, str) and pattern.fullmatch(value):
            return value
        self.add(name, rule, reason)
        return None

    def choice(
        self, name: str, options: type[_E], *, required: bool, reason: str = "VALUE_UNKNOWN"
    ) -> _E | None:
        value = self.get(name, required=required)
        if value is None:
            return None
        return self._option(value, options, name, reason)

    def choices(self, name: str, options: type[_E], *, required: bool) -> frozenset[_E] | None:
        items = self.items(name, required=required)
        if items is None:
            return None
        if not items:
            self.add(name, "must not be empty", "LIST_EMPTY")
            return None
        chosen = [self._option(item, options, path) for path, item in items]
        return frozenset(c for c in chosen if c is not None)

    def _option(
        self, value: Any, options: type[_E], name: str, reason: str = "VALUE_UNKNOWN"
    ) -> _E | None:
        if isinstance(value, str):
            for option in options:
                if option.value == value:
                    return option
        self.add(name, "must be one of " + ", ".join(o.value for o in options), reason)
        return None
