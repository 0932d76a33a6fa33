"""Re-verification batches: start one from a selection, steer it, and read how it went.

The items are worked by the workers (service/jobs/reverification.py), in any process that
reaches the database; everything here is plain reads and writes, so ops can start, pause or
read a batch from any machine.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import AsyncIterator

from service.app.ports import BatchSelections, BatchStore, Clock, RegistryChangeFeed
from service.domain.batches import (
    Batch,
    BatchReport,
    BatchState,
    BatchStatus,
    ChangeSource,
    ItemResult,
    ItemState,
    Selection,
    SelectionKind,
    expiry_window,
)
from service.domain.errors import FailedPrecondition, NotFound
from service.domain.licence import china_today


class BatchService:
    def __init__(
        self,
        store: BatchStore,
        selections: BatchSelections,
        clock: Clock,
        change_feed: RegistryChangeFeed | None = None,
    ) -> None:
        self._store = store
        self._selections = selections
        self._clock = clock
        self._change_feed = change_feed

    async def start(self, selection: Selection, *, created_by: str) -> Batch:
        """Create the batch with every enterprise the selection covers, queued, at once."""
        usccs = sorted(await self.enterprises(selection))
        batch = Batch(
            id=str(uuid.uuid4()),
            selection=selection.describe(),
            state=BatchState.RUNNING if usccs else BatchState.FINISHED,
            created_by=created_by,
            create_time=self._clock.now(),
            finish_time=None if usccs else self._clock.now(),
            item_count=len(usccs),
        )
        await self._store.create(batch, usccs)
        return batch

    async def enterprises(self, selection: Selection) -> set[str]:
        if selection.kind is SelectionKind.FILE:
            return set(selection.usccs)
        verified = await self._selections.verified_enterprises()
        return verified & await self._selected(selection)

    async def _selected(self, selection: Selection) -> set[str]:
        now = self._clock.now()
        match selection.kind:
            case SelectionKind.EXPIRING_WITHIN:
                assert selection.days is not None
                first, last = expiry_window(china_today(now), selection.days)
                return await self._selections.licences_ending(first, last)
            case SelectionKind.NOT_VERIFIED_WITHIN:
                assert selection.days is not None
                cutoff = now - dt.timedelta(days=selection.days)
                return await self._selections.newest_verification_before(cutoff)
            case SelectionKind.CHANGED_SINCE:
                assert selection.since is not None
                if selection.source is ChangeSource.FEED:
                    return await self._from_feed(selection.since)
                return await self._selections.registry_written_since(selection.since)
            case SelectionKind.JUDICIAL_SINCE:
                assert selection.since is not None
                return await self._selections.judicial_recorded_since(selection.since)
            case SelectionKind.FILE:
                return set(selection.usccs)

    async def _from_feed(self, since: dt.datetime) -> set[str]:
        if self._change_feed is None:
            raise FailedPrecondition(
                "no registry change feed is configured (INTEGRITY_REGISTRY_CHANGES_URL)",
                reason="CHANGE_FEED_NOT_CONFIGURED",
            )
        return {uscc async for uscc in self._change_feed.changed_since(since)}

    async def _existing(self, batch_id: str) -> Batch:
        batch = await self._store.get(batch_id)
        if batch is None:
            raise NotFound(f"no batch {batch_id}", reason="BATCH_NOT_FOUND")
        return batch

    async def _move(self, batch_id: str, allowed: tuple[BatchState, ...], to: BatchState) -> Batch:
        if not await self._store.set_state(batch_id, allowed, to, self._clock.now()):
            batch = await self._existing(batch_id)
            if batch.state is not to:
                raise FailedPrecondition(
                    f"batch {batch_id} is {batch.state.value}: it cannot become {to.value}",
                    reason="BATCH_STATE_CONFLICT",
                )
        batch = await self._existing(batch_id)
        if to is BatchState.RUNNING:
            # A batch paused after its last item finished has nothing left to hand out.
            await self._store.finish_drained([batch_id], self._clock.now())
            batch = await self._existing(batch_id)
        return batch

    async def pause(self, batch_id: str) -> Batch:
        """Workers hand out no more of its items; those in flight finish."""
        return await self._move(batch_id, (BatchState.RUNNING,), BatchState.PAUSED)

    async def resume(self, batch_id: str) -> Batch:
        return await self._move(batch_id, (BatchState.PAUSED,), BatchState.RUNNING)

    async def cancel(self, batch_id: str) -> Batch:
        """Its queued items are cancelled; items in flight finish and are recorded."""
        return await self._move(
            batch_id, (BatchState.RUNNING, BatchState.PAUSED), BatchState.CANCELLED
        )

    async def status(self, batch_id: str) -> BatchStatus:
        """Read as it stands; a batch still running with no open item (its finisher died
        after recording the last one) is finished first, so no reader ever sees it run on."""
        status = await self._store.status(batch_id)
        if status is None:
            raise NotFound(f"no batch {batch_id}", reason="BATCH_NOT_FOUND")
        if status.drained:
            await self._store.finish_drained([batch_id], self._clock.now())
            return await self.status(batch_id)
        return status

    async def recent(self, limit: int = 20) -> list[Batch]:
        return list(await self._store.list_recent(limit))

    def results(self, batch_id: str) -> AsyncIterator[ItemResult]:
        return self._store.results(batch_id)

    async def report(self, batch_id: str) -> BatchReport:
        status = await self.status(batch_id)
        by_reason: Counter[str] = Counter()
        failed: list[ItemResult] = []
        unavailable: list[ItemResult] = []
        changed: list[ItemResult] = []
        async for result in self._store.results(batch_id):
            if result.state is ItemState.FAILED:
                failed.append(result)
                continue
            if result.state is ItemState.UNAVAILABLE:
                unavailable.append(result)
                continue
            by_reason.update(result.reasons)
            if result.changed:
                changed.append(result)
        return BatchReport(
            status,
            dict(sorted(by_reason.items())),
            tuple(changed),
            tuple(failed),
            tuple(unavailable),
        )
