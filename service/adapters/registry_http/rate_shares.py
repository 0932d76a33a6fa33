"""The start timeline of a fast source, cut into shares: the pure part of pg_rate_shares.py.

Start j of a source is due at j * interval on the database's clock. The timeline is cut
into periods of `starts_per_period` starts, and each period's starts into RESIDUES
residues: start j has residue j % RESIDUES, so each residue of a period is every
RESIDUES-th start of it, evenly spread. A share is a set of residues of one period, held
as a bit mask (bit r: residue r).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

RESIDUES = 64
"""Residues of a period: the finest share a process can hold is 1/RESIDUES of the rate."""
PERIOD_SECONDS = 0.25
"""About how long a period lasts: how often shares can change hands."""
ALL = (1 << RESIDUES) - 1


def _bit_reversed(value: int, bits: int) -> int:
    return int(format(value, f"0{bits}b")[::-1], 2)


PREFERENCE = tuple(_bit_reversed(r, RESIDUES.bit_length() - 1) for r in range(RESIDUES))
"""The order residues are handed out in: any first k of it are spread evenly over a
period (k = 32 is every other start), and the rest, taken by the next process, too."""


@dataclass(frozen=True)
class Timeline:
    interval: float
    """Seconds between two starts of the timeline."""
    groups: int
    """Times each residue recurs within a period."""

    @classmethod
    def of(cls, interval: float) -> Timeline:
        return cls(interval, max(1, round(PERIOD_SECONDS / (RESIDUES * interval))))

    @property
    def starts_per_period(self) -> int:
        return RESIDUES * self.groups

    @property
    def period_seconds(self) -> float:
        return self.starts_per_period * self.interval

    def due(self, start: int) -> float:
        """When start `start` is due, on the database's clock."""
        return start * self.interval

    def first_due_from(self, time: float) -> int:
        """The first start due at `time` or after."""
        return math.ceil(time / self.interval)

    def period_at(self, time: float) -> int:
        return math.floor(time / self.period_seconds)

    def next_held(self, first: int, held: Mapping[int, int], last_period: int) -> int | None:
        """The first start from `first` on whose residue `held` holds in its period, in
        periods up to last_period; None if there is none."""
        per_period = self.starts_per_period
        start = first
        while (period := start // per_period) <= last_period:
            residues = held.get(period, 0)
            if residues:
                group, residue = divmod(start - period * per_period, RESIDUES)
                base = period * per_period + group * RESIDUES
                later = residues >> residue << residue
                if later:
                    return base + _lowest(later)
                if group + 1 < self.groups:
                    return base + RESIDUES + _lowest(residues)
            start = (period + 1) * per_period
        return None


def _lowest(residues: int) -> int:
    return (residues & -residues).bit_length() - 1


def targets(wanted: Mapping[str, int]) -> dict[str, int]:
    """How many residues of a period each process should hold, given how many each wants:
    none gets more than it wants while another wants more than it gets (water-filling),
    and what nobody wants is split evenly, so that a process alone holds all."""
    left = RESIDUES
    shares: dict[str, int] = {}
    ordered = sorted(wanted, key=lambda holder: (wanted[holder], holder))
    for place, holder in enumerate(ordered):
        share = min(max(wanted[holder], 0), left // (len(ordered) - place))
        shares[holder] = share
        left -= share
    holders = sorted(shares)
    for place in range(left if holders else 0):
        shares[holders[place % len(holders)]] += 1
    return shares


def choose(free: int, count: int) -> int:
    """`count` of the free residues (fewer if fewer are free), in PREFERENCE order."""
    chosen = 0
    for residue in PREFERENCE:
        if count <= 0:
            break
        if free >> residue & 1:
            chosen |= 1 << residue
            count -= 1
    return chosen


def to_column(residues: int) -> int:
    """A mask as the signed 64-bit integer the database holds it as."""
    return residues - (1 << 64) if residues >> 63 else residues


def from_column(value: int) -> int:
    return value & ALL
