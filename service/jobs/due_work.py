"""A loop that does work when its time comes: work written to the database with a due time.

Each pass claims what is due, a batch at a time, through a use case that is safe to run in
every replica at once (each item is claimed by one). The loop then sleeps until the next
due time, waking at least every `interval` seconds to notice times written by other
processes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol

import structlog

from service.app.background import BackgroundTask
from service.app.ports import Clock

log = structlog.get_logger("integrity.jobs")

CLAIM_BATCH = 100
# When due work remains that another replica holds, look again soon rather than at once.
BUSY_RETRY_SECONDS = 0.1


class DueWork(Protocol):
    async def run_due(self, limit: int) -> int:
        """Do up to `limit` items whose time has come; the number claimed."""
        ...

    async def next_due_time(self) -> dt.datetime | None: ...


class DueWorkScheduler:
    def __init__(
        self,
        work: DueWork,
        clock: Clock,
        *,
        interval: float,
        batch: int,
        name: str,
        done_event: str,
        failed_event: str,
    ) -> None:
        self._work = work
        self._clock = clock
        self._interval = interval
        self._batch = batch
        self._done_event = done_event
        self._failed_event = failed_event
        self._task = BackgroundTask(name)
        self._progress = asyncio.Condition()
        self.done = 0
        """Items the running loop has done since it started."""

    async def run_once(self) -> int:
        """Do every item due now, a batch at a time; how many."""
        total = 0
        while True:
            claimed = await self._work.run_due(self._batch)
            total += claimed
            if claimed < self._batch:
                return total

    async def wait_done(self, at_least: int) -> None:
        """Until the running loop has done at least this many items."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.done >= at_least)

    async def start(self) -> None:
        if not self._task.running:
            self._task.start(self._run())

    async def close(self) -> None:
        await self._task.close()

    async def _run(self) -> None:
        while True:
            try:
                done = await self.run_once()
                if done:
                    log.info(self._done_event, items=done)
                    async with self._progress:
                        self.done += done
                        self._progress.notify_all()
                delay = await self._seconds_to_next()
            except Exception as error:
                # Claimed items fall due again when their claim lapses.
                log.warning(self._failed_event, error_type=type(error).__name__)
                delay = self._interval
            await asyncio.sleep(delay)

    async def _seconds_to_next(self) -> float:
        due = await self._work.next_due_time()
        if due is None:
            return self._interval
        seconds = (due - self._clock.now()).total_seconds()
        if seconds <= 0:
            # Still due after a pass: another replica is claiming it right now.
            return min(self._interval, BUSY_RETRY_SECONDS)
        return min(self._interval, seconds)
