"""Reading a scorecard document: every problem refused with its path, and a card that is
accepted never makes scoring fail.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from service.domain.errors import InvalidArgument
from service.domain.platform_records import ConductKind, Severity
from service.domain.scorecard_document import (
    INSUFFICIENT_DATA,
    MAX_SCORE,
    ConductFactor,
    Scorecard,
    parse_scorecard,
)
from tests.unit.domain.test_scorecard import DOCUMENT
from tests.unit.domain.test_scorecard_samples import SAMPLES, level_of

Path = tuple[str | int, ...]


def refused(document: Any) -> dict[str, str]:
    """Field path -> reason of every problem the reader reports."""
    with pytest.raises(InvalidArgument) as caught:
        parse_scorecard(document)
    return {v.field: v.reason for v in caught.value.violations}


def mutated(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    change(document)
    return document


def _leaves(node: Any, path: Path = ()) -> list[Path]:
    """Every key of every object in the document, down to the factors' settings."""
    if not isinstance(node, dict):
        return []
    found: list[Path] = []
    for key, value in node.items():
        found.append((*path, key))
        found.extend(_leaves(value, (*path, key)))
    return found


def _dotted(path: Path) -> str:
    return ".".join(str(p) for p in path)


# -- the packaged card --------------------------------------------------------------------


def test_the_packaged_card_is_read_into_typed_factors() -> None:
    card = parse_scorecard(DOCUMENT)
    assert card.version == "2026.1" and card.class_names == ("AAA", "AA", "A", "B", "C")
    assert card.max_score == MAX_SCORE
    conduct = card.factors.conduct
    assert isinstance(conduct, ConductFactor) and conduct.window_days == 730
    assert conduct.kind_weights[ConductKind.PUNISHMENT] == 2.0
    assert conduct.severity_weights[Severity.SEVERE] == 20.0
    assert [b.threshold for b in card.factors.platform_history.transactions] == [
        0,
        100,
        1000,
        10000,
    ]
    assert card.document == DOCUMENT


# -- every key every factor needs ---------------------------------------------------------

FACTOR_SETTINGS = [p for p in _leaves(DOCUMENT) if p[0] == "factors" and len(p) >= 3]


@pytest.mark.parametrize("path", FACTOR_SETTINGS, ids=_dotted)
def test_a_card_missing_one_factor_key_is_refused_naming_that_key(path: Path) -> None:
    def drop(document: dict[str, Any]) -> None:
        parent: Any = document
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]

    assert refused(mutated(drop)) == {_dotted(path): "REQUIRED"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(owner="ops"), "owner"),
        (lambda d: d["factors"]["conduct"].update(window=30), "factors.conduct.window"),
        (
            lambda d: d["factors"]["business_status"].update(bands=[]),
            "factors.business_status.bands",
        ),
        (lambda d: d["classes"][1].update(colour="green"), "classes[1].colour"),
        (lambda d: d["caps"][0].update(until="2027-01-01"), "caps[0].until"),
        (
            lambda d: d["factors"]["judicial_entries"]["penalties"].update(parking_ticket=5),
            "factors.judicial_entries.penalties.parking_ticket",
        ),
        (
            lambda d: d["factors"]["conduct"]["severity_weights"].update(critical=50),
            "factors.conduct.severity_weights.critical",
        ),
        (lambda d: d["factors"].update(luck={"max_points": 5}), "factors.luck"),
    ],
)
def test_unknown_keys_are_refused(change: Callable[[dict[str, Any]], object], field: str) -> None:
    assert set(refused(mutated(change))) == {field}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda d: d.update(version=2026.1), "version", "VERSION_INVALID"),
        (lambda d: d.update(description=["new"]), "description", "DESCRIPTION_INVALID"),
        (
            lambda d: d["factors"]["business_status"].update(max_points="150"),
            "factors.business_status.max_points",
            "POINTS_INVALID",
        ),
        (
            lambda d: d["factors"]["business_status"].update(max_points=150.0),
            "factors.business_status.max_points",
            "POINTS_INVALID",
        ),
        (
            lambda d: d["factors"]["onsite_certification"].update(max_points=True),
            "factors.onsite_certification.max_points",
            "POINTS_INVALID",
        ),
        (
            lambda d: d["factors"]["identity_verification"].update(stale_points=151),
            "factors.identity_verification.stale_points",
            "NUMBER_OUT_OF_RANGE",
        ),
        (
            lambda d: d["factors"]["conduct"].update(window_days=0),
            "factors.conduct.window_days",
            "NUMBER_OUT_OF_RANGE",
        ),
        (
            lambda d: d["factors"]["conduct"].update(tolerated_per_thousand=0),
            "factors.conduct.tolerated_per_thousand",
            "NUMBER_OUT_OF_RANGE",
        ),
        (
            lambda d: d["factors"]["conduct"].update(no_history_share=math.nan),
            "factors.conduct.no_history_share",
            "NUMBER_OUT_OF_RANGE",
        ),
        (
            lambda d: d["factors"]["judicial_entries"].update(recency_half_life_days=0),
            "factors.judicial_entries.recency_half_life_days",
            "NUMBER_OUT_OF_RANGE",
        ),
        (
            lambda d: d["factors"]["judicial_entries"]["penalties"].update(
                dishonest_debtor=math.inf
            ),
            "factors.judicial_entries.penalties.dishonest_debtor",
            "NUMBER_OUT_OF_RANGE",
        ),
        (
            lambda d: d["factors"]["conduct"].update(kind_weights=[0.5, 1, 2]),
            "factors.conduct.kind_weights",
            "OBJECT_INVALID",
        ),
        (lambda d: d["factors"].update(conduct=None), "factors.conduct", "REQUIRED"),
        (lambda d: d["factors"].update(conduct=[]), "factors.conduct", "FACTOR_INVALID"),
        (lambda d: d.update(version=None), "version", "REQUIRED"),
        (
            lambda d: d["factors"]["platform_history"]["buyers"].__setitem__(2, [500, 151]),
            "factors.platform_history.buyers[2][1]",
            "NUMBER_OUT_OF_RANGE",
        ),
        (
            lambda d: d["factors"]["platform_history"]["repeat_purchase_rate"].append([1.5, 40]),
            "factors.platform_history.repeat_purchase_rate[4][0]",
            "NUMBER_OUT_OF_RANGE",
        ),
        (
            lambda d: d["factors"]["registered_capital"]["bands"].__setitem__(1, [100000]),
            "factors.registered_capital.bands[1]",
            "BAND_INVALID",
        ),
        (
            lambda d: d["factors"]["establishment_years"].update(bands=[]),
            "factors.establishment_years.bands",
            "LIST_TOO_SHORT",
        ),
        (lambda d: d["classes"][4].update(min_score=10), "classes[4].min_score", "CLASSES_ORDER"),
        (lambda d: d["classes"][2].update(name="AAA"), "classes[2].name", "CLASSES_DUPLICATE"),
        (
            lambda d: d["classes"][4].update(name=INSUFFICIENT_DATA),
            "classes[4].name",
            "CLASS_NAME_RESERVED",
        ),
        (lambda d: d["classes"][0].update(name=""), "classes[0].name", "CLASS_NAME_INVALID"),
        (
            lambda d: d["classes"][0].update(min_score=1002),
            "classes[0].min_score",
            "NUMBER_OUT_OF_RANGE",
        ),
        (lambda d: d["caps"][1].update(max_class="D"), "caps[1].max_class", "CAP_CLASS_UNKNOWN"),
        (lambda d: d["caps"][1].update(when="moon_phase"), "caps[1].when", "CAP_CONDITION_UNKNOWN"),
        (lambda d: d["caps"][3].update(when="licence_expired"), "caps[3].when", "CAP_DUPLICATE"),
        (
            lambda d: d["caps"][0].update(reason="not in business"),
            "caps[0].reason",
            "CAP_REASON_INVALID",
        ),
        (lambda d: d["caps"].__setitem__(0, "NOT_IN_BUSINESS"), "caps[0]", "CAP_INVALID"),
        (lambda d: d.pop("caps"), "caps", "REQUIRED"),
        (
            lambda d: d["factors"]["onsite_certification"].update(max_points=51),
            "factors",
            "SCORE_TOO_HIGH",
        ),
    ],
)
def test_values_are_typed_and_in_range(
    change: Callable[[dict[str, Any]], object], field: str, reason: str
) -> None:
    assert refused(mutated(change)) == {field: reason}


def test_bands_out_of_order_are_refused_band_by_band() -> None:
    def reverse(document: dict[str, Any]) -> None:
        document["factors"]["platform_history"]["transactions"].reverse()

    assert refused(mutated(reverse)) == {
        f"factors.platform_history.transactions[{i}][0]": "BANDS_ORDER" for i in (1, 2, 3)
    }


def test_a_single_class_is_too_few_and_must_start_at_0() -> None:
    def keep_the_best(document: dict[str, Any]) -> None:
        document["classes"] = document["classes"][:1]
        document["caps"] = []  # they name classes no longer there

    assert refused(mutated(keep_the_best)) == {
        "classes": "LIST_TOO_SHORT",
        "classes[0].min_score": "CLASSES_ORDER",
    }


def test_several_problems_are_reported_together() -> None:
    def break_three_places(document: dict[str, Any]) -> None:
        del document["factors"]["identity_verification"]["fresh_days"]
        document["factors"]["platform_history"]["membership_years"][2] = [0.5, 25]
        document["caps"][0]["max_class"] = "Z"
        document["extra"] = True

    assert refused(mutated(break_three_places)) == {
        "factors.identity_verification.fresh_days": "REQUIRED",
        "factors.platform_history.membership_years[2][0]": "BANDS_ORDER",
        "caps[0].max_class": "CAP_CLASS_UNKNOWN",
        "extra": "FIELD_UNKNOWN",
    }


def test_a_document_that_is_not_an_object_is_refused() -> None:
    assert refused([DOCUMENT]) == {"": "DOCUMENT_INVALID"}


def test_closed_classes_and_an_empty_list_of_caps_are_accepted() -> None:
    def close_the_top_classes(document: dict[str, Any]) -> None:
        for entry in document["classes"][:-1]:
            entry["min_score"] = 1001
        document["caps"] = []

    card = parse_scorecard(mutated(close_the_top_classes))
    assert {level_of(card, sample).level_class for sample in SAMPLES.values()} == {
        "C",
        INSUFFICIENT_DATA,
    }


# -- the guarantee: accepted means scoring cannot fail ------------------------------------

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, 50, 365, 1000, 1001, 0.001, 0.5, 1.0, -1, 1e16]),
    st.text(max_size=4),
    st.sampled_from(["AAA", "C", "not_in_business", "dishonest_debtor", "minor", "DISHONEST"]),
    st.lists(st.integers(min_value=-5, max_value=2000), max_size=3),
    st.builds(dict),  # a fresh one each time: mutations may add keys to it
)
KEYS = st.one_of(
    st.sampled_from(["extra", "max_points", "bands", "dispute", "severe", "name", "when"]),
    st.text(max_size=3),
)
SCALES = st.sampled_from([-1, 0, 0.5, 0.999, 1.001, 2, 10, 1000, 1e20])


def _places(node: Any, path: Path = ()) -> list[Path]:
    """Every value in the document, objects and lists included, by its path."""
    found: list[Path] = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_places(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_places(value, (*path, index)))
    return found


def _at(document: Any, path: Path) -> Any:
    for key in path:
        document = document[key]
    return document


def _mutate(document: dict[str, Any], data: st.DataObject) -> str:
    """One mutation of the document in place; returns what kind it was."""
    places = _places(document)
    path = data.draw(st.sampled_from(places))
    value = _at(document, path)
    parent = _at(document, path[:-1]) if path else None
    kinds = ["replace"] if path else []
    if path:
        kinds.append("drop")
    if isinstance(value, dict):
        kinds.append("add_key")
    if isinstance(value, list) and value:
        kinds += ["shuffle", "duplicate", "truncate"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        kinds += ["scale", "scale", "nudge"]
    if not kinds:
        return "none"
    kind = data.draw(st.sampled_from(kinds))
    if kind == "replace":
        parent[path[-1]] = data.draw(ODD_VALUES)
    elif kind == "drop":
        del parent[path[-1]]
    elif kind == "add_key":
        value[data.draw(KEYS)] = data.draw(ODD_VALUES)
    elif kind == "shuffle":
        data.draw(st.randoms(use_true_random=False)).shuffle(value)
    elif kind == "duplicate":
        value.append(copy.deepcopy(data.draw(st.sampled_from(value))))
    elif kind == "truncate":
        del value[data.draw(st.integers(min_value=0, max_value=len(value) - 1)) :]
    elif kind == "scale":
        parent[path[-1]] = value * data.draw(SCALES)
    else:
        parent[path[-1]] = value + data.draw(st.sampled_from([-1, 1]))
    return kind


def _scores_everything(card: Scorecard) -> None:
    for sample in SAMPLES.values():
        level = level_of(card, sample)
        assert level.level_class in (*card.class_names, INSUFFICIENT_DATA)
        assert 0 <= level.score <= card.max_score <= MAX_SCORE
        assert len(level.reasons) <= 4
        assert all(0 <= r.points <= r.max_points for r in level.reasons if r.factor != "DATA")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_card_that_is_accepted_never_makes_scoring_fail(data: st.DataObject) -> None:
    document = copy.deepcopy(DOCUMENT)
    count = data.draw(st.integers(min_value=1, max_value=3))
    kinds = [_mutate(document, data) for _ in range(count)]
    try:
        card = parse_scorecard(document)
    except InvalidArgument as refusal:
        event("refused")
        assert refusal.violations
        assert all(v.reason.isupper() for v in refusal.violations)
        return
    event("accepted after " + "+".join(sorted(kinds)))
    _scores_everything(card)
