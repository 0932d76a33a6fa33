"""A circuit breaker: stop asking a source that keeps failing, then probe it.

Closed, it lets every call through and watches the outcomes: N consecutive failures, or
a failure ratio over the last W calls (once W calls are seen), open it. Open, it refuses
every call for the cool-down. Then it is half-open: one probe goes through (the others are
refused meanwhile); the probe's success closes it, its failure opens it for another
cool-down. Pure state: the time comes from the monotonic function it is given.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    consecutive_failures: int = 5
    """This many failures in a row open the breaker."""
    window: int = 20
    """The failure ratio is taken over this many latest calls."""
    failure_ratio: float = 0.5
    """At least this share of failures over a full window opens the breaker."""
    cool_down_seconds: float = 30.0
    """How long an open breaker refuses calls before it lets a probe through."""


class CircuitBreaker:
    def __init__(
        self, policy: BreakerPolicy, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._policy = policy
        self._monotonic = monotonic
        self._state = BreakerState.CLOSED
        self._outcomes: deque[bool] = deque(maxlen=policy.window)
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    def refuses(self) -> bool:
        """Would a call be refused now? Changes nothing (a quick check before waiting)."""
        state = self.state
        return state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and self._probing)

    def allow(self) -> bool:
        """May a call go through now? In half-open, True makes that call the probe, which
        must then be recorded as a success or a failure."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._probing:
            return False
        self._state = BreakerState.HALF_OPEN
        self._probing = True
        return True

    # A call let through before the breaker opened may end after it did: its outcome says
    # nothing about the source now, and only the probe's decides in half-open.
    def record_success(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._close()
        if self._state is not BreakerState.CLOSED:
            return
        self._consecutive = 0
        self._outcomes.append(True)

    def record_failure(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._open()
        if self._state is not BreakerState.CLOSED:
            return
        self._consecutive += 1
        self._outcomes.append(False)
        if self._consecutive >= self._policy.consecutive_failures or self._ratio_exceeded():
            self._open()

    def record_abandoned(self) -> None:
        """The call ended without saying anything about the source (we cancelled it, or
        our caller's deadline ran out first): no outcome is counted, and a probe that ends
        so hands its turn to the next call."""
        if self._state is BreakerState.HALF_OPEN:
            self._probing = False

    def _ratio_exceeded(self) -> bool:
        if len(self._outcomes) < self._policy.window:
            return False
        failures = sum(1 for ok in self._outcomes if not ok)
        return failures / len(self._outcomes) >= self._policy.failure_ratio

    def _cooled_down(self) -> bool:
        return self._monotonic() - self._opened_at >= self._policy.cool_down_seconds

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._monotonic()
        self._probing = False

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._probing = False
        self._consecutive = 0
        self._outcomes.clear()
