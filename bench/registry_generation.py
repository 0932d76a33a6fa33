"""How fast synthetic registry data is made and imported.

    .venv/bin/python bench/registry_generation.py [--count 100000] [--rounds 3]

Generation is timed against a baseline measured in the same run: serialising the same
records to JSON Lines (work any writer of such a file must do). The import is timed into
a fresh SQLite file, rows per second. Prints medians over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from service.demo.synthetic import generate_registry_records, write_jsonl


def _generate(count: int) -> tuple[float, list[dict[str, object]]]:
    started = time.perf_counter()
    records = list(generate_registry_records(count, seed=1, as_of=dt.date(2026, 11, 23)))
    return time.perf_counter() - started, records


def _serialise(records: list[dict[str, object]]) -> float:
    started = time.perf_counter()
    write_jsonl(records, io.StringIO())
    return time.perf_counter() - started


async def _import(path: Path, database: Path) -> float:
    from service.adapters.registry_files import read_registry_file
    from service.bootstrap import bootstrap
    from service.settings import PiiKeys, Settings

    app = await bootstrap(
        Settings(pii_keys=PiiKeys.generate(), database_url=f"sqlite:///{database}")
    )
    started = time.perf_counter()
    report = await app.importer.run(read_registry_file(path), dt.datetime.now(dt.UTC))
    elapsed = time.perf_counter() - started
    await app.close()
    assert report.inserted > 0 and not report.rejected
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--import-count", type=int, default=20_000)
    args = parser.parse_args()
    generation, serialisation, ratios, imports = [], [], [], []
    for _ in range(args.rounds):
        seconds, records = _generate(args.count)
        baseline = _serialise(records)
        generation.append(seconds)
        serialisation.append(baseline)
        ratios.append(seconds / baseline)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "registry.jsonl"
            with path.open("w", encoding="utf-8") as stream:
                for record in records[: args.import_count]:
                    stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            imports.append(asyncio.run(_import(path, Path(folder) / "bench.db")))
    print(f"records: {args.count}, rounds: {args.rounds}, python {sys.version.split()[0]}")
    print(f"generate:   median {statistics.median(generation):.2f}s")
    print(f"serialise:  median {statistics.median(serialisation):.2f}s (baseline)")
    print(f"ratio generate/serialise: median {statistics.median(ratios):.2f}")
    median_import = statistics.median(imports)
    rate = args.import_count / median_import
    print(
        f"import into SQLite: {args.import_count} rows, median {median_import:.2f}s ({rate:,.0f}/s)"
    )


if __name__ == "__main__":
    main()
