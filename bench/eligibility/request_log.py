"""Steady-state figures from h2load's per-request --log-file.

Each line: start time (us since the epoch), HTTP status, microseconds to the end of the
response. h2load prints no percentiles, and its own req/s counts the ramp-up (connections
opening, the first answers not back yet) and, with -n, the drain at the end (fewer and
fewer streams in flight). Here only the steady window counts: from the first answer's
end to the last request's start, when every stream was busy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SteadyStats:
    qps: float
    """Answers that ended within the window, per second of it."""
    p50_ms: float
    p99_ms: float
    requests: int
    """Requests both started and ended within the window (the latency sample)."""
    window_seconds: float
    logged: int
    not_ok: int
    """Logged requests whose HTTP status was not 200 (-1: the stream failed)."""


def _rank(sorted_values: list[int], fraction: float) -> float:
    """Nearest-rank percentile, microseconds in, milliseconds out."""
    if not sorted_values:
        return math.nan
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return sorted_values[index] / 1000


def steady_stats(log_file: Path) -> SteadyStats:
    rows: list[tuple[int, int]] = []
    not_ok = 0
    with log_file.open() as stream:
        for line in stream:
            fields = line.split("\t")
            if len(fields) < 3:
                continue
            if fields[1] != "200":
                not_ok += 1
                continue
            start, duration = int(fields[0]), int(fields[2])
            rows.append((start, start + duration))
    if len(rows) < 2:
        return SteadyStats(math.nan, math.nan, math.nan, 0, 0.0, len(rows) + not_ok, not_ok)
    first_end = min(end for _, end in rows)
    last_start = max(start for start, _ in rows)
    window = (last_start - first_end) / 1e6
    ended = sum(1 for _, end in rows if first_end < end <= last_start)
    inside = sorted(end - start for start, end in rows if start >= first_end and end <= last_start)
    if window <= 0 or not inside:
        # Too short to have a steady part (one request in flight, a handful of requests).
        inside = sorted(end - start for start, end in rows)
        window = (max(end for _, end in rows) - min(start for start, _ in rows)) / 1e6
        ended = len(rows)
    return SteadyStats(
        qps=ended / window if window > 0 else math.nan,
        p50_ms=_rank(inside, 0.50),
        p99_ms=_rank(inside, 0.99),
        requests=len(inside),
        window_seconds=window,
        logged=len(rows) + not_ok,
        not_ok=not_ok,
    )
