"""Vary the USCC h2load sends, though h2load sends one body file for every request.

    python -m bench.eligibility.rotator BODY OFFSET POOL [--start 0] [--interval-us 200]

h2load reads the `-d` file again (pread at offset 0) for each request it sends, and
fixes only the file's length at start-up. Every USCC has 18 characters, so rewriting the
18 bytes at OFFSET in place keeps the length and changes what the next requests carry.
This process walks POOL (one USCC a line) from --start and rewrites the body every
interval until SIGTERM or --max-seconds, then prints how many rewrites it made (the
harness starts the next walk there, so rounds do not ask about the same enterprises). bench.eligibility checks the effect before relying on it (see
rotation_probe.py): a later h2load that cached the body would show up there.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from bench.eligibility.messages import USCC_LENGTH


def load_pool(path: Path) -> list[bytes]:
    pool = [line.strip().encode("ascii") for line in path.read_text("ascii").splitlines()]
    pool = [uscc for uscc in pool if uscc]
    if not pool or any(len(uscc) != USCC_LENGTH for uscc in pool):
        raise SystemExit(f"{path}: every line must be one 18-character USCC")
    return pool


def rotate(
    body: Path, offset: int, pool: list[bytes], start: int, interval: float, max_seconds: float
) -> int:
    """Rewrite the USCC in place until stopped; returns how many rewrites were made."""
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = time.monotonic() + max_seconds
    descriptor = os.open(body, os.O_WRONLY)
    writes = 0
    try:
        while not stopping and time.monotonic() < deadline:
            os.pwrite(descriptor, pool[(start + writes) % len(pool)], offset)
            writes += 1
            time.sleep(interval)
    finally:
        os.close(descriptor)
    return writes


def command(
    body: Path, offset: int, pool: Path, start: int, interval_us: float, max_seconds: float
) -> list[str]:
    """How the harness starts this module (before pinning)."""
    return [
        sys.executable, "-m", "bench.eligibility.rotator", str(body), str(offset), str(pool),
        "--start", str(start), "--interval-us", str(interval_us),
        "--max-seconds", str(max_seconds),
    ]  # fmt: skip


def rewrites_reported(log: str) -> int:
    """The count a finished rotator printed (0 if it printed none)."""
    for line in reversed(log.splitlines()):
        if line.startswith("rotator: ") and line.endswith(" rewrites"):
            return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("body", type=Path)
    parser.add_argument("offset", type=int)
    parser.add_argument("pool", type=Path)
    parser.add_argument("--start", type=int, default=0, help="index in POOL to begin at")
    parser.add_argument("--interval-us", type=float, default=200.0)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    size = args.body.stat().st_size
    if not 0 < args.offset <= size - USCC_LENGTH:
        raise SystemExit(f"offset {args.offset} is outside the {size}-byte body")
    pool = load_pool(args.pool)
    print(f"rotator: started, {len(pool)} USCCs", flush=True)
    writes = rotate(
        args.body, args.offset, pool, args.start, args.interval_us / 1e6, args.max_seconds
    )
    print(f"rotator: {writes} rewrites", flush=True)


if __name__ == "__main__":
    main()
