"""The in-process limiter's slots and start times on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.limits import BudgetExhausted, LocalLimiter, SourceLimits


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.starts: list[float] = []
        self.oversleep: list[float] = []
        """How much later than asked each next sleep ends (a busy event loop)."""

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + (self.oversleep.pop(0) if self.oversleep else 0.0)

    def deadline(self, seconds: float) -> Deadline:
        return Deadline.after(seconds, self.monotonic)


LIMITS = SourceLimits(max_concurrency=10, max_rate=5, rate_margin=0.1, burst=1)
MIN_LEFT = 0.05


def limiter(time: FakeTime, limits: SourceLimits = LIMITS) -> LocalLimiter:
    return LocalLimiter(limits, time.monotonic, time.sleep)


async def test_starts_are_spaced_by_the_rate_and_its_margin() -> None:
    time = FakeTime()
    local = limiter(time)
    for _ in range(4):
        async with local.slot(time.deadline(100.0), MIN_LEFT):
            time.starts.append(time.now)
    gaps = [later - earlier for earlier, later in zip(time.starts, time.starts[1:], strict=False)]
    assert gaps == pytest.approx([1.1 / 5] * 3)


async def test_a_start_beyond_the_deadline_is_refused_without_waiting() -> None:
    time = FakeTime()
    local = limiter(time)
    async with local.slot(time.deadline(0.3), MIN_LEFT):
        pass
    with pytest.raises(BudgetExhausted, match="no_rate_token"):
        async with local.slot(time.deadline(0.1), MIN_LEFT):
            pass
    assert time.now == 0.0


async def test_a_start_that_would_leave_less_than_the_minimum_is_refused() -> None:
    time = FakeTime()
    local = limiter(time)
    async with local.slot(time.deadline(1.0), MIN_LEFT):
        pass
    # The next start is 0.22 s away: with 0.25 s left, only 0.03 s would remain at it.
    with pytest.raises(BudgetExhausted, match="no_rate_token"):
        async with local.slot(time.deadline(0.25), MIN_LEFT):
            pass
    assert time.now == 0.0
    async with local.slot(time.deadline(0.28), MIN_LEFT):
        assert time.now == pytest.approx(0.22)


async def test_a_deadline_already_nearly_spent_is_refused_at_once() -> None:
    time = FakeTime()
    with pytest.raises(BudgetExhausted, match="no_time_left"):
        async with limiter(time).slot(time.deadline(MIN_LEFT / 2), MIN_LEFT):
            pass


async def test_a_request_woken_too_late_for_its_start_takes_a_later_one() -> None:
    time = FakeTime()
    local = limiter(time)
    async with local.slot(time.deadline(100.0), MIN_LEFT):
        time.starts.append(time.now)
    # The loop oversleeps the second start by 30 ms, more than the margin's 20 ms (half
    # of it for waking late): leaving then would be 0.19 s after the first start, nearer
    # than the contract's 0.2 s.
    time.oversleep = [0.03]
    async with local.slot(time.deadline(100.0), MIN_LEFT):
        time.starts.append(time.now)
    assert time.starts == pytest.approx([0.0, 0.44])
    assert LIMITS.start_slack == pytest.approx(0.02)


async def test_a_late_start_within_the_slack_of_a_burst_still_leaves() -> None:
    time = FakeTime()
    local = limiter(time, SourceLimits(max_concurrency=10, max_rate=5, burst=2))
    async with local.slot(time.deadline(100.0), MIN_LEFT):
        pass
    time.oversleep = [0.03]
    async with local.slot(time.deadline(100.0), MIN_LEFT):
        assert time.now == pytest.approx(0.25)


async def test_no_slot_within_the_deadline_is_refused() -> None:
    time = FakeTime()
    local = limiter(time, SourceLimits(max_concurrency=1, max_rate=1000))
    async with local.slot(time.deadline(5), MIN_LEFT):
        # The slot is held: the second request is refused at once, with less than the
        # minimum beyond its wait for a slot.
        with pytest.raises(BudgetExhausted, match="no_concurrency_slot"):
            async with local.slot(time.deadline(MIN_LEFT), MIN_LEFT):
                pass


async def test_an_abandoned_request_keeps_its_slot_for_the_linger() -> None:
    time = FakeTime()
    limits = SourceLimits(max_concurrency=1, max_rate=1000, abandon_linger_seconds=3600)
    local = limiter(time, limits)
    with pytest.raises(asyncio.CancelledError):
        async with local.slot(time.deadline(5), MIN_LEFT):
            raise asyncio.CancelledError
    with pytest.raises(BudgetExhausted, match="no_concurrency_slot"):
        async with local.slot(time.deadline(MIN_LEFT), MIN_LEFT):
            pass
