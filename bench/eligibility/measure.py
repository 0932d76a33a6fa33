"""One measured run against one server: checks, warm-up, the measured window, checks.

The warm-up is its own h2load run (--duration); its rate sizes the measured run, which
sends a fixed number of requests (-n) so that every answer whose bytes were received is
counted (see h2load.py). The window is the measured h2load process's life: the server's
CPU (/proc/<pid>/stat), the database server's, the machine's (/proc/stat) and h2load's own
(wait4) are read around it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.eligibility import h2load
from bench.eligibility.expectation import (
    REQUESTS_PER_DISTINCT_USCC,
    AnswerSizes,
    expected_wire_bytes,
    tolerance,
)
from bench.eligibility.messages import USCC_LENGTH
from bench.eligibility.processes import Child, MachineCpu, cpu_by_command, cpu_spent
from bench.eligibility.rotator import rewrites_reported
from bench.eligibility.sampling import SampleFailed, sample_answers

# A warm-up too short to size the measured run from still runs this long.
MIN_WARMUP_SECONDS = 1.0


@dataclass
class Target:
    """A server under test and what its answers must look like on the wire."""

    role: str
    """"baseline" (A) or "service" (B)."""
    label: str
    server: Child
    port: int
    answer_sizes: AnswerSizes
    """Sizes of its sampled answers; DATA bytes per answer add the 5-byte gRPC prefix."""
    bytes_floor: float
    """The smallest tolerance of the bytes check (relative)."""


@dataclass
class Rotation:
    """The spread variant's rotator, and how far its walk through the USCCs has got."""

    command: Callable[[int], tuple[str, ...]]
    """The rotator's command (pinned) starting at a position in the pool."""
    uscc_offset: int
    """Where the USCC sits in the body file."""
    position: int = 0
    probe: Callable[[h2load.LoadShape], float] | None = None
    """Measures how many requests share a USCC under a load shape (rotation_probe.py)."""
    requests_per_uscc: dict[str, float] = field(default_factory=dict)
    """By LoadShape.describe(): what the probe measured."""

    def measure_repeats(self, shape: h2load.LoadShape) -> None:
        """Probe this shape once, before its rounds (never between them)."""
        key = shape.describe()
        if key not in self.requests_per_uscc and self.probe is not None:
            self.requests_per_uscc[key] = self.probe(shape)

    def repeats(self, shape: h2load.LoadShape) -> float:
        return self.requests_per_uscc.get(shape.describe(), REQUESTS_PER_DISTINCT_USCC)


@dataclass(frozen=True)
class Load:
    """How requests are made: the same for both targets in a phase."""

    h2load: str
    body: Path
    headers: tuple[str, ...]
    cores: str | None
    token: str
    sample_usccs: tuple[str, ...]
    """USCCs the grpc client samples from (the hot one alone, or the whole pool)."""
    rotation: Rotation | None
    """The spread variant's rotator; None for hot."""
    work_dir: Path
    keep_request_logs: bool
    database_command: str | None = None
    """Process name of a database server whose CPU belongs to the service (postgres)."""


@dataclass
class Measurement:
    role: str
    mode: str
    """throughput, unloaded (one request in flight) or fixed_rate."""
    round: int
    shape: str
    requests: int
    seconds: float
    """The steady window: first answer's end to the last request's start."""
    qps: float
    """Answers per second in the steady window."""
    h2load_reported_qps: float
    succeeded: int
    failed: int
    errored: int
    timeout: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    data_bytes_per_request: float
    expected_bytes_per_request: float
    bytes_tolerance: float
    bytes_ok: bool
    server_cpu_seconds: float
    server_cpu_us_per_request: float
    database_cpu_seconds: float | None
    h2load_cpu_seconds: float
    rotator_cpu_seconds: float | None
    window_seconds: float
    """The whole measured h2load run, over which CPU is read."""
    machine_busy_seconds: float
    machine_steal_seconds: float
    unaccounted_cpu_seconds: float
    """Busy core-seconds not spent by the server, its database, h2load or the rotator."""
    other_cores: float
    """unaccounted_cpu_seconds per second: other processes, the idle server, softirq."""
    checks_before: str
    checks_after: str
    target_rps: int | None = None

    @property
    def valid(self) -> bool:
        return (
            self.bytes_ok
            and self.checks_before == "ok"
            and self.checks_after == "ok"
            and self.failed == 0
            and self.succeeded > 0
        )


def check_answers(target: Target, load: Load, count: int, rng: random.Random) -> str:
    usccs = [rng.choice(load.sample_usccs) for _ in range(count)]
    try:
        sample_answers(target.port, load.token, usccs)
    except SampleFailed as error:
        return str(error)
    return "ok"


def measure(
    target: Target,
    load: Load,
    shape: h2load.LoadShape,
    seconds: float,
    warmup: float,
    mode: str,
    round_number: int,
    samples: int,
    rng: random.Random,
) -> Measurement:
    checks_before = check_answers(target, load, samples, rng)
    name = f"{mode}-{round_number}-{target.role}"
    rotator = _start_rotator(load, name)
    try:
        warm_seconds = max(warmup, MIN_WARMUP_SECONDS)
        warm = h2load.run(
            _run_spec(target, load, shape, warm_seconds, None),
            None,
            load.work_dir / f"{name}-warmup.txt",
        )
        # At a fixed rate the warm-up ran at that rate too (or below it, saturated).
        requests = max(shape.connections * shape.streams * 4, round(warm.summary.qps * seconds))
        spec = _run_spec(target, load, shape, seconds, requests)
        log_file = load.work_dir / f"{name}.tsv"
        first_uscc = _current_uscc(load)
        server_before, machine_before = target.server.cpu_seconds(), MachineCpu.read()
        rotator_before = rotator.cpu_seconds() if rotator else 0.0
        database_before = cpu_by_command(load.database_command) if load.database_command else {}
        result = h2load.run(spec, log_file, load.work_dir / f"{name}.txt")
        server_cpu = target.server.cpu_seconds() - server_before
        machine = MachineCpu.read() - machine_before
        rotator_cpu = rotator.cpu_seconds() - rotator_before if rotator else None
        database_cpu = (
            cpu_spent(database_before, cpu_by_command(load.database_command))
            if load.database_command
            else None
        )
    finally:
        if rotator is not None:
            rotator.stop()
            assert load.rotation is not None
            load.rotation.position += rewrites_reported(rotator.log_tail())
    if not load.keep_request_logs:
        log_file.unlink(missing_ok=True)
    checks_after = check_answers(target, load, samples, rng)
    summary, steady = result.summary, result.steady
    assert steady is not None
    sizes = target.answer_sizes
    first_size = None
    if first_uscc is not None and sizes.varies:
        try:
            first_size = sample_answers(target.port, load.token, [first_uscc])[0].ByteSize()
        except SampleFailed as error:
            checks_after = str(error)
    burst = min(summary.succeeded, shape.connections * shape.streams)
    expected = expected_wire_bytes(sizes, summary.succeeded, burst, first_size)
    repeats = load.rotation.repeats(shape) if load.rotation else 1.0
    allowed = tolerance(sizes, summary.succeeded, target.bytes_floor, repeats)
    per_request = summary.data_bytes_per_request
    spent = server_cpu + result.cpu_seconds + (rotator_cpu or 0.0) + (database_cpu or 0.0)
    unaccounted = machine.busy - spent
    return Measurement(
        role=target.role,
        mode=mode,
        round=round_number,
        shape=shape.describe(),
        requests=requests,
        seconds=steady.window_seconds,
        qps=steady.qps,
        h2load_reported_qps=summary.qps,
        succeeded=summary.succeeded,
        failed=summary.failed,
        errored=summary.errored,
        timeout=summary.timeout,
        p50_ms=steady.p50_ms,
        p99_ms=steady.p99_ms,
        mean_ms=summary.mean_ms,
        max_ms=summary.max_ms,
        data_bytes_per_request=per_request,
        expected_bytes_per_request=expected,
        bytes_tolerance=allowed,
        bytes_ok=abs(per_request - expected) <= allowed * expected,
        server_cpu_seconds=server_cpu,
        server_cpu_us_per_request=(
            server_cpu / summary.succeeded * 1e6 if summary.succeeded else math.nan
        ),
        database_cpu_seconds=database_cpu,
        h2load_cpu_seconds=result.cpu_seconds,
        rotator_cpu_seconds=rotator_cpu,
        window_seconds=summary.seconds,
        machine_busy_seconds=machine.busy,
        machine_steal_seconds=machine.steal,
        unaccounted_cpu_seconds=unaccounted,
        other_cores=unaccounted / summary.seconds if summary.seconds else math.nan,
        checks_before=checks_before,
        checks_after=checks_after,
        target_rps=(
            shape.rps_per_connection * shape.connections if shape.rps_per_connection else None
        ),
    )


def _current_uscc(load: Load) -> str | None:
    """The USCC in the body now: what h2load's opening burst of requests will carry."""
    if load.rotation is None:
        return None
    with load.body.open("rb") as stream:
        stream.seek(load.rotation.uscc_offset)
        return stream.read(USCC_LENGTH).decode("ascii")


def _run_spec(
    target: Target,
    load: Load,
    shape: h2load.LoadShape,
    seconds: float,
    requests: int | None,
) -> h2load.H2loadRun:
    return h2load.H2loadRun(
        h2load=load.h2load,
        port=target.port,
        body=load.body,
        headers=load.headers,
        shape=shape,
        seconds=seconds,
        cores=load.cores,
        requests=requests,
    )


def _start_rotator(load: Load, name: str) -> Child | None:
    if load.rotation is None:
        return None
    command = load.rotation.command(load.rotation.position)
    rotator = Child(f"rotator {name}", command, load.work_dir / f"{name}-rotator.log")
    rotator.wait_ready(lambda: rotator.log_contains("rotator: started"), timeout=120)
    return rotator
