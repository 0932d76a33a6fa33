"""Publishing the disclosure log's checkpoints at intervals, beside the server.

Every replica with the log's key may run it: publishers take turns through the tree's
lock, and one that finds nothing appended since the last checkpoint signs nothing. A
publisher that finds the stored tree is no longer the one last signed stops signing and
says so at error level, every round, until ops have looked (`integrity-ops ledger
verify`); reads and their ledger entries go on meanwhile.
"""

from __future__ import annotations

import asyncio

import structlog

from service.app.background import BackgroundTask
from service.app.ledger_log import DisclosureLog
from service.app.ports import LedgerTampered

log = structlog.get_logger("integrity.jobs")


class CheckpointPublisher:
    def __init__(self, ledger_log: DisclosureLog, *, interval: float) -> None:
        self._log = ledger_log
        self._interval = interval
        self._task = BackgroundTask("ledger-checkpoints")
        self.published = 0
        """Rounds the running loop has completed since it started."""
        self._round = asyncio.Event()

    async def start(self) -> None:
        if self._log.signing and not self._task.running:
            self._task.start(self._run())

    async def close(self) -> None:
        await self._task.close()

    async def wait_round(self) -> None:
        """Until the running loop completes its next round."""
        self._round.clear()
        await self._round.wait()

    async def _run(self) -> None:
        while True:
            try:
                published = await self._log.publish()
                log.debug("ledger_checkpoint_published", tree_size=published.checkpoint.size)
            except LedgerTampered as problem:
                log.error("ledger_checkpoint_refused", problem=str(problem))
            except Exception as error:  # the database away for a while: try next round
                if getattr(error, "reason", None) != "LEDGER_EMPTY":
                    log.warning("ledger_checkpoint_failed", error_type=type(error).__name__)
            self.published += 1
            self._round.set()
            await asyncio.sleep(self._interval)
