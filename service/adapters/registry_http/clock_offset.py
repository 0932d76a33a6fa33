"""How far the database's clock is from this process's, bounded by recent round trips.

A start reserved on the database's clock is known here only to within the round trip of
the statement that read that clock: the clock was read somewhere between sending and the
reply. One round trip on a busy event loop can take several milliseconds, and a start may
be taken late by only a few (limits.py), so the bounds of one statement alone waste much
of that. The offset (database clock minus this process's monotonic clock) barely moves
between statements a few seconds apart, so the tightest bounds of recent statements hold
for this one too, once widened by how far two clocks may drift apart meanwhile (DRIFT, far
beyond what clock hardware and NTP slewing do). A reading that contradicts them (a clock
stepped, or slewed faster than that) starts the record again from itself alone.
"""

from __future__ import annotations

from collections import deque

DRIFT = 1e-3
"""Seconds two clocks may drift apart per second (1,000 ppm)."""
WINDOW_SECONDS = 2.0
"""How long a round trip's bounds are used for (2 ms of drift at most)."""
MOST_KEPT = 64


class ClockOffset:
    def __init__(self) -> None:
        # (when, lowest, highest) of each recent reading, oldest first.
        self._readings: deque[tuple[float, float, float]] = deque(maxlen=MOST_KEPT)

    def bounds(self, sent: float, replied: float, database_now: float) -> tuple[float, float]:
        """The database's clock less this process's (lowest, highest), given a reading of
        the database's clock by a statement sent and answered at those local times."""
        lowest, highest = database_now - replied, database_now - sent
        while self._readings and self._readings[0][0] < replied - WINDOW_SECONDS:
            self._readings.popleft()
        best_low, best_high = lowest, highest
        for when, low, high in self._readings:
            widen = (replied - when) * DRIFT
            best_low = max(best_low, low - widen)
            best_high = min(best_high, high + widen)
        if best_low > best_high:
            # This reading and the earlier ones cannot all be true: a clock jumped.
            self._readings.clear()
            best_low, best_high = lowest, highest
        self._readings.append((replied, lowest, highest))
        return best_low, best_high

    def current(self, now: float) -> tuple[float, float] | None:
        """The bounds the readings of the last WINDOW_SECONDS give at local time `now`,
        without a reading of its own; None when there are none that recent."""
        best: tuple[float, float] | None = None
        for when, low, high in self._readings:
            if when < now - WINDOW_SECONDS:
                continue
            widen = (now - when) * DRIFT
            low, high = low - widen, high + widen
            best = (low, high) if best is None else (max(best[0], low), min(best[1], high))
        return best
