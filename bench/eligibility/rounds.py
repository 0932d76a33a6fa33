"""A phase: one layout and one request variant, baseline (A) and service (B) alternating.

Throughput rounds go A B A B ...; then, when asked, one request in flight (unloaded
latency) and a fixed rate at a share of the baseline's median QPS, also alternating.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.eligibility.expectation import AnswerSizes
from bench.eligibility.h2load import LoadShape
from bench.eligibility.measure import Load, Measurement, Target, measure
from bench.eligibility.options import Options

# Cores kept busy by anything but the measured server, h2load and the rotator, above
# which a measurement is flagged: another process was competing for the machine.
BUSY_ELSEWHERE = 0.15


@dataclass
class Phase:
    layout: str
    variant: str
    baseline_label: str
    service_label: str
    answer_sizes: dict[str, AnswerSizes]
    throughput: list[Measurement] = field(default_factory=list)
    unloaded: list[Measurement] = field(default_factory=list)
    fixed_rate: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def progress_line(m: Measurement) -> str:
    flags = "ok" if m.valid else "INVALID: " + problems_of(m)
    if m.other_cores > BUSY_ELSEWHERE:
        flags += f"  (others busy: {m.other_cores:.2f} cores)"
    rate = f" (target {m.target_rps:,} rps)" if m.target_rps else ""
    database = "" if m.database_cpu_seconds is None else f"db CPU {m.database_cpu_seconds:5.2f} s  "
    return (
        f"  {m.mode:10} r{m.round} {m.role:8} {m.qps:9,.0f} QPS{rate}  p50 {m.p50_ms:7.2f} ms  "
        f"p99 {m.p99_ms:7.2f} ms  server CPU {m.server_cpu_seconds:5.2f} s  "
        f"{database}h2load CPU {m.h2load_cpu_seconds:4.2f} s  {flags}"
    )


def problems_of(m: Measurement) -> str:
    found = []
    if not m.bytes_ok:
        found.append(
            f"{m.data_bytes_per_request:.1f} data bytes per request, expected "
            f"{m.expected_bytes_per_request:.1f} ±{m.bytes_tolerance:.0%} "
            "(error answers carry none)"
        )
    if m.failed:
        found.append(f"{m.failed} failed streams")
    if m.succeeded == 0:
        found.append("no successful requests")
    for when, check in (("before", m.checks_before), ("after", m.checks_after)):
        if check != "ok":
            found.append(f"client check {when}: {check}")
    return "; ".join(found)


def run_phase(
    options: Options,
    phase: Phase,
    baseline: Target,
    service: Target,
    load: Load,
    rounds: int,
    with_latency: bool,
    say: Callable[[str], None],
) -> Phase:
    rng = random.Random(f"{phase.layout}/{phase.variant}")
    pair = (baseline, service)

    def alternate(mode: str, shape: LoadShape, count: int, into: list[Measurement]) -> None:
        for number in range(1, count + 1):
            for target in pair:
                m = measure(
                    target, load, shape, options.duration, options.warmup, mode, number,
                    options.samples, rng,
                )  # fmt: skip
                into.append(m)
                say(progress_line(m))

    alternate(
        "throughput", LoadShape(options.connections, options.streams), rounds, phase.throughput
    )
    if not with_latency:
        return phase
    unloaded = LoadShape(1, 1)
    if load.rotation is not None:
        load.rotation.measure_repeats(unloaded)
    alternate("unloaded", unloaded, options.latency_rounds, phase.unloaded)
    baseline_qps = statistics.median(m.qps for m in phase.throughput if m.role == "baseline")
    per_connection = max(1, round(baseline_qps * options.rps_fraction / options.connections))
    shape = LoadShape(options.connections, options.streams, per_connection)
    if load.rotation is not None:
        # Paced requests share a USCC far more often (expectation.py); measured before the
        # rounds, not between them.
        load.rotation.measure_repeats(shape)
    alternate("fixed_rate", shape, options.latency_rounds, phase.fixed_rate)
    return phase
