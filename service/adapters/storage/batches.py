"""Re-verification batches and their items in the database, claimed under leases.

Claiming is one UPDATE over a sub-select: on PostgreSQL the sub-select locks its rows FOR
UPDATE SKIP LOCKED, so workers on several machines take disjoint items without waiting on
each other; on SQLite the write transaction (BEGIN IMMEDIATE) already serialises claimers.
Lease times are written and compared on the database's clock (lease_clock.py).

An item put back in the queue (retried, waiting for the registry, or read ahead and not
worked) is cancelled instead if its batch was cancelled meanwhile: on PostgreSQL the batch
row is held (FOR SHARE) first, so a cancel either sees the item back in the queue or the
item sees the batch cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.storage.batch_confirmations import record_keys, standing_decisions
from service.adapters.storage.batch_reads import SqlBatchReads
from service.adapters.storage.engine import write_transaction
from service.adapters.storage.lease_clock import MachineClock, machine_clock, on_database_clock
from service.adapters.storage.queue_cursors import QueueCursors
from service.adapters.storage.tables import (
    batch_items,
    reverification_batches,
    verifications,
)
from service.app.ports import Confirmation, RecheckResult
from service.domain.batches import (
    MAX_ATTEMPTS,
    OPEN_ITEM_STATES,
    Batch,
    BatchState,
    ClaimedItem,
    ItemState,
)

# Rows per INSERT statement when a batch is created: large enough that 100,000 items take a
# few dozen round trips, small enough to stay far below either driver's parameter limits.
INSERT_CHUNK = 5_000
LEASE_LAPSED = "LeaseLapsed"
"""The error of an item whose every attempt ended with its worker gone."""


def _lapsed(lease_time: ColumnElement[dt.datetime]) -> ColumnElement[bool]:
    return and_(
        batch_items.c.state == ItemState.LEASED.value,
        batch_items.c.lease_expiry < lease_time,
    )


def _finish_drained(batch_ids: Sequence[str] | None, now: dt.datetime) -> Any:
    """Running batches among these (None: all) with no open item left become finished.

    The state is part of the condition, so when several workers and readers see the same
    batch drained at once, one of them finishes it (on PostgreSQL the others wait for the
    row and find it no longer running)."""
    still_open = (
        select(batch_items.c.id)
        .where(batch_items.c.batch_id == reverification_batches.c.id)
        .where(batch_items.c.state.in_([state.value for state in OPEN_ITEM_STATES]))
        .exists()
    )
    statement = update(reverification_batches)
    if batch_ids is not None:
        statement = statement.where(reverification_batches.c.id.in_(sorted(set(batch_ids))))
    return (
        statement.where(reverification_batches.c.state == BatchState.RUNNING.value)
        .where(~still_open)
        .values(state=BatchState.FINISHED.value, finish_time=now)
        .returning(reverification_batches.c.id)
    )


def _batch_cancelled() -> ColumnElement[bool]:
    """The item's batch is cancelled (for an UPDATE of batch_items)."""
    state = (
        select(reverification_batches.c.state)
        .where(reverification_batches.c.id == batch_items.c.batch_id)
        .scalar_subquery()
    )
    return state == BatchState.CANCELLED.value


def _back_in_queue(state: ItemState, now: dt.datetime) -> dict[str, Any]:
    """The values of an item put back as `state`, or cancelled if its batch is."""
    cancelled = _batch_cancelled()
    return {
        "state": case((cancelled, ItemState.CANCELLED.value), else_=state.value),
        "finish_time": case((cancelled, now), else_=None),
        "lease_holder": None,
        "lease_expiry": None,
    }


async def _hold_batches(connection: AsyncConnection, batch_ids: Sequence[str]) -> None:
    """On PostgreSQL, the batches' rows until the transaction ends: a cancel waits for an
    item being put back, or the item sees its batch cancelled (see the module docstring)."""
    if connection.dialect.name != "postgresql":
        return
    await connection.execute(
        select(reverification_batches.c.id)
        .where(reverification_batches.c.id.in_(sorted(set(batch_ids))))
        .order_by(reverification_batches.c.id)
        .with_for_update(read=True)
    )


def _counted_attempts() -> ColumnElement[int]:
    """Attempts used against the limit: tries the registry could not answer use none."""
    return batch_items.c.attempts - batch_items.c.unanswered


def _outcome(value: Any) -> str | None:
    return None if value is None else str(value)


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
        "next_attempt_time": None,
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


class SqlBatchStore(SqlBatchReads):
    def __init__(
        self,
        engine: AsyncEngine,
        machine_now: MachineClock = machine_clock,
        cursors: QueueCursors | None = None,
    ) -> None:
        """machine_now: this machine's clock, against which lease times are moved onto the
        database's (tests give one that runs fast, as a machine with a skewed clock).
        cursors: where this process's claims of queued items resume (queue_cursors.py)."""
        self._engine = engine
        self._machine_now = machine_now
        self._cursors = cursors or QueueCursors()

    def _lease_time(self, connection: AsyncConnection, when: dt.datetime) -> Any:
        return on_database_clock(connection.dialect.name, when, self._machine_now)

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
                    .where(
                        batch_items.c.state.in_([ItemState.QUEUED.value, ItemState.WAITING.value])
                    )
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
                    select(reverification_batches.c.id)
                    .where(reverification_batches.c.state == BatchState.RUNNING.value)
                    .order_by(reverification_batches.c.create_time, reverification_batches.c.id)
                )
            ]
            if not running:
                return []
            # One condition at a time, each a range of an index: an OR of them would read
            # the items in id order past every one already done, a scan that grows with the
            # batch. Lapsed leases first (work a dead worker left), then waiting items whose
            # time has come, then the queue.
            claimed: list[ClaimedItem] = []
            for claimable in (
                and_(
                    _lapsed(self._lease_time(connection, now)),
                    _counted_attempts() < max_attempts,
                ),
                and_(
                    batch_items.c.state == ItemState.WAITING.value,
                    batch_items.c.next_attempt_time <= now,
                ),
            ):
                if len(claimed) >= limit:
                    break
                claimed += await self._claim_where(
                    connection, running, claimable, holder, lease_until, limit - len(claimed)
                )
            # The queue batch by batch, oldest first, each from where this process's last
            # claim of it ended (queue_cursors.py).
            for batch_id in running:
                if len(claimed) >= limit:
                    break
                claimed += await self._claim_queued(
                    connection, batch_id, holder, lease_until, limit - len(claimed)
                )
        return sorted(claimed, key=lambda item: item.id)

    async def _claim_queued(
        self,
        connection: AsyncConnection,
        batch_id: str,
        holder: str,
        lease_until: dt.datetime,
        limit: int,
    ) -> list[ClaimedItem]:
        queued = batch_items.c.state == ItemState.QUEUED.value
        after = self._cursors.after(batch_id)
        above = await self._claim_where(
            connection, [batch_id], and_(queued, batch_items.c.id > after), holder,
            lease_until, limit,
        )  # fmt: skip
        self._cursors.claimed(batch_id, (item.id for item in above))
        if len(above) >= limit or not self._cursors.may_look_below(batch_id):
            return above
        below = await self._claim_where(
            connection, [batch_id], and_(queued, batch_items.c.id <= after), holder,
            lease_until, limit - len(above),
        )  # fmt: skip
        self._cursors.looked_below(batch_id, len(below))
        return above + below

    async def _claim_where(
        self,
        connection: AsyncConnection,
        running: Sequence[str],
        condition: ColumnElement[bool],
        holder: str,
        lease_until: dt.datetime,
        limit: int,
    ) -> list[ClaimedItem]:
        claimable = (
            select(batch_items.c.id)
            .where(batch_items.c.batch_id.in_(running), condition)
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
                lease_expiry=self._lease_time(connection, lease_until),
                attempts=batch_items.c.attempts + 1,
            )
            .returning(
                batch_items.c.id,
                batch_items.c.batch_id,
                batch_items.c.uscc,
                batch_items.c.attempts,
                batch_items.c.unanswered,
            )
        )
        return [
            ClaimedItem(row.id, row.batch_id, row.uscc, row.attempts, row.unanswered)
            for row in rows
        ]

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
                    _counted_attempts() >= max_attempts,
                    {"state": ItemState.FAILED.value, "error": LEASE_LAPSED},
                ),
            ):
                lapsed = (
                    select(batch_items.c.id)
                    .where(_lapsed(self._lease_time(connection, now)))
                    .where(where)
                )
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
                .values(lease_expiry=self._lease_time(connection, lease_until))
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
                    next_attempt_time=None,
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
            standing = await standing_decisions(
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
            recorded = await record_keys(connection, still, now)
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

    async def release(self, holder: str, items: Sequence[ClaimedItem], now: dt.datetime) -> None:
        if not items:
            return
        async with write_transaction(self._engine) as connection:
            await _hold_batches(connection, [item.batch_id for item in items])
            await connection.execute(
                update(batch_items)
                .where(batch_items.c.id.in_(sorted(item.id for item in items)))
                .where(batch_items.c.state == ItemState.LEASED.value)
                .where(batch_items.c.lease_holder == holder)
                .values(
                    **_back_in_queue(ItemState.QUEUED, now),
                    attempts=batch_items.c.attempts - 1,
                )
            )
        for batch_id in {item.batch_id for item in items}:
            self._cursors.put_back(
                batch_id, (item.id for item in items if item.batch_id == batch_id)
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
        if final:
            values: dict[str, Any] = {
                "state": ItemState.FAILED.value,
                "lease_holder": None,
                "lease_expiry": None,
                "finish_time": now,
            }
        else:
            values = _back_in_queue(ItemState.QUEUED, now)
        async with write_transaction(self._engine) as connection:
            if not final:
                await _hold_batches(connection, [item.batch_id])
            await connection.execute(self._held(item, holder).values(**values, error=error))
        if not final:
            self._cursors.put_back(item.batch_id, [item.id])

    async def unanswered(
        self,
        item: ClaimedItem,
        holder: str,
        error: str,
        now: dt.datetime,
        *,
        next_attempt_time: dt.datetime | None,
    ) -> None:
        if next_attempt_time is None:
            # lease_holder stays, as for a done item: who tried last.
            values: dict[str, Any] = {
                "state": ItemState.UNAVAILABLE.value,
                "lease_expiry": None,
                "finish_time": now,
            }
        else:
            values = _back_in_queue(ItemState.WAITING, now)
        async with write_transaction(self._engine) as connection:
            if next_attempt_time is not None:
                await _hold_batches(connection, [item.batch_id])
            await connection.execute(
                self._held(item, holder).values(
                    **values,
                    error=error,
                    unanswered=batch_items.c.unanswered + 1,
                    next_attempt_time=next_attempt_time,
                )
            )

    async def finish_drained(self, batch_ids: Sequence[str] | None, now: dt.datetime) -> list[str]:
        if batch_ids is not None and not batch_ids:
            return []
        async with write_transaction(self._engine) as connection:
            return list((await connection.execute(_finish_drained(batch_ids, now))).scalars())
