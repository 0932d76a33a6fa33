"""The document reader policies and scorecards share."""

from __future__ import annotations

import math
from typing import Any

import pytest

from service.domain.documents import DocumentFields, refuse_if_invalid
from service.domain.errors import FieldViolation, InvalidArgument
from service.domain.policy_documents import parse_policy
from tests.unit.domain.test_policies import CLASSES, document, problems


def read(raw: dict[str, Any], path: str = "top") -> tuple[DocumentFields, list[FieldViolation]]:
    violations: list[FieldViolation] = []
    return DocumentFields(raw, path, violations), violations


def test_null_is_missing_so_a_required_null_is_refused() -> None:
    fields, violations = read({"days": None, "limit": None})
    assert fields.whole_number("days", 1, 10, required=True) is None
    assert fields.whole_number("limit", 1, 10, required=False) is None
    assert [(v.field, v.reason) for v in violations] == [("top.days", "REQUIRED")]


def test_a_required_null_in_a_policy_is_refused_not_dropped() -> None:
    # It used to leave the condition out of the policy without a word.
    assert problems(document({"kind": "min_class", "class": None})) == {
        ("conditions[0].class", "REQUIRED")
    }
    assert problems(document({"kind": "business_status"}, platform=None)) == {
        ("platform", "REQUIRED")
    }
    accepted = parse_policy(document({"kind": "identity_verified", "within_days": None}), CLASSES)
    assert accepted.conditions[0].params.within_days is None  # optional: null is absent


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "1", [1]])
def test_numbers_are_finite_numbers(value: Any) -> None:
    fields, violations = read({"share": value})
    assert fields.number("share", 0, 1) is None
    assert [(v.field, v.reason) for v in violations] == [("top.share", "NUMBER_OUT_OF_RANGE")]


def test_sections_and_items_carry_their_paths() -> None:
    fields, violations = read({"inner": {"bands": [1, "x"], "odd": 1}}, path="")
    inner = fields.section("inner")
    assert inner is not None and inner.path == "inner"
    items = inner.items("bands")
    assert items == [("bands[0]", 1), ("bands[1]", "x")]
    inner.number_value(items[1][0], items[1][1], 0, 10)
    inner.refuse_unread("unknown", "FIELD_UNKNOWN")
    assert [v.field for v in violations] == ["inner.bands[1]", "inner.odd"]
    with pytest.raises(InvalidArgument) as caught:
        refuse_if_invalid(violations, "test")
    assert caught.value.message == "invalid test document: 2 problems"
