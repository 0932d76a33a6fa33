"""The in-process limiter's start times on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.limits import BudgetExhausted, LocalLimiter, SourceLimits


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.starts: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


LIMITS = SourceLimits(max_concurrency=10, max_rate=5, rate_margin=0.1)


async def test_starts_are_spaced_by_the_rate_and_its_margin() -> None:
    time = FakeTime()
    limiter = LocalLimiter(LIMITS, time.monotonic, time.sleep)
    for _ in range(4):
        async with limiter.slot(Deadline(100.0, time.monotonic)):
            time.starts.append(time.now)
    gaps = [later - earlier for earlier, later in zip(time.starts, time.starts[1:], strict=False)]
    assert gaps == pytest.approx([1.1 / 5] * 3)


async def test_a_start_beyond_the_deadline_is_refused_without_waiting() -> None:
    time = FakeTime()
    limiter = LocalLimiter(LIMITS, time.monotonic, time.sleep)
    async with limiter.slot(Deadline(0.1, time.monotonic)):
        pass
    with pytest.raises(BudgetExhausted, match="no_rate_token"):
        async with limiter.slot(Deadline(0.1, time.monotonic)):
            pass
    assert time.now == 0.0


async def test_no_slot_within_the_deadline_is_refused() -> None:
    limiter = LocalLimiter(SourceLimits(max_concurrency=1, max_rate=1000))
    async with limiter.slot(Deadline.after(5)):
        with pytest.raises(BudgetExhausted, match="no_concurrency_slot"):
            async with limiter.slot(Deadline.after(0.01)):
                pass


async def test_an_abandoned_request_keeps_its_slot_for_the_linger() -> None:
    limiter = LocalLimiter(
        SourceLimits(max_concurrency=1, max_rate=1000, abandon_linger_seconds=3600)
    )
    with pytest.raises(asyncio.CancelledError):
        async with limiter.slot(Deadline.after(5)):
            raise asyncio.CancelledError
    with pytest.raises(BudgetExhausted):
        async with limiter.slot(Deadline.after(0.01)):
            pass
