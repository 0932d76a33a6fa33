"""The running simulator: its clock, records, behaviour, credentials and counters, and the
steps every request of a shape goes through before it is answered."""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from enum import Enum

from simulators.registry.behaviour import Behaviour, Shape, ShapeBehaviour
from simulators.registry.clock import SimulatorClock
from simulators.registry.credentials import Credentials
from simulators.registry.limits import Admission
from simulators.registry.records import RecordStore
from simulators.registry.stats import ShapeStats, stats_document


class Fault(Enum):
    FAILED = "failed"  # gov 500, provider 502/5001
    UNAVAILABLE = "unavailable"  # 503


@dataclass(frozen=True)
class Refusal:
    """A request answered before it reaches the records."""

    status: int
    retry_after: int | None = None


class Simulator:
    def __init__(
        self,
        clock: SimulatorClock,
        store: RecordStore,
        behaviour: Behaviour,
        credentials: Credentials,
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.store = store
        self.credentials = credentials
        self.stats = {shape: ShapeStats() for shape in Shape}
        self.behaviour = behaviour
        self._admissions = {
            shape: Admission(self.stats[shape], behaviour.of(shape).limits) for shape in Shape
        }
        self._released = {shape: asyncio.Event() for shape in Shape}
        # Latency and injected faults are drawn from a seeded generator: a run can be
        # repeated, and nothing here is a secret.
        self._rng = random.Random(seed)  # noqa: S311
        self.set_behaviour(behaviour)

    def set_behaviour(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        for shape in Shape:
            shape_behaviour = behaviour.of(shape)
            self._admissions[shape].set_limits(shape_behaviour.limits)
            if shape_behaviour.hold:
                self._released[shape].clear()
            else:
                self._released[shape].set()

    def stats_document(self) -> dict[str, object]:
        return stats_document({shape.value: stats for shape, stats in self.stats.items()})

    def reset_stats(self) -> None:
        for stats in self.stats.values():
            stats.reset()

    # -- the steps of a request ---------------------------------------------

    def outage(self, shape: Shape) -> Refusal | None:
        """Everything of the shape answers 503 inside an outage window."""
        now = self.clock.now()
        window = self.behaviour.of(shape).outage_at(now)
        if window is None:
            return None
        return Refusal(503, max(1, math.ceil((window.end - now).total_seconds())))

    def admit(self, shape: Shape, client: str) -> Refusal | None:
        """Within the client's contracted limits the request is in flight until leave()."""
        retry_after = self._admissions[shape].admit(client)
        return None if retry_after is None else Refusal(429, retry_after)

    def leave(self, shape: Shape, client: str) -> None:
        self._admissions[shape].leave(client)

    async def upstream(self, shape: Shape) -> Fault | None:
        """Take the simulated upstream's time, then perhaps fail as configured."""
        behaviour = self.behaviour.of(shape)
        if behaviour.hold:
            await self._released[shape].wait()
        delay = behaviour.latency.draw(self._rng)
        if delay > 0:
            await asyncio.sleep(delay)
        return self._fault(behaviour)

    def _fault(self, behaviour: ShapeBehaviour) -> Fault | None:
        if not (behaviour.error_rate or behaviour.unavailable_rate):
            return None
        roll = self._rng.random()
        if roll < behaviour.error_rate:
            return Fault.FAILED
        if roll < behaviour.error_rate + behaviour.unavailable_rate:
            return Fault.UNAVAILABLE
        return None

    def lag(self, shape: Shape) -> float:
        return self.behaviour.of(shape).publication_lag_seconds
