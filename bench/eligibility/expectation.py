"""How many DATA bytes per answer a measured run should show, and how close is close enough.

An error answer carries no DATA frame, so errors pull the mean down. For the hot variant
every answer has the same size and the check is tight. For spread the sizes differ by
decision (about 60 to 310 bytes), so the expected mean is estimated from sampled answers
and the tolerance widens with the sampling error: three standard errors of the sample's
mean and of the run's own mean. Two details make the estimate fit the run:
- h2load opens every stream at once, reading the body 128 times in a row, so the run's
  first 128 requests carry one USCC: that USCC's answer size is weighed in for them;
- requests repeat a USCC (h2load reads the body in bursts: as answers come back in
  batches at full speed, and at each tick of its pacing timer at a fixed rate), so the
  run's sample counts as many USCCs as it carried, not as many requests. How many requests
  share a USCC depends on the load shape and is measured for each (rotation_probe.py): 2-3
  at full speed, about fifty at a fixed rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.eligibility.messages import GRPC_PREFIX_BYTES

REQUESTS_PER_DISTINCT_USCC = 1.5
"""Used only where no probe measured the load shape."""
STANDARD_ERRORS = 3.0


@dataclass(frozen=True)
class AnswerSizes:
    """Serialized sizes of sampled answers (without the 5-byte prefix)."""

    mean: float
    sd: float
    samples: int

    @property
    def varies(self) -> bool:
        return self.sd > 1.0


def expected_wire_bytes(
    sizes: AnswerSizes, requests: int, first_burst: int, first_burst_size: int | None
) -> float:
    """Mean DATA bytes per answer for a run whose first `first_burst` requests shared one USCC."""
    if first_burst_size is None or not sizes.varies or requests <= first_burst:
        return sizes.mean + GRPC_PREFIX_BYTES
    mean = (first_burst * first_burst_size + (requests - first_burst) * sizes.mean) / requests
    return mean + GRPC_PREFIX_BYTES


def tolerance(
    sizes: AnswerSizes,
    requests: int,
    floor: float,
    requests_per_uscc: float = REQUESTS_PER_DISTINCT_USCC,
) -> float:
    """Relative deviation from the expected bytes still taken for sampling noise."""
    if not sizes.varies or requests <= 0:
        return floor
    distinct = max(1.0, requests / max(1.0, requests_per_uscc))
    error = sizes.sd * math.sqrt(1 / sizes.samples + 1 / distinct)
    return max(floor, STANDARD_ERRORS * error / (sizes.mean + GRPC_PREFIX_BYTES))
