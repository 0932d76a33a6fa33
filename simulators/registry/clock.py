"""The simulator's clock: it runs at the real rate from a start that tests can choose, and
can be moved, so a test can make a record publish or an outage begin without waiting."""

from __future__ import annotations

import datetime as dt
import time


class SimulatorClock:
    def __init__(self, start: dt.datetime | None = None) -> None:
        self.set(start or dt.datetime.now(dt.UTC))

    def now(self) -> dt.datetime:
        return self._anchor + dt.timedelta(seconds=time.monotonic() - self._anchored_at)

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("the simulator clock keeps aware times")
        self._anchor = when.astimezone(dt.UTC)
        self._anchored_at = time.monotonic()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + dt.timedelta(seconds=seconds))
