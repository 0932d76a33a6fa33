"""Starting the two servers of a phase: the no-op baseline and integrity-server."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.eligibility.ops_setup import ServiceData, clean_environment, console_script
from bench.eligibility.processes import LOOPBACK, Child, free_port, pinned
from bench.eligibility.sampling import serving


def start_noop(
    name: str,
    response: bytes,
    cores: str | None,
    run_dir: Path,
    *,
    cpu_policy: str,
    record_bodies: Path | None = None,
) -> tuple[Child, int]:
    response_file = run_dir / f"{name}-response.bin"
    response_file.write_bytes(response)
    port = free_port()
    command = [
        sys.executable, "-m", "bench.eligibility.noop_server",
        "--listen", f"{LOOPBACK}:{port}", "--response", str(response_file),
        "--cpu-policy", cpu_policy,
    ]  # fmt: skip
    if record_bodies is not None:
        command += ["--record-bodies", str(record_bodies)]
    child = Child(name, pinned(command, cores), run_dir / f"{name}.log", clean_environment())
    child.wait_ready(lambda: child.log_contains('"server_started"'), timeout=60)
    return child, port


def start_integrity(
    data: ServiceData,
    cores: str | None,
    log_level: str,
    run_dir: Path,
    name: str,
    cpu_policy: str,
) -> tuple[Child, int]:
    """integrity-server as ops run it; ready when its health service says SERVING.

    At --log-level warning the server's "server_started" line (an info event) is not
    printed, so readiness is asked of grpc.health.v1 instead of read from the log.
    """
    port = free_port()
    command = [console_script("integrity-server"), "--listen", f"{LOOPBACK}:{port}"]
    child = Child(
        name,
        pinned(command, cores),
        run_dir / f"{name}.log",
        data.server_env(log_level, cpu_policy),
    )
    child.wait_ready(lambda: serving(port), timeout=180)
    return child, port
