"""Driving h2load (nghttp2-client) and reading what it reports.

Three things about h2load 1.52 shape this module:
- it prints no percentiles, only min/max/mean/sd: p50 and p99 come from its per-request
  --log-file (request_log.py), which it appends to rather than truncates;
- with --warm-up-time it resets the request counts after the warm-up but not the byte
  counts, so bytes per request would be wrong: the warm-up is a separate, discarded run;
- it cannot read grpc-status: a gRPC error is an HTTP 200 with no DATA frame, which is why
  received data bytes per request are compared with the expected response size. With
  --duration the bytes of answers still in flight at the deadline are counted but their
  requests are not, so measured runs use -n (a count sized from the warm-up's rate) and
  every answer whose bytes arrived is counted.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.eligibility.messages import METHOD_PATH
from bench.eligibility.processes import LOOPBACK, pinned
from bench.eligibility.request_log import SteadyStats, steady_stats

INSTALL_HINT = (
    "h2load is not installed. It is in the Debian/Ubuntu package nghttp2-client:\n"
    "    sudo apt-get update && sudo apt-get install -y nghttp2-client\n"
    "then run the benchmark again."
)


class H2loadMissing(SystemExit):
    pass


def require_h2load() -> str:
    path = shutil.which("h2load")
    if path is None:
        raise H2loadMissing(INSTALL_HINT)
    return path


def h2load_version(h2load: str) -> str:
    result = subprocess.run([h2load, "--version"], capture_output=True, text=True, timeout=10)
    return result.stdout.strip()


@dataclass(frozen=True)
class LoadShape:
    connections: int
    streams: int
    rps_per_connection: int | None = None
    """h2load --rps: a fixed request rate per connection; None for as fast as it goes."""

    def describe(self) -> str:
        text = f"{self.connections}x{self.streams}"
        if self.rps_per_connection:
            text += f" at {self.rps_per_connection * self.connections} rps"
        return text


@dataclass(frozen=True)
class H2loadRun:
    """One h2load invocation against one server."""

    h2load: str
    port: int
    body: Path
    headers: tuple[str, ...]
    shape: LoadShape
    seconds: float
    """How long: --duration, or what `requests` is expected to take (for the time limit)."""
    cores: str | None
    requests: int | None = None
    """-n: this many requests in all instead of --duration."""

    def command(self, log_file: Path | None) -> list[str]:
        if self.requests is None:
            amount = f"--duration={max(1, round(self.seconds * 1000))}ms"
        else:
            amount = f"--requests={self.requests}"
        command = [
            self.h2load,
            f"--clients={self.shape.connections}",
            f"--max-concurrent-streams={self.shape.streams}",
            "--threads=1",
            amount,
            f"--data={self.body}",
        ]
        for header in self.headers:
            command.append(f"--header={header}")
        if self.shape.rps_per_connection:
            command.append(f"--rps={self.shape.rps_per_connection}")
        if log_file is not None:
            command.append(f"--log-file={log_file}")
        command.append(f"http://{LOOPBACK}:{self.port}{METHOD_PATH}")
        return pinned(command, self.cores)


@dataclass(frozen=True)
class H2loadSummary:
    seconds: float
    requests_started: int
    requests_done: int
    succeeded: int
    failed: int
    errored: int
    timeout: int
    status_2xx: int
    header_bytes: int
    data_bytes: int
    mean_ms: float
    max_ms: float

    @property
    def qps(self) -> float:
        return self.succeeded / self.seconds if self.seconds > 0 else 0.0

    @property
    def data_bytes_per_request(self) -> float:
        return self.data_bytes / self.succeeded if self.succeeded else 0.0


@dataclass(frozen=True)
class H2loadResult:
    summary: H2loadSummary
    steady: SteadyStats | None
    """From the per-request log, when one was written."""
    cpu_seconds: float
    """h2load's own user + system CPU (from wait4), to show the load side is not saturated."""


class H2loadFailed(RuntimeError):
    pass


def run(spec: H2loadRun, log_file: Path | None, output_file: Path) -> H2loadResult:
    """Run h2load to completion, within a time limit, and read its summary and log."""
    if log_file is not None:
        log_file.unlink(missing_ok=True)  # h2load appends to an existing log
    limit = 3 * spec.seconds + 60
    with output_file.open("w") as output:
        child = subprocess.Popen(spec.command(log_file), stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + limit
    status, usage = 0, None
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.05)
    else:
        child.kill()
        child.wait(timeout=5)
        raise H2loadFailed(f"h2load did not finish within {limit:.0f} s; see {output_file}")
    child.returncode = os.waitstatus_to_exitcode(status)
    text = output_file.read_text(errors="replace")
    if child.returncode != 0:
        raise H2loadFailed(f"h2load exited with {child.returncode}:\n{text[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime if usage is not None else math.nan
    steady = steady_stats(log_file) if log_file is not None else None
    return H2loadResult(parse_summary(text), steady, cpu)


_FINISHED = re.compile(r"finished in ([\d.]+)(ms|s),")
_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)
_STATUS = re.compile(r"status codes: (\d+) 2xx")
_TRAFFIC = re.compile(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?\((\d+)\) data")
_REQUEST_TIME = re.compile(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)")


def _milliseconds(text: str) -> float:
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(f"not an h2load duration: {text!r}")


def parse_summary(text: str) -> H2loadSummary:
    def find(pattern: re.Pattern[str]) -> re.Match[str]:
        match = pattern.search(text)
        if match is None:
            raise H2loadFailed(f"no {pattern.pattern!r} in h2load's output:\n{text[-2000:]}")
        return match

    finished = find(_FINISHED)
    seconds = float(finished[1]) / (1000 if finished[2] == "ms" else 1)
    requests = find(_REQUESTS)
    traffic = find(_TRAFFIC)
    request_time = find(_REQUEST_TIME)
    return H2loadSummary(
        seconds=seconds,
        requests_started=int(requests[2]),
        requests_done=int(requests[3]),
        succeeded=int(requests[4]),
        failed=int(requests[5]),
        errored=int(requests[6]),
        timeout=int(requests[7]),
        status_2xx=int(find(_STATUS)[1]),
        header_bytes=int(traffic[2]),
        data_bytes=int(traffic[3]),
        mean_ms=_milliseconds(request_time[3]),
        max_ms=_milliseconds(request_time[2]),
    )
