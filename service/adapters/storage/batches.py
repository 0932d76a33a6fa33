"""Re-verification batches and their items in the database, claimed under leases.

Claiming is one UPDATE over a sub-select: on PostgreSQL the sub-select locks its rows FOR
UPDATE SKIP LOCKED, so workers on several machines take disjoint items without waiting on
each other; on SQLite the write transaction (BEGIN IMMEDIATE) already serialises claimers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import (
    batch_items,
    enterprise_rechecks,
    reverification_batches,
    verifications,
)
from service.app.ports import Confirmation, RecheckResult
from service.domain.batches import (
    MAX_ATTEMPTS,
    NO_VERIFICATION,
    OPEN_ITEM_STATES,
    Batch,
    BatchState,
    BatchStatus,
    ClaimedItem,
    ItemResult,
    ItemState,
)

# Rows per INSERT statement when a batch is created: large enough that 100,000 items take a
# few dozen round trips, small enough to stay far below either driver's parameter limits.
INSERT_CHUNK = 5_000
_RESULT_PAGE = 1_000
LEASE_LAPSED = "LeaseLapsed"
"""The error of an item whose every attempt ended with its worker gone."""


def _lapsed(now: dt.datetime) -> ColumnElement[bool]:
    return and_(
        batch_items.c.state == ItemState.LEASED.value,
        batch_items.c.lease_expiry < now,
    )


def _finish_drained(batch_ids: Sequence[str], now: dt.datetime) -> Any:
    """Running batches among these with no queued or leased item left become finished."""
    still_open = (
        select(batch_items.c.id)
        .where(batch_items.c.batch_id == reverification_batches.c.id)
        .where(batch_items.c.state.in_([state.value for state in OPEN_ITEM_STATES]))
        .exists()
    )
    return (
        update(reverification_batches)
        .where(reverification_batches.c.id.in_(sorted(set(batch_ids))))
        .where(reverification_batches.c.state == BatchState.RUNNING.value)
        .where(~still_open)
        .values(state=BatchState.FINISHED.value, finish_time=now)
    )


def _batch(row: Row[Any]) -> Batch:
    return Batch(
        id=row.id,
        selection=row.selection,
        state=BatchState(row.state),
        created_by=row.created_by,
        create_time=row.create_time,
        finish_time=row.finish_time,
        item_count=row.item_count,
    )


def _outcome(value: Any) -> str | None:
    return None if value is None else str(value)


async def _standing_decisions(
    connection: AsyncConnection, verification_ids: Sequence[str]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each verification's outcome and reason codes, held until the transaction ends (in id
    order, as the re-checks lock them, so the two queue rather than deadlock)."""
    if not verification_ids:
        return {}
    query = (
        select(verifications.c.id, verifications.c.outcome, verifications.c.reasons)
        .where(verifications.c.id.in_(sorted(set(verification_ids))))
        .order_by(verifications.c.id)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return {
        row.id: (row.outcome, tuple(reason["code"] for reason in row.reasons))
        for row in await connection.execute(query)
    }


async def _record_keys(
    connection: AsyncConnection,
    confirmed: Sequence[tuple[ClaimedItem, Confirmation]],
    now: dt.datetime,
) -> set[tuple[str, str]]:
    """The keys recorded now; one recorded before (by a concurrent holder of the same item)
    is left as it was and not returned."""
    if not confirmed:
        return set()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(enterprise_rechecks)
        .values(
            [
                {
                    "uscc": c.uscc,
                    "idempotency_key": c.key,
                    "trigger": c.trigger,
                    "result": dict(c.document),
                    "recheck_time": now,
                }
                for _, c in confirmed
            ]
        )
        .on_conflict_do_nothing()
        .returning(enterprise_rechecks.c.uscc, enterprise_rechecks.c.idempotency_key)
    )
    return {(row.uscc, row.idempotency_key) for row in await connection.execute(statement)}


def _done_values(now: dt.datetime) -> dict[str, Any]:
    # lease_holder stays: who finished the item.
    return {
        "state": ItemState.DONE.value,
        "lease_expiry": None,
        "applied": bindparam("r_applied"),
        "verifications_checked": bindparam("r_checked"),
        "outcome_before": bindparam("r_before"),
        "outcome_after": bindparam("r_after"),
        "reasons": bindparam("r_reasons"),
        "level_class_before": bindparam("r_level_before"),
        "level_class_after": bindparam("r_level_after"),
        "error": None,
        "finish_time": now,
    }


def _done_row(item: ClaimedItem, result: RecheckResult) -> dict[str, Any]:
    return {
        "item_id": item.id,
        "r_applied": result.applied,
        "r_checked": result.verifications_checked,
        "r_before": _outcome(result.outcome_before),
        "r_after": _outcome(result.outcome_after),
        "r_reasons": [str(reason) for reason in result.reasons_after],
        "r_level_before": result.level_class_before,
        "r_level_after": result.level_class_after,
    }


class SqlBatchStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, batch: Batch, usccs: Sequence[str]) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                reverification_batches.insert().values(
                    id=batch.id,
                    selection=dict(batch.selection),
                    state=batch.state.value,
                    created_by=batch.created_by,
                    create_time=batch.create_time,
                    finish_time=batch.finish_time,
                    item_count=len(usccs),
                )
            )
            for start in range(0, len(usccs), INSERT_CHUNK):
                chunk = usccs[start : start + INSERT_CHUNK]
                await connection.execute(
                    batch_items.insert(),
                    [
                        {
                            "batch_id": batch.id,
                            "uscc": uscc,
                            "state": ItemState.QUEUED.value,
                            "attempts": 0,
                        }
                        for uscc in chunk
                    ],
                )

    async def get(self, batch_id: str) -> Batch | None:
        async with read_connection(self._engine) as connection:
            row = (
                await connection.execute(
                    select(reverification_batches).where(reverification_batches.c.id == batch_id)
                )
            ).first()
        return _batch(row) if row else None

    async def list_recent(self, limit: int) -> Sequence[Batch]:
        query = (
            select(reverification_batches)
            .order_by(reverification_batches.c.create_time.desc(), reverification_batches.c.id)
            .limit(limit)
        )
        async with read_connection(self._engine) as connection:
            return [_batch(row) for row in await connection.execute(query)]

    async def set_state(
        self, batch_id: str, allowed: Sequence[BatchState], state: BatchState, now: dt.datetime
    ) -> bool:
        values: dict[str, Any] = {"state": state.value}
        if state is BatchState.CANCELLED:
            values["finish_time"] = now
        async with write_transaction(self._engine) as connection:
            moved = await connection.execute(
                update(reverification_batches)
                .where(reverification_batches.c.id == batch_id)
                .where(reverification_batches.c.state.in_([s.value for s in allowed]))
                .values(**values)
            )
            if moved.rowcount == 0:
                return False
            if state is BatchState.CANCELLED:
                # Items in flight finish and are recorded; the rest are not worked.
                await connection.execute(
                    update(batch_items)
                    .where(batch_items.c.batch_id == batch_id)
                    .where(batch_items.c.state == ItemState.QUEUED.value)
                    .values(state=ItemState.CANCELLED.value, finish_time=now)
                )
        return True

    async def claim(
        self,
        holder: str,
        now: dt.datetime,
        lease_until: dt.datetime,
        limit: int,
        *,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> Sequence[ClaimedItem]:
        async with write_transaction(self._engine) as connection:
            running = [
                row.id
                for row in await connection.execute(
                    select(reverification_batches.c.id).where(
                        reverification_batches.c.state == BatchState.RUNNING.value
                    )
                )
            ]
            if not running:
                return []
            claimable = (
                select(batch_items.c.id)
                .where(batch_items.c.batch_id.in_(running))
                .where(
                    or_(
                        batch_items.c.state == ItemState.QUEUED.value,
                        and_(_lapsed(now), batch_items.c.attempts < max_attempts),
                    )
                )
                .order_by(batch_items.c.id)
                .limit(limit)
            )
            if connection.dialect.name == "postgresql":
                claimable = claimable.with_for_update(skip_locked=True)
            rows = await connection.execute(
                update(batch_items)
                .where(batch_items.c.id.in_(claimable.scalar_subquery()))
                .values(
                    state=ItemState.LEASED.value,
                    lease_holder=holder,
                    lease_expiry=lease_until,
                    attempts=batch_items.c.attempts + 1,
                )
                .returning(
                    batch_items.c.id,
                    batch_items.c.batch_id,
                    batch_items.c.uscc,
                    batch_items.c.attempts,
                )
            )
            claimed = [ClaimedItem(row.id, row.batch_id, row.uscc, row.attempts) for row in rows]
        return sorted(claimed, key=lambda item: item.id)

    async def sweep_lapsed(self, now: dt.datetime, *, max_attempts: int = MAX_ATTEMPTS) -> int:
        """Lapsed leases no one will take again: items of cancelled batches become
        cancelled, and items whose every attempt lapsed (their worker died each time, as on
        an item that crashes the process) become failed. How many items changed."""
        cancelled = select(reverification_batches.c.id).where(
            reverification_batches.c.state == BatchState.CANCELLED.value
        )
        touched: list[str] = []
        async with write_transaction(self._engine) as connection:
            for where, values in (
                (
                    batch_items.c.batch_id.in_(cancelled.scalar_subquery()),
                    {"state": ItemState.CANCELLED.value},
                ),
                (
                    batch_items.c.attempts >= max_attempts,
                    {"state": ItemState.FAILED.value, "error": LEASE_LAPSED},
                ),
            ):
                lapsed = select(batch_items.c.id).where(_lapsed(now)).where(where)
                if connection.dialect.name == "postgresql":
                    # Never wait on rows a claimer holds: they are not lapsed for long.
                    lapsed = lapsed.with_for_update(skip_locked=True)
                result = await connection.execute(
                    update(batch_items)
                    .where(batch_items.c.id.in_(lapsed.scalar_subquery()))
                    .values(**values, lease_expiry=None, finish_time=now)
                    .returning(batch_items.c.batch_id)
                )
                touched.extend(result.scalars())
            if touched:
                # A batch whose last open items were these is finished now.
                await connection.execute(_finish_drained(touched, now))
        return len(touched)

    async def renew(self, holder: str, item_ids: Sequence[int], lease_until: dt.datetime) -> None:
        if not item_ids:
            return
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                update(batch_items)
                .where(batch_items.c.id.in_(list(item_ids)))
                .where(batch_items.c.state == ItemState.LEASED.value)
                .where(batch_items.c.lease_holder == holder)
                .values(lease_expiry=lease_until)
            )

    def _held(self, item: ClaimedItem, holder: str) -> Any:
        return (
            update(batch_items)
            .where(batch_items.c.id == item.id)
            .where(batch_items.c.state == ItemState.LEASED.value)
            .where(batch_items.c.lease_holder == holder)
        )

    async def complete(
        self, item: ClaimedItem, holder: str, result: RecheckResult, now: dt.datetime
    ) -> bool:
        async with write_transaction(self._engine) as connection:
            marked = await connection.execute(
                # lease_holder stays: who finished the item.
                self._held(item, holder).values(
                    state=ItemState.DONE.value,
                    lease_expiry=None,
                    applied=result.applied,
                    verifications_checked=result.verifications_checked,
                    outcome_before=_outcome(result.outcome_before),
                    outcome_after=_outcome(result.outcome_after),
                    reasons=[str(reason) for reason in result.reasons_after],
                    level_class_before=result.level_class_before,
                    level_class_after=result.level_class_after,
                    error=None,
                    finish_time=now,
                )
            )
        return bool(marked.rowcount)

    async def complete_confirmed(
        self,
        holder: str,
        confirmed: Sequence[tuple[ClaimedItem, Confirmation]],
        now: dt.datetime,
    ) -> list[ClaimedItem]:
        if not confirmed:
            return []
        async with write_transaction(self._engine) as connection:
            standing = await _standing_decisions(
                connection, [d.verification_id for _, c in confirmed for d in c.decisions]
            )
            still = [
                (item, confirmation)
                for item, confirmation in confirmed
                if all(
                    standing.get(d.verification_id) == (d.outcome, d.reason_codes)
                    for d in confirmation.decisions
                )
            ]
            recorded = await _record_keys(connection, still, now)
            applied = [(i, c) for i, c in still if (c.uscc, c.key) in recorded]
            checked = sorted({d.verification_id for _, c in applied for d in c.decisions})
            if checked:
                await connection.execute(
                    update(verifications)
                    .where(verifications.c.id.in_(checked))
                    .values(check_time=now)
                )
            if applied:
                await connection.execute(
                    self._held_by_id(holder).values(_done_values(now)),
                    [_done_row(item, c.result) for item, c in applied],
                )
        done = {item.id for item, _ in applied}
        return [item for item, _ in confirmed if item.id not in done]

    async def release(self, holder: str, items: Sequence[ClaimedItem]) -> None:
        if not items:
            return
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                update(batch_items)
                .where(batch_items.c.id.in_(sorted(item.id for item in items)))
                .where(batch_items.c.state == ItemState.LEASED.value)
                .where(batch_items.c.lease_holder == holder)
                .values(
                    state=ItemState.QUEUED.value,
                    lease_holder=None,
                    lease_expiry=None,
                    attempts=batch_items.c.attempts - 1,
                )
            )

    def _held_by_id(self, holder: str) -> Any:
        return (
            update(batch_items)
            .where(batch_items.c.id == bindparam("item_id"))
            .where(batch_items.c.state == ItemState.LEASED.value)
            .where(batch_items.c.lease_holder == holder)
        )

    async def fail(
        self, item: ClaimedItem, holder: str, error: str, now: dt.datetime, *, final: bool
    ) -> None:
        state = ItemState.FAILED if final else ItemState.QUEUED
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                self._held(item, holder).values(
                    state=state.value,
                    lease_holder=None,
                    lease_expiry=None,
                    error=error,
                    finish_time=now if final else None,
                )
            )

    async def finish_drained(self, batch_ids: Sequence[str], now: dt.datetime) -> None:
        if not batch_ids:
            return
        async with write_transaction(self._engine) as connection:
            await connection.execute(_finish_drained(batch_ids, now))

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
            by_state: dict[ItemState, int] = {}
            by_outcome: dict[str, int] = {}
            for state, outcome, count in counts:
                item_state = ItemState(state)
                by_state[item_state] = by_state.get(item_state, 0) + count
                if item_state is ItemState.DONE:
                    label = outcome or NO_VERIFICATION
                    by_outcome[label] = by_outcome.get(label, 0) + count
        return BatchStatus(_batch(row), by_state, dict(sorted(by_outcome.items())))

    async def results(self, batch_id: str) -> AsyncIterator[ItemResult]:
        # Page by id so a batch of any size is read in bounded memory and short reads.
        after = 0
        while True:
            query = (
                select(batch_items)
                .where(batch_items.c.batch_id == batch_id)
                .where(batch_items.c.id > after)
                .where(batch_items.c.state.in_([ItemState.DONE.value, ItemState.FAILED.value]))
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
                )
            if len(rows) < _RESULT_PAGE:
                return
            after = rows[-1].id
