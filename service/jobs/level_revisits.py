"""Recomputing levels when time alone changes them: listings expire, licences end, bands age.

Every level records when its inputs next change meaning (its revisit time, kept in the
database with it). This loop claims the levels whose time has come, recomputes them
through the ordinary level path (history, change log, cache invalidation on every
replica, exactly as after a fact change) and sleeps until the next revisit time, waking
at least every `interval` seconds to notice times written by other processes. Every
replica may run it: each due level is claimed by one of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from service.app.ports import Clock
from service.jobs.due_work import BUSY_RETRY_SECONDS, CLAIM_BATCH, DueWorkScheduler

__all__ = ["BUSY_RETRY_SECONDS", "DueLevels", "LevelRevisitScheduler"]


class DueLevels(Protocol):
    async def revisit_due(self, limit: int) -> int: ...

    async def next_revisit_time(self) -> dt.datetime | None: ...


class _Revisits:
    def __init__(self, levels: DueLevels) -> None:
        self._levels = levels

    async def run_due(self, limit: int) -> int:
        return await self._levels.revisit_due(limit)

    async def next_due_time(self) -> dt.datetime | None:
        return await self._levels.next_revisit_time()


class LevelRevisitScheduler(DueWorkScheduler):
    def __init__(
        self, levels: DueLevels, clock: Clock, *, interval: float, batch: int = CLAIM_BATCH
    ) -> None:
        super().__init__(
            _Revisits(levels),
            clock,
            interval=interval,
            batch=batch,
            name="level-revisits",
            done_event="levels_revisited",
            failed_event="level_revisit_failed",
        )

    @property
    def revisited(self) -> int:
        """Enterprises the running loop has recomputed since it started."""
        return self.done

    async def wait_revisited(self, at_least: int) -> None:
        """Until the running loop has recomputed at least this many enterprises."""
        await self.wait_done(at_least)
