"""Command-line options, parsed once into a frozen Options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VARIANTS = ("hot", "spread")


@dataclass(frozen=True)
class Options:
    service: str
    """integrity: integrity-server over prepared data; noop: a second no-op (harness check)."""
    backend: str
    enterprises: int
    fresh: bool
    postgres_server: str
    rounds: int
    warmup: float
    duration: float
    connections: int
    streams: int
    variants: tuple[str, ...]
    unpinned_rounds: int
    """Extra A/B rounds with nothing pinned (whole-machine figure); 0 for none."""
    server_cores: str
    load_cores: str
    latency: bool
    latency_rounds: int
    rps_fraction: float
    server_log_level: str
    cpu_policy: str
    """Scheduling policy of both servers' threads (service/cpu_policy.py)."""
    samples: int
    bytes_tolerance: float
    spread_bytes_tolerance: float
    rotate_interval_us: float
    out: Path | None
    var_dir: Path
    keep_request_logs: bool


def _variants(text: str) -> tuple[str, ...]:
    chosen = tuple(v.strip() for v in text.split(",") if v.strip())
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"variants are {', '.join(VARIANTS)}")
    return chosen


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be positive")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.eligibility",
        description="EligibilityService.CheckEligibility over gRPC, driven by h2load, against "
        "a no-op grpc.aio baseline measured in the same run (see bench/README.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    what = p.add_argument_group("what is measured")
    what.add_argument(
        "--service",
        choices=("integrity", "noop"),
        default="integrity",
        help="B: integrity-server, or a second no-op to check the harness (ratio ~1.0)",
    )
    what.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    what.add_argument("--enterprises", type=int, default=100_000, help="registry size N (≤1M)")
    what.add_argument("--fresh", action="store_true", help="rebuild the cached data for N/backend")
    what.add_argument(
        "--postgres-server",
        default="postgresql://postgres@127.0.0.1:5432/",
        help="server for --backend postgresql; the database integrity_bench_<N> is made there",
    )
    what.add_argument("--variants", type=_variants, default="hot,spread", help="hot and/or spread")
    what.add_argument(
        "--server-log-level",
        choices=("warning", "info"),
        default="warning",
        help="integrity-server's; its output goes to a file in the run folder either way",
    )
    what.add_argument(
        "--cpu-policy",
        choices=("normal", "batch"),
        default="normal",
        help="Linux scheduling policy of both servers: integrity-server's INTEGRITY_CPU_POLICY, "
        "and the no-op sets the same on itself, so the two are compared alike",
    )
    how = p.add_argument_group("how")
    how.add_argument("--rounds", type=_positive(int), default=4, help="A B rounds, pinned")
    how.add_argument("--warmup", type=float, default=2.0, help="seconds before each measurement")
    how.add_argument("--duration", type=_positive(float), default=5.0, help="measured seconds")
    how.add_argument("--connections", type=_positive(int), default=4, help="h2load -c")
    how.add_argument("--streams", type=_positive(int), default=32, help="h2load -m")
    how.add_argument(
        "--unpinned",
        dest="unpinned_rounds",
        type=int,
        nargs="?",
        const=1,
        default=0,
        help="add an unpinned phase of this many rounds (1 if no number is given)",
    )
    how.add_argument("--server-cores", default="0", help="taskset -c for the servers")
    how.add_argument("--load-cores", default="1", help="taskset -c for h2load and the harness")
    how.add_argument(
        "--latency",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also one request in flight, and a fixed rate",
    )
    how.add_argument("--latency-rounds", type=_positive(int), default=2)
    how.add_argument(
        "--rps-fraction", type=float, default=0.5, help="fixed rate, share of A's median QPS"
    )
    checks = p.add_argument_group("checks")
    checks.add_argument(
        "--samples", type=_positive(int), default=5, help="grpc client calls before/after a run"
    )
    checks.add_argument(
        "--bytes-tolerance", type=float, default=0.01, help="hot: data bytes/request vs expected"
    )
    checks.add_argument("--spread-bytes-tolerance", type=float, default=0.05)
    checks.add_argument(
        "--rotate-interval-us", type=_positive(float), default=200.0, help="spread: rewrite pace"
    )
    output = p.add_argument_group("output")
    output.add_argument(
        "--out", type=Path, help="raw results as JSON (None: results.json in the run folder)"
    )
    output.add_argument("--var-dir", type=Path, default=Path("var/bench/eligibility"))
    output.add_argument(
        "--keep-request-logs", action="store_true", help="keep h2load's per-request logs"
    )
    return p


def parse(argv: list[str] | None = None) -> Options:
    p = parser()
    args = p.parse_args(argv)
    if not 1 <= args.enterprises <= 1_000_000:
        p.error("--enterprises must be between 1 and 1,000,000")
    if args.warmup < 0 or args.unpinned_rounds < 0:
        p.error("--warmup and --unpinned must not be negative")
    if not 0 < args.rps_fraction < 1:
        p.error("--rps-fraction must be between 0 and 1")
    return Options(**vars(args))
