"""What the simulator has served, for /_sim/stats: requests by shape and status, requests
in flight, how long admitted requests were in flight on average, and limit violations per
client.

Counters change only in code between awaits on the one event loop, so they are exact
however many requests are in flight."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClientUsage:
    requests: int = 0
    in_flight: int = 0
    in_flight_max: int = 0
    concurrency_violations: int = 0
    rate_violations: int = 0

    @property
    def limit_violations(self) -> int:
        return self.concurrency_violations + self.rate_violations

    def to_json(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "in_flight_max": self.in_flight_max,
            "limit_violations": self.limit_violations,
            "concurrency_violations": self.concurrency_violations,
            "rate_violations": self.rate_violations,
        }


@dataclass
class ShapeStats:
    statuses: Counter[int] = field(default_factory=Counter)
    # The provider's business codes (HTTP 200 carries 0000, 2001 or 1003).
    codes: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    in_flight_max: int = 0
    clients: dict[str, ClientUsage] = field(default_factory=dict)
    served: int = 0
    """Admitted requests that have left (answered)."""
    # The integral of in_flight over monotonic time: the sum of every admitted request's
    # time in flight (Little's law), kept without a timestamp per request.
    busy_seconds: float = 0.0
    _changed_at: float = field(default_factory=time.monotonic)

    def client(self, name: str) -> ClientUsage:
        usage = self.clients.get(name)
        if usage is None:
            usage = self.clients[name] = ClientUsage()
        return usage

    def answered(self, status: int, code: str | None = None) -> None:
        self.statuses[status] += 1
        if code is not None:
            self.codes[code] += 1

    def _account(self) -> None:
        now = time.monotonic()
        self.busy_seconds += self.in_flight * (now - self._changed_at)
        self._changed_at = now

    @property
    def mean_served_ms(self) -> float | None:
        """The mean time an admitted request was in flight: a client held to N in flight
        gets at most N / mean requests a second."""
        if not self.served:
            return None
        self._account()
        return self.busy_seconds / self.served * 1000

    def enter(self, usage: ClientUsage) -> None:
        self._account()
        self.in_flight += 1
        self.in_flight_max = max(self.in_flight_max, self.in_flight)
        usage.in_flight += 1
        usage.in_flight_max = max(usage.in_flight_max, usage.in_flight)

    def leave(self, usage: ClientUsage) -> None:
        self._account()
        self.served += 1
        self.in_flight -= 1
        usage.in_flight -= 1

    @property
    def limit_violations(self) -> int:
        return sum(usage.limit_violations for usage in self.clients.values())

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "requests": sum(self.statuses.values()),
            "statuses": {str(status): n for status, n in sorted(self.statuses.items())},
            "in_flight": self.in_flight,
            "in_flight_max": self.in_flight_max,
            "limit_violations": self.limit_violations,
            "served": self.served,
            "mean_served_ms": self.mean_served_ms,
            "clients": {name: usage.to_json() for name, usage in sorted(self.clients.items())},
        }
        if self.codes:
            document["codes"] = dict(sorted(self.codes.items()))
        return document

    def reset(self) -> None:
        """Forget the counts, keep what is in flight (it will leave)."""
        self.statuses.clear()
        self.codes.clear()
        self.in_flight_max = self.in_flight
        self.served = 0
        self.busy_seconds = 0.0
        self._changed_at = time.monotonic()
        for name, usage in self.clients.items():
            self.clients[name] = ClientUsage(
                in_flight=usage.in_flight, in_flight_max=usage.in_flight
            )


def stats_document(shapes: dict[str, ShapeStats]) -> dict[str, Any]:
    """Totals first, then per shape; clients are named "shape:client"."""
    return {
        "requests": sum(sum(s.statuses.values()) for s in shapes.values()),
        "limit_violations": sum(s.limit_violations for s in shapes.values()),
        "clients": {
            f"{shape}:{name}": usage.to_json()
            for shape, stats in sorted(shapes.items())
            for name, usage in sorted(stats.clients.items())
        },
        "shapes": {shape: stats.to_json() for shape, stats in sorted(shapes.items())},
    }
