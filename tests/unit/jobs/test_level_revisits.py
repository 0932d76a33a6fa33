"""The revisit scheduler's own logic: passes in batches, and how long it sleeps."""

from __future__ import annotations

import datetime as dt

import pytest

from service.jobs.level_revisits import BUSY_RETRY_SECONDS, LevelRevisitScheduler

NOW = dt.datetime(2027, 5, 31, 16, tzinfo=dt.UTC)


class FixedClock:
    def now(self) -> dt.datetime:
        return NOW


class FakeDueLevels:
    def __init__(self, due: int, next_time: dt.datetime | None) -> None:
        self.due = due
        self.next_time = next_time
        self.claims: list[int] = []

    async def revisit_due(self, limit: int) -> int:
        claimed = min(limit, self.due)
        self.due -= claimed
        self.claims.append(claimed)
        return claimed

    async def next_revisit_time(self) -> dt.datetime | None:
        return self.next_time


async def test_a_pass_claims_batches_until_a_short_one() -> None:
    levels = FakeDueLevels(due=7, next_time=None)
    scheduler = LevelRevisitScheduler(levels, FixedClock(), interval=30, batch=3)
    assert await scheduler.run_once() == 7
    assert levels.claims == [3, 3, 1]
    assert await scheduler.run_once() == 0


@pytest.mark.parametrize(
    ("next_time", "seconds"),
    [
        (None, 30),  # nothing due ever: look again at the interval
        (NOW + dt.timedelta(seconds=12), 12),  # sleep until the next revisit time
        (NOW + dt.timedelta(days=3), 30),  # but never longer than the interval
        (NOW - dt.timedelta(seconds=1), BUSY_RETRY_SECONDS),  # another replica holds it
    ],
)
async def test_it_sleeps_until_the_next_revisit_time_within_the_interval(
    next_time: dt.datetime | None, seconds: float
) -> None:
    scheduler = LevelRevisitScheduler(FakeDueLevels(0, next_time), FixedClock(), interval=30)
    assert await scheduler._seconds_to_next() == seconds
