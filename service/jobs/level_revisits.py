"""Recomputing levels when time alone changes them: listings expire, licences end, bands age.

Every level records when its inputs next change meaning (its revisit time, kept in the
database with it). This loop claims the levels whose time has come, recomputes them
through the ordinary level path (history, change log, cache invalidation on every
replica, exactly as after a fact change) and sleeps until the next revisit time, waking
at least every `interval` seconds to notice times written by other processes. Every
replica may run it: each due level is claimed by one of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol

import structlog

from service.app.background import BackgroundTask
from service.app.ports import Clock

log = structlog.get_logger("integrity.revisits")

CLAIM_BATCH = 100
# When due levels remain that another replica holds, look again soon rather than at once.
BUSY_RETRY_SECONDS = 0.1


class DueLevels(Protocol):
    async def revisit_due(self, limit: int) -> int: ...

    async def next_revisit_time(self) -> dt.datetime | None: ...


class LevelRevisitScheduler:
    def __init__(
        self, levels: DueLevels, clock: Clock, *, interval: float, batch: int = CLAIM_BATCH
    ) -> None:
        self._levels = levels
        self._clock = clock
        self._interval = interval
        self._batch = batch
        self._task = BackgroundTask("level-revisits")
        self._progress = asyncio.Condition()
        self.revisited = 0
        """Enterprises the running loop has recomputed since it started."""

    async def run_once(self) -> int:
        """Recompute every level due now, a batch at a time; how many enterprises."""
        total = 0
        while True:
            claimed = await self._levels.revisit_due(self._batch)
            total += claimed
            if claimed < self._batch:
                return total

    async def wait_revisited(self, at_least: int) -> None:
        """Until the running loop has recomputed at least this many enterprises."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.revisited >= at_least)

    async def start(self) -> None:
        if not self._task.running:
            self._task.start(self._run())

    async def close(self) -> None:
        await self._task.close()

    async def _run(self) -> None:
        while True:
            try:
                revisited = await self.run_once()
                if revisited:
                    log.info("levels_revisited", enterprises=revisited)
                    async with self._progress:
                        self.revisited += revisited
                        self._progress.notify_all()
                delay = await self._seconds_to_next()
            except Exception as error:
                # Claimed enterprises fall due again when their claim lapses.
                log.warning("level_revisit_failed", error_type=type(error).__name__)
                delay = self._interval
            await asyncio.sleep(delay)

    async def _seconds_to_next(self) -> float:
        due = await self._levels.next_revisit_time()
        if due is None:
            return self._interval
        seconds = (due - self._clock.now()).total_seconds()
        if seconds <= 0:
            # Still due after a pass: another replica is claiming it right now.
            return min(self._interval, BUSY_RETRY_SECONDS)
        return min(self._interval, seconds)
