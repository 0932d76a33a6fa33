"""The database's clock offset, bounded by round trips: the tightest recent bounds hold
for later readings (widened by the drift allowed since), a reading that contradicts them
starts again from itself, and old readings are forgotten."""

from __future__ import annotations

import pytest

from service.adapters.registry_http.clock_offset import DRIFT, WINDOW_SECONDS, ClockOffset

OFFSET = 1_800_000_000.0  # the database's epoch clock against a monotonic one


def test_one_reading_is_bounded_by_its_own_round_trip() -> None:
    offset = ClockOffset()
    assert offset.bounds(10.0, 10.004, OFFSET + 10.001) == pytest.approx(
        (OFFSET - 0.003, OFFSET + 0.001)
    )


def test_a_slow_round_trip_borrows_the_bounds_of_a_quick_one_just_before() -> None:
    offset = ClockOffset()
    offset.bounds(10.0, 10.0002, OFFSET + 10.0001)  # a quick one: 0.2 ms
    low, high = offset.bounds(10.5, 10.508, OFFSET + 10.501)  # a slow one: 8 ms
    widen = 0.4998 * DRIFT
    assert low == pytest.approx(OFFSET - 0.0001 - widen)
    assert high == pytest.approx(OFFSET + 0.0001 + widen)
    assert high - low < 0.002


def test_a_reading_that_contradicts_the_earlier_ones_starts_again() -> None:
    offset = ClockOffset()
    offset.bounds(10.0, 10.0002, OFFSET + 10.0001)
    # The database's clock stepped 50 ms ahead: no offset fits both.
    low, high = offset.bounds(11.0, 11.004, OFFSET + 11.052)
    assert (low, high) == pytest.approx((OFFSET + 0.048, OFFSET + 0.052))
    # And the record goes on from that reading, not the one before the step.
    low, high = offset.bounds(11.5, 11.501, OFFSET + 11.5505)
    assert OFFSET + 0.048 <= low <= high <= OFFSET + 0.052


def test_readings_older_than_the_window_are_not_used() -> None:
    offset = ClockOffset()
    offset.bounds(10.0, 10.0002, OFFSET + 10.0001)
    later = 10.0 + WINDOW_SECONDS + 1.0
    assert offset.bounds(later, later + 0.004, OFFSET + later + 0.001) == pytest.approx(
        (OFFSET - 0.003, OFFSET + 0.001)
    )


def test_the_current_bounds_are_the_recent_readings_widened_to_now() -> None:
    offset = ClockOffset()
    assert offset.current(10.0) is None
    offset.bounds(10.0, 10.0002, OFFSET + 10.0001)
    offset.bounds(10.5, 10.508, OFFSET + 10.501)
    low, high = offset.current(11.0)  # type: ignore[misc]
    assert low == pytest.approx(OFFSET - 0.0001 - 1.0 * DRIFT)
    assert high == pytest.approx(OFFSET + 0.0001 + 1.0 * DRIFT)
    # Once every reading is older than the window, there are no bounds to go by.
    assert offset.current(10.5 + WINDOW_SECONDS + 0.01) is None
