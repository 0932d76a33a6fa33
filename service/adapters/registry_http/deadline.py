"""A point in monotonic time by which a source must have answered."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Deadline:
    at: float
    monotonic: Callable[[], float] = field(default=time.monotonic, compare=False)
    caller_bound: bool = False
    """The caller's deadline, shorter than the source's own budget, is this one: running
    out of it says nothing about the source (the breaker does not count it)."""

    @classmethod
    def after(cls, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(monotonic() + seconds, monotonic)

    @classmethod
    def within(
        cls,
        budget_seconds: float,
        caller_seconds: float | None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        """The source's budget, or the time its caller has left if that is shorter."""
        if caller_seconds is None or caller_seconds >= budget_seconds:
            return cls.after(budget_seconds, monotonic)
        return cls(monotonic() + max(0.0, caller_seconds), monotonic, caller_bound=True)

    def remaining(self) -> float:
        return max(0.0, self.at - self.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0
