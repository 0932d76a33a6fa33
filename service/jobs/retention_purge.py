"""The retention purge at intervals, beside the server.

Replicas may all run it: purging an account is safe to repeat, and one that finds nothing
due does nothing. A failed round (the database away a while) is logged and tried again
next round.
"""

from __future__ import annotations

import asyncio

import structlog

from service.app.background import BackgroundTask
from service.app.retention import RetentionService

log = structlog.get_logger("integrity.jobs")


class RetentionPurger:
    def __init__(self, retention: RetentionService, *, interval: float) -> None:
        self._retention = retention
        self._interval = interval
        self._task = BackgroundTask("retention-purge")

    async def start(self) -> None:
        if not self._task.running:
            self._task.start(self._run())

    async def close(self) -> None:
        await self._task.close()

    async def _run(self) -> None:
        while True:
            try:
                purged = await self._retention.purge_due()
                if purged:
                    log.info("retention_purge_round", accounts=len(purged))
            except Exception as error:
                log.warning("retention_purge_failed", error_type=type(error).__name__)
            await asyncio.sleep(self._interval)
