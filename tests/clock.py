"""The test suite's one "now".

Every application a test builds runs on a ``TestClock``, and every time a test writes into a
request or a fact is read from one, so no test depends on the date it runs on. The clock
starts at ``TEST_EPOCH`` and then moves at the real rate, so time-to-live caches and token
buckets behave as in production; a test that needs a particular moment sets it or moves it.
Data the tests make up (licence terms, listings, snapshots) is dated around the epoch.
"""

from __future__ import annotations

import datetime as dt
import time

TEST_EPOCH = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


class TestClock:
    """A clock a test can set. Between settings it runs at the rate of the monotonic clock."""

    __test__ = False  # not a test class, whatever pytest's name rules say

    def __init__(self, start: dt.datetime = TEST_EPOCH) -> None:
        self._frozen = False
        self.set(start)

    def now(self) -> dt.datetime:
        if self._frozen:
            return self._anchor
        return self._anchor + dt.timedelta(seconds=time.monotonic() - self._anchored_at)

    def freeze(self) -> None:
        """Stop the clock where it is: from now on it moves only when set or advanced, so
        a test can name the exact time a use case saw."""
        self.set(self.now())
        self._frozen = True

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("a test clock keeps aware times")
        self._anchor = when
        self._anchored_at = time.monotonic()

    def advance(self, delta: dt.timedelta) -> None:
        self.set(self.now() + delta)
