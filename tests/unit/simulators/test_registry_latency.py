import math
import random

import pytest

from simulators.registry.latency import (
    Z99,
    FixedLatency,
    LognormalLatency,
    UniformLatency,
    lognormal_parameters,
)


@pytest.mark.parametrize(("mean", "p99"), [(40.0, 200.0), (5.0, 6.0), (100.0, 1400.0)])
def test_lognormal_parameters_give_the_asked_mean_and_p99(mean: float, p99: float) -> None:
    mu, sigma = lognormal_parameters(mean, p99)
    assert math.isclose(math.exp(mu + sigma * sigma / 2), mean, rel_tol=1e-9)
    assert math.isclose(math.exp(mu + Z99 * sigma), p99, rel_tol=1e-9)


@pytest.mark.parametrize(("mean", "p99"), [(10.0, 10.0), (10.0, 5.0), (0.0, 5.0), (1.0, 20.0)])
def test_lognormal_without_such_a_distribution_is_refused(mean: float, p99: float) -> None:
    with pytest.raises(ValueError, match="lognormal"):
        lognormal_parameters(mean, p99)


def test_draws_are_seconds_within_the_distribution() -> None:
    rng = random.Random(1)
    assert FixedLatency(250).draw(rng) == 0.25
    uniform = [UniformLatency(10, 20).draw(rng) for _ in range(1000)]
    assert min(uniform) >= 0.010 and max(uniform) <= 0.020
    lognormal = sorted(LognormalLatency.of(40, 200).draw(rng) for _ in range(20_000))
    assert 0.036 < sum(lognormal) / len(lognormal) < 0.044
    assert 0.17 < lognormal[int(0.99 * len(lognormal))] < 0.23
