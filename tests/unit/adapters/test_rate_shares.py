"""Shares of a start timeline: how a period's residues are split between processes, which
ones each takes, and where a process's next start is."""

from __future__ import annotations

import pytest

from service.adapters.registry_http.rate_shares import (
    ALL,
    PERIOD_SECONDS,
    PREFERENCE,
    RESIDUES,
    Timeline,
    choose,
    from_column,
    targets,
    to_column,
)

EVENS = sum(1 << r for r in range(0, RESIDUES, 2))


def test_a_process_alone_holds_every_residue_whatever_it_wants() -> None:
    assert targets({"a": 1}) == {"a": RESIDUES}


def test_processes_that_want_alike_get_alike() -> None:
    assert targets({"a": RESIDUES, "b": RESIDUES}) == {"a": 32, "b": 32}
    # Wanting less than there is: what nobody wants is split evenly too.
    assert targets({"a": 10, "b": 10}) == {"a": 32, "b": 32}


def test_nobody_gets_more_than_it_wants_while_another_is_short() -> None:
    assert targets({"idle": 1, "busy": RESIDUES}) == {"idle": 1, "busy": 63}
    shares = targets({"a": 10, "b": RESIDUES, "c": RESIDUES})
    assert shares == {"a": 10, "b": 27, "c": 27}


@pytest.mark.parametrize("wants", [[0], [3, 70], [1, 1, 1], [64, 64, 64, 64, 64], [5] * 70])
def test_the_shares_never_add_up_to_more_than_there_is(wants: list[int]) -> None:
    shares = targets({f"p{n}": want for n, want in enumerate(wants)})
    assert sum(shares.values()) == RESIDUES
    assert all(share >= 0 for share in shares.values())


def test_half_the_residues_are_every_other_start_and_the_rest_are_the_others() -> None:
    first = choose(ALL, 32)
    assert first == EVENS
    assert choose(ALL & ~first, 32) == ALL & ~EVENS
    assert sorted(PREFERENCE) == list(range(RESIDUES))


def test_no_more_is_chosen_than_is_free() -> None:
    assert choose(0b1010, 5) == 0b1010
    assert choose(ALL, 0) == 0


def test_a_mask_with_the_top_residue_fits_a_signed_column_and_back() -> None:
    for mask in (ALL, 1 << 63, EVENS, 0, 1):
        column = to_column(mask)
        assert -(2**63) <= column < 2**63
        assert from_column(column) == mask


def test_a_period_lasts_about_the_set_time_whatever_the_rate() -> None:
    for interval in (0.00055, 0.0011, 0.003):
        timeline = Timeline.of(interval)
        assert timeline.starts_per_period % RESIDUES == 0
        assert PERIOD_SECONDS / 2 <= timeline.period_seconds <= PERIOD_SECONDS * 1.5


def test_the_next_start_held_is_found_in_this_group_the_next_or_a_later_period() -> None:
    timeline = Timeline(interval=0.001, groups=2)  # periods of 128 starts
    held = {10: 1 << 5 | 1 << 40, 12: 1 << 3}
    base = 10 * 128
    assert timeline.next_held(base, held, 12) == base + 5
    assert timeline.next_held(base + 6, held, 12) == base + 40
    assert timeline.next_held(base + 41, held, 12) == base + 64 + 5  # the second group
    # Period 11 holds nothing: on to period 12.
    assert timeline.next_held(base + 64 + 41, held, 12) == 12 * 128 + 3
    assert timeline.next_held(base + 64 + 41, held, 11) is None
    assert timeline.due(base) == pytest.approx(base * 0.001)
    assert timeline.period_at(timeline.due(base) + 0.0001) == 10
