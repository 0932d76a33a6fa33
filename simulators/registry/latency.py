"""How long the simulated upstream takes to answer: none, fixed, uniform or lognormal."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

# The standard normal's 99th percentile: a lognormal's p99 is exp(mu + Z99 * sigma).
Z99 = 2.3263478740408408


@dataclass(frozen=True)
class FixedLatency:
    ms: float

    def draw(self, _rng: random.Random) -> float:
        return self.ms / 1000

    def to_json(self) -> dict[str, Any]:
        return {"distribution": "fixed", "ms": self.ms}


@dataclass(frozen=True)
class UniformLatency:
    min_ms: float
    max_ms: float

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.min_ms, self.max_ms) / 1000

    def to_json(self) -> dict[str, Any]:
        return {"distribution": "uniform", "min_ms": self.min_ms, "max_ms": self.max_ms}


@dataclass(frozen=True)
class LognormalLatency:
    """Described the way latency is quoted, by its mean and 99th percentile."""

    mean_ms: float
    p99_ms: float
    mu: float
    sigma: float

    @classmethod
    def of(cls, mean_ms: float, p99_ms: float) -> LognormalLatency:
        mu, sigma = lognormal_parameters(mean_ms, p99_ms)
        return cls(mean_ms, p99_ms, mu, sigma)

    def draw(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma) / 1000

    def to_json(self) -> dict[str, Any]:
        return {"distribution": "lognormal", "mean_ms": self.mean_ms, "p99_ms": self.p99_ms}


Latency = FixedLatency | UniformLatency | LognormalLatency
NO_LATENCY = FixedLatency(0)


def lognormal_parameters(mean: float, p99: float) -> tuple[float, float]:
    """mu and sigma of the lognormal with this mean and 99th percentile.

    mean = exp(mu + sigma²/2) and p99 = exp(mu + Z99·sigma) give
    sigma²/2 - Z99·sigma + ln(p99/mean) = 0; the smaller root is the one whose tail is
    not absurd. A root exists only while p99/mean <= exp(Z99²/2), about 15.
    """
    if not (mean > 0 and p99 > mean):
        raise ValueError("a lognormal latency needs 0 < mean_ms < p99_ms")
    gap = math.log(p99 / mean)
    discriminant = Z99 * Z99 - 2 * gap
    if discriminant < 0:
        raise ValueError("p99_ms may be at most about 15 times mean_ms for a lognormal")
    sigma = Z99 - math.sqrt(discriminant)
    return math.log(mean) - sigma * sigma / 2, sigma
