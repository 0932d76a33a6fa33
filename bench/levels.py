"""How fast integrity levels are worked out: per enterprise, and a full recompute.

    .venv/bin/python bench/levels.py [--enterprises 100000] [--rounds 3]

Per enterprise: compute_level on real archives, against a baseline measured in the same
run (assembling the same archives from their facts, which every computation needs first).
Full recompute: every enterprise of a generated registry under a new scorecard version,
so every level is computed and saved, on SQLite (and PostgreSQL with --postgresql URL).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import json
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from service.adapters.registry_files import read_registry_file
from service.app.levels import canonical_inputs
from service.bootstrap import Application, bootstrap
from service.demo.synthetic import generate_registry_records
from service.domain.archive import assemble_archive
from service.domain.scorecard import compute_level
from service.settings import PiiKeys, Settings


def _scorecard(version: str) -> dict[str, Any]:
    packaged = resources.files("service.config.scorecards") / "2026.1.json"
    document: dict[str, Any] = json.loads(packaged.read_text(encoding="utf-8"))
    changed = copy.deepcopy(document)
    changed["version"] = version
    return changed


async def _prepare(count: int, url: str, folder: Path) -> Application:
    path = folder / "registry.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        for record in generate_registry_records(count, seed=3, as_of=dt.date(2026, 11, 23)):
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    app = await bootstrap(Settings(pii_keys=PiiKeys.generate(), database_url=url))
    await app.importer.run(read_registry_file(path), dt.datetime.now(dt.UTC))
    return app


async def _per_enterprise(app: Application, sample: int, rounds: int) -> tuple[float, float]:
    batches = []
    async for batch in app.levels._store.enterprises(sample):
        batches.append(batch)
        break
    inputs = await app.levels._store.load_inputs(batches[0])
    card, _shadow = await app.levels.scorecards()
    now = dt.datetime.now(dt.UTC)
    baseline, measured = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for uscc, (facts, _verification) in inputs.items():
            assemble_archive(uscc, facts, now)
        baseline.append((time.perf_counter() - started) / len(inputs))
        started = time.perf_counter()
        for uscc, (facts, verification) in inputs.items():
            archive = assemble_archive(uscc, facts, now)
            compute_level(
                card, uscc, archive, verification, canonical_inputs(facts, verification), now
            )
        measured.append((time.perf_counter() - started) / len(inputs))
    return statistics.median(baseline), statistics.median(measured)


async def run(count: int, rounds: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = url or f"sqlite:///{Path(folder) / 'levels.db'}"
        started = time.perf_counter()
        app = await _prepare(count, database, Path(folder))
        print(
            f"prepared {count} enterprises on {app.engine.dialect.name} in {time.perf_counter() - started:.1f}s"
        )
        try:
            assemble, level = await _per_enterprise(app, min(count, 2000), rounds)
            print(
                f"per enterprise: assemble {assemble * 1e6:.0f} us (baseline), assemble + level {level * 1e6:.0f} us, ratio {level / assemble:.2f}"
            )
            timings = []
            for index in range(rounds):
                await app.levels.load_scorecard(_scorecard(f"bench.{index}"), shadow=False)
                started = time.perf_counter()
                total = await app.levels.recompute_all()
                timings.append(time.perf_counter() - started)
                print(
                    f"full recompute round {index + 1}: {total} enterprises in {timings[-1]:.1f}s ({total / timings[-1]:,.0f}/s)"
                )
            print(
                f"full recompute median: {statistics.median(timings):.1f}s for {count} enterprises"
            )
        finally:
            await app.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", help="e.g. postgresql://postgres@127.0.0.1:5432/bench (emptied first)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.enterprises, args.rounds, args.database_url))


if __name__ == "__main__":
    main()
