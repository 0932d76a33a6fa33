"""How many requests one registry simulator process answers, against a no-op baseline.

    python -m bench.registry_simulator [--rounds 4] [--seconds 5] [--records 20000]

Both servers run pinned to core 0, h2load (HTTP/1.1, 32 connections, one request in flight
on each) to core 1. The baseline answers the same routes with prebuilt bytes of the same
size on the same stack (bench/registry_noop_server.py). Rounds alternate baseline and
simulator for each shape, with no simulated latency; the simulator's own /_sim/stats must
count every request h2load saw succeed as a 200 (provider code 0000). Prints the medians
of QPS and of the per-round ratios with their spread, and the server's CPU per request
(the steadier figure where other work shares the machine) with the rate a whole core
would sustain at that cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.eligibility.h2load import parse_summary, require_h2load
from bench.eligibility.processes import Child, free_port, pinned
from simulators.registry.credentials import provider_signature

APP_ID, SECRET, TOKEN = "bench-app", "bench-secret", "bench-token"
CONNECTIONS = 32
SERVER_CORES, LOAD_CORES = "0", "1"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:  # loopback only
        return json.load(response)


def _start_simulator(work: Path, records: int) -> tuple[Child, str]:
    port = free_port()
    command = pinned(
        [
            str(Path(sys.executable).parent / "integrity-registry-simulator"),
            *("--port", str(port), "--records", str(records)),
            *("--gov-token", f"bench={TOKEN}", "--provider-app", f"{APP_ID}={SECRET}"),
            *("--set", "provider.timestamp_tolerance_seconds=86400"),
        ],
        SERVER_CORES,
    )
    child = Child("simulator", command, work / "simulator.log")
    child.wait_ready(lambda: child.log_contains("registry_simulator_ready"), 120)
    return child, f"http://127.0.0.1:{port}"


def _start_baseline(work: Path, url: str, codes: list[str]) -> tuple[Child, str]:
    # The baseline answers exactly what the simulator answers for one enterprise.
    gov = urllib.request.Request(
        f"{url}/v1/enterprises/{codes[0]}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(gov, timeout=30) as response:  # loopback only
        (work / "gov.json").write_bytes(response.read())
    body, headers = _provider_request(codes[0])
    provider = urllib.request.Request(
        f"{url}/open/v2/enterprise/verify", data=body, headers=headers
    )
    with urllib.request.urlopen(provider, timeout=30) as response:  # loopback only
        (work / "provider.json").write_bytes(response.read())
    port = free_port()
    command = pinned(
        [sys.executable, "-m", "bench.registry_noop_server", "--port", str(port),
         "--gov", str(work / "gov.json"), "--provider", str(work / "provider.json")],
        SERVER_CORES,
    )  # fmt: skip
    child = Child("baseline", command, work / "baseline.log")
    child.wait_ready(lambda: child.log_contains("noop_ready"), 60)
    return child, f"http://127.0.0.1:{port}"


def _provider_request(uscc: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"creditCode": uscc, "companyName": "某某有限公司", "legalPerson": "某某"}
    ).encode()
    stamp = str(int(time.time()))
    return body, {
        "X-App-Id": APP_ID,
        "X-Timestamp": stamp,
        "X-Signature": provider_signature(SECRET, APP_ID, stamp, body),
        "Content-Type": "application/json",
    }


@dataclass(frozen=True)
class Measured:
    qps: float
    cpu_us_per_request: float


def _measure(
    h2load: str, work: Path, server: Child, url: str, shape: str, codes: list[str], seconds: float
) -> Measured:
    """A discarded warm-up run, then a measured one: its rate and the server's CPU per request
    (steadier than the rate on a machine shared with other work)."""
    _load(h2load, work, url, shape, codes, 1.0)
    cpu = server.cpu_seconds()
    qps = _load(h2load, work, url, shape, codes, seconds)
    return Measured(qps, (server.cpu_seconds() - cpu) / (qps * seconds) * 1e6)


def _load(h2load: str, work: Path, url: str, shape: str, codes: list[str], seconds: float) -> float:
    """Requests per second h2load saw succeed."""
    command = [h2load, "--h1", f"--clients={CONNECTIONS}", "--max-concurrent-streams=1", "--threads=1",
               f"--duration={round(seconds * 1000)}ms"]  # fmt: skip
    if shape == "gov":
        uris = work / "uris.txt"
        uris.write_text("".join(f"{url}/v1/enterprises/{code}\n" for code in codes))
        command += [f"--header=Authorization: Bearer {TOKEN}", f"--input-file={uris}"]
    else:
        body, headers = _provider_request(codes[0])
        (work / "body.json").write_bytes(body)
        command += [
            f"--data={work / 'body.json'}",
            *(f"--header={k}: {v}" for k, v in headers.items()),
        ]
        command.append(f"{url}/open/v2/enterprise/verify")
    result = subprocess.run(
        pinned(command, LOAD_CORES),
        capture_output=True,
        text=True,
        timeout=seconds * 3 + 60,
        check=True,
    )
    summary = parse_summary(result.stdout)
    if summary.status_2xx != summary.succeeded or summary.failed or summary.errored:
        raise SystemExit(f"h2load saw failures against {url}:\n{result.stdout[-1500:]}")
    return summary.qps


def _answered(url: str, shape: str) -> int:
    stats = _get(f"{url}/_sim/stats")["shapes"][shape]
    return int(
        stats["codes"].get("0000", 0) if shape == "provider" else stats["statuses"].get("200", 0)
    )


def _report(shape: str, simulator: list[Measured], baseline: list[Measured]) -> None:
    ratios = [s.qps / b.qps for s, b in zip(simulator, baseline, strict=True)]
    cpu = statistics.median(m.cpu_us_per_request for m in simulator)
    cpu_ratios = [
        b.cpu_us_per_request / s.cpu_us_per_request
        for s, b in zip(simulator, baseline, strict=True)
    ]
    print(
        f"{shape:8} simulator {statistics.median(m.qps for m in simulator):6.0f} req/s, "
        f"baseline {statistics.median(m.qps for m in baseline):6.0f} req/s: "
        f"ratio {statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}); "
        f"CPU {cpu:.0f} us a request, about {1e6 / cpu:.0f} req/s for a whole core "
        f"(baseline/simulator CPU {statistics.median(cpu_ratios):.2f}); {CONNECTIONS} in flight"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    h2load = require_h2load()
    with tempfile.TemporaryDirectory(prefix="registry-simulator-bench-") as directory:
        work = Path(directory)
        simulator, simulator_url = _start_simulator(work, args.records)
        baseline = None
        try:
            codes = _get(f"{simulator_url}/_sim/records?limit=2000")["uscc"]
            baseline, baseline_url = _start_baseline(work, simulator_url, codes)
            for shape in ("gov", "provider"):
                runs: dict[str, list[Measured]] = {"baseline": [], "simulator": []}
                for _ in range(args.rounds):
                    runs["baseline"].append(
                        _measure(h2load, work, baseline, baseline_url, shape, codes, args.seconds)
                    )
                    before = _answered(simulator_url, shape)
                    measured = _measure(
                        h2load, work, simulator, simulator_url, shape, codes, args.seconds
                    )
                    if _answered(simulator_url, shape) - before < measured.qps * args.seconds:
                        raise SystemExit(f"the simulator counted fewer {shape} answers than h2load")
                    runs["simulator"].append(measured)
                _report(shape, runs["simulator"], runs["baseline"])
            violations = _get(f"{simulator_url}/_sim/stats")["limit_violations"]
            print(f"limit violations counted: {violations}")
        finally:
            simulator.stop()
            if baseline is not None:
                baseline.stop()


if __name__ == "__main__":
    main()
