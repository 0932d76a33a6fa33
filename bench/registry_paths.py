"""What a verification costs when it asks the registry sources over HTTP, against the
imported snapshot, measured side by side in one run.

    .venv/bin/python -m bench.registry_paths [--enterprises 200] [--rounds 4] [--concurrency 8]

A registry simulator process (no latency, no limits) serves the government registry and
the data provider; the same enterprises are imported as a snapshot. Two applications on
SQLite, one per path, verify the same submissions through the verification use case
(validation, sealing, the registry check, storage, the disclosure ledger). Rounds
alternate snapshot and HTTP (A B A B ...); each round runs every enterprise once with one
verification in flight, then again with --concurrency in flight. Printed: the median of
the per-round ratios HTTP/snapshot, their spread, and the per-verification figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.adapters.registry_files import read_registry_file
from service.app.verifications import SubmitVerification
from service.bootstrap import Application, bootstrap
from service.domain.callers import Caller, CallerKind
from service.domain.licence import DateParts
from service.domain.submission import AuthorisationDraft, LicenceDraft, TermDraft
from service.logging import configure_logging
from service.settings import PiiKeys, Settings

SIMULATOR = str(Path(sys.executable).parent / "integrity-registry-simulator")
TOKEN, APP_ID, SECRET = "bench-token", "bench-app", "bench-secret"
SCOPES = ("identity_verification", "archive", "integrity_level")


def start_simulator(records: int, now: dt.datetime) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [SIMULATOR, "--port", "0", "--records", str(records), "--seed", "11",
         "--start", now.isoformat(), "--gov-token", f"bench={TOKEN}",
         "--provider-app", f"{APP_ID}={SECRET}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("{") and json.loads(line).get("event") == "registry_simulator_ready":
            return process, str(json.loads(line)["url"])
    raise SystemExit("the registry simulator did not start")


def truth_rows(url: str, count: int) -> list[dict[str, Any]]:
    with httpx.Client(base_url=url, timeout=30) as sim:
        codes = sim.get("/_sim/records", params={"limit": count}).json()["uscc"]
        rows = [sim.get(f"/_sim/records/{uscc}").json()["record"] for uscc in codes]
    # A platform always submits an ID number; enterprises whose registry row has none are
    # left out, so both paths verify the same complete submissions.
    return [row for row in rows if row["legal_representative"].get("id_number")]


def _date(value: str | None) -> DateParts | None:
    if not value:
        return None
    day = dt.date.fromisoformat(value)
    return DateParts(day.year, day.month, day.day)


def command(caller: Caller, row: dict[str, Any], now: dt.datetime) -> SubmitVerification:
    rep = row["legal_representative"]
    return SubmitVerification(
        caller=caller.id,
        parent=f"enterprises/{row['uscc']}",
        request_id=str(uuid.uuid4()),
        licence=LicenceDraft(
            uscc=row["uscc"],
            enterprise_name=row["name"],
            legal_rep_name=rep["name"],
            legal_rep_id_number=rep["id_number"],
            registered_address=row.get("address") or "",
            term=TermDraft(_date(row.get("term_start")), _date(row.get("term_end")),
                           row.get("term_end") is None),
        ),
        authorisation=AuthorisationDraft(rep["name"], now - dt.timedelta(days=1), SCOPES, ""),
    )  # fmt: skip


@dataclass
class Subject:
    name: str
    app: Application
    caller: Caller


async def run_round(
    path: Subject, rows: Sequence[dict[str, Any]], concurrency: int
) -> tuple[float, float, dict[str, int]]:
    """Seconds per verification with one in flight, and with `concurrency` in flight."""
    outcomes: dict[str, int] = {}

    async def verify(row: dict[str, Any]) -> None:
        now = path.app.clock.now()
        verification = await path.app.verifications.submit(
            path.caller, command(path.caller, row, now)
        )
        key = verification.decision.outcome.value
        outcomes[key] = outcomes.get(key, 0) + 1

    started = time.perf_counter()
    for row in rows:
        await verify(row)
    sequential = (time.perf_counter() - started) / len(rows)
    queue = list(rows)

    async def worker() -> None:
        while queue:
            await verify(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    concurrent = (time.perf_counter() - started) / len(rows)
    return sequential, concurrent, outcomes


async def open_path(name: str, settings: Settings) -> Subject:
    app = await bootstrap(settings)
    caller, _token = await app.credentials.create_caller(CallerKind.PLATFORM, name, platform=name)
    return Subject(name, app, caller)


async def main(options: argparse.Namespace) -> None:
    configure_logging("warning")  # one line per verification would be measured too
    now = dt.datetime.now(dt.UTC)
    process, url = start_simulator(options.enterprises, now)
    try:
        rows = truth_rows(url, options.enterprises)
        with tempfile.TemporaryDirectory() as folder:
            snapshot_file = Path(folder) / "snapshot.jsonl"
            snapshot_file.write_text(
                "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            )
            keys = PiiKeys.generate()
            snapshot = await open_path(
                "snapshot", Settings(pii_keys=keys, database_url=f"sqlite:///{folder}/a.db")
            )
            await snapshot.app.importer.run(read_registry_file(snapshot_file), now)
            http = await open_path(
                "http",
                Settings(
                    pii_keys=keys,
                    database_url=f"sqlite:///{folder}/b.db",
                    registry_sources=("gov", "provider"),
                    gov_registry_url=url,
                    gov_registry_token=TOKEN,
                    provider_url=url,
                    provider_app_id=APP_ID,
                    provider_secret=SECRET,
                    # The simulator has no limits here: the figure is the path's cost.
                    gov_registry_max_concurrency=64,
                    gov_registry_max_rate=100_000,
                    provider_max_concurrency=64,
                    provider_max_rate=100_000,
                ),
            )
            await report(snapshot, http, rows, options)
            await snapshot.app.close()
            await http.app.close()
    finally:
        process.terminate()
        process.wait(15)


async def report(
    snapshot: Subject, http: Subject, rows: list[dict[str, Any]], options: argparse.Namespace
) -> None:
    # One warm-up round each: connections, caches, the SQLite files.
    for path in (snapshot, http):
        await run_round(path, rows[:20], options.concurrency)
    figures: dict[str, list[tuple[float, float]]] = {"snapshot": [], "http": []}
    outcomes: dict[str, dict[str, int]] = {}
    for _round in range(options.rounds):
        for path in (snapshot, http):
            sequential, concurrent, seen = await run_round(path, rows, options.concurrency)
            figures[path.name].append((sequential, concurrent))
            outcomes[path.name] = seen
    print(f"enterprises: {len(rows)}, rounds: {options.rounds}, python {sys.version.split()[0]}")
    for index, label in ((0, "1 in flight"), (1, f"{options.concurrency} in flight")):
        ratios = [
            h[index] / s[index] for s, h in zip(figures["snapshot"], figures["http"], strict=True)
        ]
        base = statistics.median(f[index] for f in figures["snapshot"]) * 1000
        over = statistics.median(f[index] for f in figures["http"]) * 1000
        print(
            f"{label:>14}: snapshot {base:.2f} ms, http {over:.2f} ms per verification; "
            f"ratio http/snapshot median {statistics.median(ratios):.2f} "
            f"(rounds {min(ratios):.2f}-{max(ratios):.2f})"
        )
    print(f"outcomes (last round, both passes): {outcomes}")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
