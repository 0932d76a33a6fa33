"""The whole run: prepare, then per layout and variant a phase of alternating rounds."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.eligibility import h2load, postgres, report
from bench.eligibility.measure import Target
from bench.eligibility.meta import run_metadata
from bench.eligibility.options import Options
from bench.eligibility.processes import REPO_ROOT, Child, parse_cores
from bench.eligibility.rounds import Phase, run_phase
from bench.eligibility.servers import start_noop
from bench.eligibility.subjects import Subject, integrity_subject, noop_subject
from bench.eligibility.variants import (
    DESCRIPTIONS,
    RotationUnusable,
    VariantSetup,
    prepare_variant,
)


def say(text: str) -> None:
    print(text, flush=True)


@dataclass(frozen=True)
class Layout:
    name: str
    server_cores: str | None
    load_cores: str | None
    rounds: int
    latency: bool


def layouts(options: Options) -> list[Layout]:
    chosen = [
        Layout("pinned", options.server_cores, options.load_cores, options.rounds, options.latency)
    ]
    if options.unpinned_rounds:
        chosen.append(Layout("unpinned", None, None, options.unpinned_rounds, False))
    return chosen


def check_machine(options: Options) -> None:
    if shutil.which("taskset") is None:
        raise SystemExit("taskset is needed to pin processes (Debian package util-linux)")
    server, load = parse_cores(options.server_cores), parse_cores(options.load_cores)
    available = os.sched_getaffinity(0)
    if not (server | load) <= available:
        raise SystemExit(
            f"cores {sorted(server | load)} are not all available (this process may use "
            f"{sorted(available)}); set --server-cores / --load-cores"
        )
    if server & load:
        say("warning: server and load cores overlap; the pinned figures mix both sides")


def main(options: Options) -> int:
    h2load_path = h2load.require_h2load()
    check_machine(options)
    if options.service == "integrity" and options.backend == "postgresql":
        postgres.check_server_url(options.postgres_server)
    var_dir = options.var_dir if options.var_dir.is_absolute() else REPO_ROOT / options.var_dir
    run_dir = var_dir / "runs" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_dir.mkdir(parents=True, exist_ok=True)
    out = options.out or run_dir / "results.json"
    say(f"run folder: {run_dir}")
    say(f"scheduling policy of both servers: {options.cpu_policy}")
    if options.service == "integrity":
        subject = integrity_subject(options, var_dir / "cache", say)
    else:
        subject = noop_subject(run_dir, options.cpu_policy)
    # The spread body is rewritten thousands of times a second: keep it in memory.
    memory = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    work_dir = Path(tempfile.mkdtemp(prefix="bench-eligibility-", dir=memory))
    meta = run_metadata(options, subject, h2load_path, run_dir)
    phases: list[Phase] = []
    problems: list[str] = []
    try:
        for layout in layouts(options):
            _run_layout(options, layout, subject, h2load_path, run_dir, work_dir, phases, problems)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
        meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        report.write_json(out, meta, phases, problems)
    say("")
    for phase in phases:
        say(report.phase_table(phase) + "\n")
    say(report.overview(phases))
    for problem in problems:
        say(f"PROBLEM: {problem}")
    valid = not problems and all(report.phase_valid(phase) for phase in phases)
    say(f"\nraw results: {out}" + ("" if valid else "\nSOME MEASUREMENTS ARE INVALID (see above)"))
    return 0 if valid else 1


def _run_layout(
    options: Options,
    layout: Layout,
    subject: Subject,
    h2load_path: str,
    run_dir: Path,
    work_dir: Path,
    phases: list[Phase],
    problems: list[str],
) -> None:
    # The harness keeps to the load side's cores too (its grpc client samples between runs).
    all_cores = set(range(os.cpu_count() or 1))
    os.sched_setaffinity(0, parse_cores(layout.load_cores) if layout.load_cores else all_cores)
    log_dir = run_dir / layout.name
    log_dir.mkdir(exist_ok=True)
    where = (
        f"servers on cores {layout.server_cores}, h2load on {layout.load_cores}"
        if layout.server_cores
        else "nothing pinned"
    )
    say(f"\n== layout {layout.name} ({where})")
    for variant in options.variants:
        say(f"-- {layout.name} / {variant}: {DESCRIPTIONS[variant]}")
        # Fresh A and B for every phase: both processes are the same age when compared.
        service, service_port = subject.start(layout.server_cores, log_dir, f"service-{variant}")
        try:
            busy = _settle(service)
            try:
                setup = prepare_variant(
                    options, variant, subject, service_port, h2load_path,
                    (layout.server_cores, layout.load_cores), log_dir, work_dir, say,
                )  # fmt: skip
            except RotationUnusable as error:
                problems.append(f"{layout.name}/{variant} skipped: {error}")
                continue
            baseline, port = start_noop(
                f"baseline-{variant}",
                setup.baseline_response,
                layout.server_cores,
                log_dir,
                cpu_policy=options.cpu_policy,
            )
            _settle(baseline)
            if busy:
                setup = dataclasses.replace(setup, notes=(*setup.notes, busy))
            try:
                servers = ((baseline, port), (service, service_port))
                phases.append(_run_phase(options, layout, variant, subject, setup, *servers))
            finally:
                baseline.stop()
        finally:
            service.stop()


def _settle(server: Child, timeout: float = 300.0) -> str:
    """Wait for a freshly started server to go idle; say so if it was busy a while."""
    waited = server.wait_idle(timeout)
    if waited is None:
        say(f"   warning: {server.name} still busy after {timeout:.0f} s; measuring anyway")
        return f"{server.name} never went idle after starting (waited {timeout:.0f} s)"
    if waited >= 1.0:
        say(f"   {server.name} worked in the background for {waited:.0f} s after starting")
        return f"{server.name} worked for {waited:.0f} s after starting; rounds began after"
    return ""


def _run_phase(
    options: Options,
    layout: Layout,
    variant: str,
    subject: Subject,
    setup: VariantSetup,
    baseline_server: tuple[Child, int],
    service_server: tuple[Child, int],
) -> Phase:
    floor = setup.bytes_floor
    baseline = Target("baseline", "no-op grpc.aio", *baseline_server, setup.baseline_sizes, floor)
    service = Target("service", subject.label, *service_server, setup.service_sizes, floor)
    phase = Phase(
        layout=layout.name,
        variant=variant,
        baseline_label=baseline.label,
        service_label=subject.label,
        answer_sizes={"baseline": setup.baseline_sizes, "service": setup.service_sizes},
        notes=list(setup.notes),
    )
    return run_phase(
        options, phase, baseline, service, setup.load, layout.rounds, layout.latency, say
    )
