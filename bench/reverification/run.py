"""Re-verification batch throughput against the upstream's contracted limit.

    python -m bench.reverification [--count 100000] [--workers 1,2] [--batch-concurrency 32]

The registry simulator serves the government shape with limits and latency of its own (32
in flight, uniform 20-80 ms, a rate above what 32 in flight can reach) and counts every
request beyond them. The service's contracted settings are the simulator's. A batch of
every enterprise runs on PostgreSQL (a database of its own, dropped afterwards) with one
integrity-worker process, then again with two. The baseline is the upstream's own ceiling,
measured in the same run: no caller held to N in flight gets more than N / (mean time in
flight) answers a second, and the simulator reports that mean for what it served. Each run
prints its figures; the output ends with two lines: the limit violations the simulator
counted over all runs, and the lower of the runs' throughput / ceiling ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.eligibility.processes import Child, free_port
from bench.reverification.seed import write_records_file
from service.domain.licence import china_today

BIN = Path(sys.executable).parent
CONCURRENCY = 32
RATE_PER_SECOND = 2_000
BURST = 32
LATENCY = {"distribution": "uniform", "min_ms": 20, "max_ms": 80}
GOV_CLIENT, GOV_TOKEN = "bench", "bench-gov-token"
PG_ADMIN = os.environ.get("INTEGRITY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
STARTUP_SECONDS = 300.0
POLL_SECONDS = 0.1
"""How often an idle worker looks for items (its INTEGRITY_BATCH_POLL_INTERVAL)."""
STATUS_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class RunResult:
    workers: int
    items: int
    done: int
    seconds: float
    served: int
    mean_served_ms: float
    violations: int
    in_flight_max: int
    changed: int
    """Verifications whose decision the run changed (the rest were confirmed)."""
    archived: int
    """Archive fact versions the run wrote (registry records found changed)."""
    worker_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.items / self.seconds

    @property
    def ceiling_per_second(self) -> float:
        """What the limit allows at the latency the simulator served: N / mean."""
        return CONCURRENCY / (self.mean_served_ms / 1000)

    @property
    def ratio(self) -> float:
        return self.per_second / self.ceiling_per_second

    def describe(self) -> str:
        return (
            f"{self.workers} worker(s): {self.done}/{self.items} done in {self.seconds:.1f} s, "
            f"{self.per_second:.0f} items/s; upstream served {self.served} at a mean "
            f"{self.mean_served_ms:.1f} ms, at most {self.in_flight_max} in flight, ceiling {self.ceiling_per_second:.0f}/s; "
            f"ratio {self.ratio:.3f}; {self.changed} decisions changed, {self.archived} archive writes; worker CPU {self.worker_cpu_seconds:.1f} s "
            f"({self.worker_cpu_seconds / max(self.done, 1) * 1e6:.0f} us an item); "
            f"violations {self.violations}"
        )


def _simulator_command(port: int, records_file: Path) -> list[str]:
    limits = {"concurrency": CONCURRENCY, "rate_per_second": RATE_PER_SECOND,
              "burst": BURST}  # fmt: skip
    return [
        str(BIN / "integrity-registry-simulator"),
        *("--port", str(port), "--records", "0", "--records-file", str(records_file)),
        *("--gov-token", f"{GOV_CLIENT}={GOV_TOKEN}"),
        *("--set", f"gov.latency={json.dumps(LATENCY)}"),
        *("--set", f"gov.limits={json.dumps(limits)}"),
    ]


def worker_environment(
    database_url: str, keys_file: Path, simulator_url: str, batch_concurrency: int = CONCURRENCY
) -> dict[str, str]:
    """integrity-worker's settings: the contracted limits are the simulator's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRITY_")}
    env.update(
        INTEGRITY_DATABASE_URL=database_url,
        INTEGRITY_KEYS_FILE=str(keys_file),
        INTEGRITY_LOG_LEVEL="warning",
        INTEGRITY_REGISTRY_SOURCES="gov",
        INTEGRITY_GOV_REGISTRY_URL=simulator_url,
        INTEGRITY_GOV_REGISTRY_TOKEN=GOV_TOKEN,
        INTEGRITY_GOV_REGISTRY_MAX_CONCURRENCY=str(CONCURRENCY),
        INTEGRITY_GOV_REGISTRY_MAX_RATE=str(RATE_PER_SECOND),
        INTEGRITY_GOV_REGISTRY_MAX_BURST=str(BURST),
        INTEGRITY_BATCH_CONCURRENCY=str(batch_concurrency),
        INTEGRITY_BATCH_POLL_INTERVAL=str(POLL_SECONDS),
    )
    return env


def _published(now: dt.datetime) -> dt.datetime:
    """When the records were published: a day ago, in whole seconds as the government
    shape states times (so the archive's copy and the registry's answer are equal)."""
    return (now - dt.timedelta(days=1)).replace(microsecond=0)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _gov_stats(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/_sim/stats")
    response.raise_for_status()
    shapes: dict[str, Any] = response.json()["shapes"]
    return dict(shapes["gov"])


async def _written(app: Any) -> tuple[int, int]:
    """History entries batches wrote, and archive fact versions: what a run changed."""
    from sqlalchemy import func, select

    from service.adapters.storage.tables import archive_facts, verification_history

    history = select(func.count()).where(verification_history.c.trigger == "batch")
    facts = select(func.count()).select_from(archive_facts)
    async with app.engine.connect() as connection:
        return (
            int((await connection.execute(history)).scalar_one()),
            int((await connection.execute(facts)).scalar_one()),
        )


async def _paused_batch(app: Any, usccs: Sequence[str]) -> str:
    """A batch of every enterprise, paused before any worker runs (a worker already running
    could claim and ask about items between the start and the pause, before the timing)."""
    from service.domain import batches

    batch = await app.batches.start(batches.named_in_file("bench", usccs), created_by="bench")
    await app.batches.pause(batch.id)
    await _analyze(app)
    return str(batch.id)


async def _run_batch(
    app: Any, http: httpx.AsyncClient, batch_id: str, workers: list[Child]
) -> tuple[int, float]:
    """Let the workers settle, then time the paused batch from its resumption to its finish."""
    for worker in workers:
        # Past bootstrap and polling: their start-up is not the batch's time.
        if await asyncio.to_thread(worker.wait_idle, STARTUP_SECONDS) is None:
            raise SystemExit(f"{worker.name} did not settle: {worker.log_tail()}")
    (await http.delete("/_sim/stats")).raise_for_status()
    started = dt.datetime.now(dt.UTC)
    await app.batches.resume(batch_id)
    # The batch row alone, once a second: counting 100,000 items by state ten times a
    # second would take the database's CPU from the run it measures. The time is the
    # finish time the last worker recorded (this machine's clock, as `started` is).
    while (finished := await _finish_time(app, batch_id)) is None:
        for worker in workers:
            if worker.popen.poll() is not None:
                raise SystemExit(f"{worker.name} exited: {worker.log_tail()}")
        await asyncio.sleep(STATUS_POLL_SECONDS)
    status = await app.batches.status(batch_id)
    from service.domain.batches import ItemState

    return status.by_state.get(ItemState.DONE, 0), (finished - started).total_seconds()


async def _analyze(app: Any) -> None:
    """Statistics for what was just loaded (the seed, the batch's items). PostgreSQL plans
    by them, and a table bulk-loaded a moment ago has none until autovacuum analyzes it
    (this machine's PostgreSQL runs without autovacuum): the verifications read ahead per
    chunk were then read by a parallel scan of the whole table, 80 ms a chunk at 100,000.
    ANALYZE after a bulk load is what PostgreSQL's documentation asks for."""
    url = app.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def _finish_time(app: Any, batch_id: str) -> dt.datetime | None:
    from sqlalchemy import select

    from service.adapters.storage.tables import reverification_batches

    query = select(reverification_batches.c.finish_time).where(
        reverification_batches.c.id == batch_id
    )
    async with app.engine.connect() as connection:
        finished: dt.datetime | None = (await connection.execute(query)).scalar_one()
    return finished


async def benchmark(
    count: int,
    worker_counts: Sequence[int],
    work: Path,
    echo: Callable[[str], None] = print,
    batch_concurrency: int = CONCURRENCY,
) -> list[RunResult]:
    """Seed, then one batch of every enterprise per entry of worker_counts."""
    from bench.reverification.seed import seed_verifications
    from service.bootstrap import bootstrap
    from service.settings import PiiKeys, Settings

    name = f"integrity_reverify_bench_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    database_url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    keys = PiiKeys.generate()
    keys_file = work / "keys.json"
    keys_file.write_text(json.dumps(keys.to_json()))
    keys_file.chmod(0o600)
    simulator: Child | None = None
    try:
        app = await bootstrap(Settings(pii_keys=keys, database_url=database_url))
        try:
            records_file = work / "registry.jsonl"
            now = app.clock.now()
            rows = write_records_file(
                records_file, count, china_today(now), published=_published(now)
            )
            seeding = time.monotonic()
            usccs = await seed_verifications(app, rows)
            echo(f"seeded {len(usccs)} verifications in {time.monotonic() - seeding:.1f} s")
            port = free_port()
            simulator = Child(
                "simulator", _simulator_command(port, records_file), work / "simulator.log"
            )
            await asyncio.to_thread(
                simulator.wait_ready,
                lambda: (
                    simulator is not None and simulator.log_contains("registry_simulator_ready")
                ),
                STARTUP_SECONDS,
            )
            url = f"http://127.0.0.1:{port}"
            env = worker_environment(database_url, keys_file, url, batch_concurrency)
            results = []
            written_before = await _written(app)
            async with httpx.AsyncClient(base_url=url, timeout=30.0) as http:
                for worker_count in worker_counts:
                    batch_id = await _paused_batch(app, usccs)
                    workers = [
                        Child(
                            f"worker-{worker_count}-{n}",
                            [str(BIN / "integrity-worker")],
                            work / f"worker-{worker_count}-{n}.log",
                            env=env,
                        )
                        for n in range(worker_count)
                    ]
                    echo(f"worker pids: {' '.join(str(w.pid) for w in workers)}")
                    try:
                        cpu_before = [w.cpu_seconds() for w in workers]
                        done, seconds = await _run_batch(app, http, batch_id, workers)
                        cpu = sum(w.cpu_seconds() for w in workers) - sum(cpu_before)
                    finally:
                        for worker in workers:
                            worker.stop()
                    gov = await _gov_stats(http)
                    written = await _written(app)
                    changed, archived = (
                        a - b for a, b in zip(written, written_before, strict=True)
                    )
                    written_before = written
                    result = RunResult(
                        workers=worker_count,
                        items=len(usccs),
                        done=done,
                        seconds=seconds,
                        served=int(gov["served"]),
                        mean_served_ms=float(gov["mean_served_ms"]),
                        violations=int(gov["limit_violations"]),
                        in_flight_max=int(gov["in_flight_max"]),
                        changed=changed,
                        archived=archived,
                        worker_cpu_seconds=cpu,
                    )
                    echo(result.describe())
                    results.append(result)
            return results
        finally:
            await app.close()
    finally:
        if simulator is not None:
            simulator.stop()
        # With the key store the service made beside it (its default, `<name>_keys`).
        for database in (name, f"{name}_keys"):
            await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000, help="enterprises in the batch")
    parser.add_argument(
        "--workers", default="1,2", help="worker processes per run, comma-separated"
    )
    parser.add_argument(
        "--batch-concurrency",
        type=int,
        default=CONCURRENCY,
        help="each worker's INTEGRITY_BATCH_CONCURRENCY (default: the contract's, 32)",
    )
    args = parser.parse_args()
    worker_counts = [int(part) for part in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="reverification-bench-") as directory:
        results = asyncio.run(
            benchmark(
                args.count,
                worker_counts,
                Path(directory),
                batch_concurrency=args.batch_concurrency,
            )
        )
    print(f"limit_violations: {sum(r.violations for r in results)}")
    print(f"ratio_to_limit: {min(r.ratio for r in results):.3f}")


if __name__ == "__main__":
    main()
