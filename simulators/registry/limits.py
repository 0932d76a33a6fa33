"""The contracted limits of one shape, per client: requests in flight and request rate.

A request beyond either is refused with 429 and counted as a violation for its client,
which is what the benchmark checks a well-behaved caller never causes. The rate is a
token bucket on the monotonic clock (not the simulator clock, which tests move by days).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from simulators.registry.behaviour import Limits
from simulators.registry.stats import ClientUsage, ShapeStats


@dataclass
class TokenBucket:
    rate: float
    size: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one will be there."""
        self.tokens = min(self.size, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Admission:
    """Admits or refuses each request of one shape, and keeps its in-flight counts."""

    def __init__(self, stats: ShapeStats, limits: Limits) -> None:
        self.stats = stats
        self.limits = limits
        self._buckets: dict[str, TokenBucket] = {}

    def set_limits(self, limits: Limits) -> None:
        if limits != self.limits:
            self.limits = limits
            self._buckets.clear()  # new contract, full buckets

    def admit(self, client: str) -> int | None:
        """None: admitted and now in flight (call leave()). Else Retry-After seconds."""
        usage = self.stats.client(client)
        usage.requests += 1
        limits = self.limits
        if limits.concurrency is not None and usage.in_flight >= limits.concurrency:
            usage.concurrency_violations += 1
            return limits.retry_after_seconds
        if limits.rate_per_second is not None:
            wait = self._bucket(client, limits.rate_per_second).take(time.monotonic())
            if wait > 0:
                usage.rate_violations += 1
                return max(limits.retry_after_seconds, math.ceil(wait))
        self.stats.enter(usage)
        return None

    def leave(self, client: str) -> ClientUsage:
        usage = self.stats.client(client)
        self.stats.leave(usage)
        return usage

    def _bucket(self, client: str, rate: float) -> TokenBucket:
        bucket = self._buckets.get(client)
        if bucket is None:
            size = self.limits.bucket_size
            bucket = self._buckets[client] = TokenBucket(rate, size, size, time.monotonic())
        return bucket
