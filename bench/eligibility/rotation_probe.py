"""Check, before relying on it, that rewriting the body file varies what h2load sends.

A no-op server that counts request bodies takes a short h2load run while the rotator
rewrites the USCC: many distinct bodies must arrive, each carrying a USCC of the pool
(a read torn by a concurrent rewrite would carry a mix of two).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import DecodeError
from integrity.v1 import eligibility_pb2

from bench.eligibility import h2load
from bench.eligibility.processes import Child
from bench.eligibility.servers import start_noop


@dataclass(frozen=True)
class ProbeResult:
    requests: int
    distinct: int
    foreign: int
    """Requests whose USCC is not in the pool (torn or stale bodies)."""

    @property
    def requests_per_uscc(self) -> float:
        return self.requests / max(1, self.distinct)

    @property
    def ok(self) -> bool:
        enough = self.distinct >= max(20, self.requests // 10)
        return self.requests > 0 and enough and self.foreign <= self.requests // 1000

    def why_not(self) -> str:
        if self.requests == 0:
            return "no request reached the probe server (see probe-*.txt in the run folder)"
        if self.foreign > self.requests // 1000:
            return "bodies arrived torn or stale: the rewrite is not atomic enough here"
        return (
            "few distinct bodies arrived: this h2load does not re-read its -d file for "
            "each request, so the USCC cannot be varied this way"
        )

    def describe(self) -> str:
        return (
            f"rotation probe: {self.requests:,} requests carried {self.distinct:,} distinct "
            f"USCCs, {self.foreign} not from the pool"
        )


def probe_rotation(
    spec_for: Callable[[int], h2load.H2loadRun],
    rotator_command: tuple[str, ...],
    pool: frozenset[str],
    response: bytes,
    server_cores: str | None,
    log_dir: Path,
    cpu_policy: str,
) -> ProbeResult:
    """spec_for(port) gives the h2load run (body file, shape, seconds) to probe with."""
    record = log_dir / "probe-bodies.json"
    record.unlink(missing_ok=True)
    server, port = start_noop(
        "probe-noop", response, server_cores, log_dir, cpu_policy=cpu_policy, record_bodies=record
    )
    try:
        rotator = Child("probe rotator", rotator_command, log_dir / "probe-rotator.log")
        rotator.wait_ready(lambda: rotator.log_contains("rotator: started"), timeout=120)
        try:
            h2load.run(spec_for(port), None, log_dir / "probe-h2load.txt")
        finally:
            rotator.stop()
    finally:
        server.stop()
    counts: dict[str, int] = json.loads(record.read_text())
    foreign = 0
    for body_hex, count in counts.items():
        # grpc hands the handler the message without its 5-byte prefix.
        try:
            uscc = eligibility_pb2.CheckEligibilityRequest.FromString(bytes.fromhex(body_hex)).uscc
        except DecodeError:
            uscc = ""
        if uscc not in pool:
            foreign += count
    return ProbeResult(sum(counts.values()), len(counts), foreign)
