"""Reading re-verification batches: one batch, the newest, their states, an item count by
state and outcome, and the items whose re-check ended, paged by id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection
from service.adapters.storage.tables import batch_items, reverification_batches
from service.domain.batches import (
    NO_VERIFICATION,
    REPORTED_ITEM_STATES,
    Batch,
    BatchState,
    BatchStatus,
    ItemResult,
    ItemState,
)

_RESULT_PAGE = 1_000


def batch_of(row: Row[Any]) -> Batch:
    return Batch(
        id=row.id,
        selection=row.selection,
        state=BatchState(row.state),
        created_by=row.created_by,
        create_time=row.create_time,
        finish_time=row.finish_time,
        item_count=row.item_count,
    )


class SqlBatchReads:
    _engine: AsyncEngine

    async def get(self, batch_id: str) -> Batch | None:
        async with read_connection(self._engine) as connection:
            row = (
                await connection.execute(
                    select(reverification_batches).where(reverification_batches.c.id == batch_id)
                )
            ).first()
        return batch_of(row) if row else None

    async def list_recent(self, limit: int) -> Sequence[Batch]:
        query = (
            select(reverification_batches)
            .order_by(reverification_batches.c.create_time.desc(), reverification_batches.c.id)
            .limit(limit)
        )
        async with read_connection(self._engine) as connection:
            return [batch_of(row) for row in await connection.execute(query)]

    async def states(self, batch_ids: Sequence[str]) -> dict[str, BatchState]:
        if not batch_ids:
            return {}
        async with read_connection(self._engine) as connection:
            rows = await connection.execute(
                select(reverification_batches.c.id, reverification_batches.c.state).where(
                    reverification_batches.c.id.in_(sorted(set(batch_ids)))
                )
            )
            return {row.id: BatchState(row.state) for row in rows}

    async def status(self, batch_id: str) -> BatchStatus | None:
        async with read_connection(self._engine) as connection:
            row = (
                await connection.execute(
                    select(reverification_batches).where(reverification_batches.c.id == batch_id)
                )
            ).first()
            if row is None:
                return None
            counts = await connection.execute(
                select(batch_items.c.state, batch_items.c.outcome_after, func.count())
                .where(batch_items.c.batch_id == batch_id)
                .group_by(batch_items.c.state, batch_items.c.outcome_after)
            )
            next_attempt_time = (
                await connection.execute(
                    select(func.min(batch_items.c.next_attempt_time))
                    .where(batch_items.c.batch_id == batch_id)
                    .where(batch_items.c.state == ItemState.WAITING.value)
                )
            ).scalar()
            by_state: dict[ItemState, int] = {}
            by_outcome: dict[str, int] = {}
            for state, outcome, count in counts:
                item_state = ItemState(state)
                by_state[item_state] = by_state.get(item_state, 0) + count
                if item_state is ItemState.DONE:
                    label = outcome or NO_VERIFICATION
                    by_outcome[label] = by_outcome.get(label, 0) + count
        return BatchStatus(
            batch_of(row), by_state, dict(sorted(by_outcome.items())), next_attempt_time
        )

    async def results(self, batch_id: str) -> AsyncIterator[ItemResult]:
        # Page by id so a batch of any size is read in bounded memory and short reads.
        after = 0
        while True:
            query = (
                select(batch_items)
                .where(batch_items.c.batch_id == batch_id)
                .where(batch_items.c.id > after)
                .where(batch_items.c.state.in_([state.value for state in REPORTED_ITEM_STATES]))
                .order_by(batch_items.c.id)
                .limit(_RESULT_PAGE)
            )
            async with read_connection(self._engine) as connection:
                rows = (await connection.execute(query)).all()
            for row in rows:
                yield ItemResult(
                    uscc=row.uscc,
                    state=ItemState(row.state),
                    outcome_before=row.outcome_before,
                    outcome_after=row.outcome_after,
                    reasons=tuple(row.reasons or ()),
                    level_class_before=row.level_class_before,
                    level_class_after=row.level_class_after,
                    error=row.error,
                    attempts=row.attempts,
                    finish_time=row.finish_time,
                    unanswered=row.unanswered,
                )
            if len(rows) < _RESULT_PAGE:
                return
            after = rows[-1].id
