"""integrity-worker in its own process, on the test's clock, read through its log lines."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKER = str(Path(sys.executable).parent / "integrity-worker")
TIMEOUT = 120.0


@dataclass
class WorkerProcess:
    process: asyncio.subprocess.Process
    events: list[dict[str, Any]] = field(default_factory=list)
    # Set whenever the worker logs an event (shared by the workers of one test).
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    def done_items(self) -> list[int]:
        return [e["item"] for e in self.events if e.get("event") == "batch_item_done"]

    async def _next_event(self) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT)
            if not raw:
                return None
            line = raw.decode().strip()
            if line.startswith("{"):
                event: dict[str, Any] = json.loads(line)
                self.events.append(event)
                self.progress.set()
                return event

    async def wait_for(self, name: str, count: int = 1) -> None:
        """Until the worker has logged `count` events called `name`."""
        while sum(1 for e in self.events if e.get("event") == name) < count:
            if await self._next_event() is None:
                raise AssertionError(f"worker exited before {count} {name}: {self.events}")

    async def finish(self) -> int:
        """Read its log to the end and wait for it to exit; its exit code."""
        while await self._next_event() is not None:
            pass
        return await asyncio.wait_for(self.process.wait(), TIMEOUT)


async def until_done(workers: list[WorkerProcess], count: int) -> None:
    """Until the workers, reading their logs meanwhile (finish()), have done `count` items."""
    progress = asyncio.Event()
    for worker in workers:
        worker.progress = progress
    async with asyncio.timeout(TIMEOUT):
        while True:
            progress.clear()
            if sum(len(w.done_items()) for w in workers) >= count:
                return
            await progress.wait()


async def start_worker(env: dict[str, str], clock_start: dt.datetime, *args: str) -> WorkerProcess:
    """Started and past bootstrap (it has logged worker_started)."""
    process = await asyncio.create_subprocess_exec(
        WORKER,
        "--test-clock-start",
        clock_start.isoformat(),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    worker = WorkerProcess(process)
    await worker.wait_for("worker_started")
    return worker
