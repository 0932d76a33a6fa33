"""Disputes in the database: one row each, moved on only from the state it was read in."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import disputes
from service.domain.disputes import Dispute, DisputeState
from service.domain.errors import AlreadyExists, FailedPrecondition

_PENDING = [DisputeState.OPEN.value, DisputeState.IN_REVIEW.value]


def _dispute(row: Any) -> Dispute:
    # The table's columns are the dataclass's fields, by name.
    return Dispute(**{**row._mapping, "state": DisputeState(row.state)})


def _values(dispute: Dispute) -> dict[str, Any]:
    return {**dataclasses.asdict(dispute), "state": dispute.state.value}


class SqlDisputeStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, dispute: Dispute) -> None:
        """AlreadyExists (DISPUTE_ALREADY_OPEN) while the item has a dispute unanswered."""
        try:
            async with write_transaction(self._engine) as connection:
                await connection.execute(disputes.insert().values(**_values(dispute)))
        except IntegrityError:
            raise AlreadyExists(
                f"{dispute.item} is already under dispute; its answer is awaited",
                reason="DISPUTE_ALREADY_OPEN",
            ) from None

    async def get(self, dispute_id: str) -> Dispute | None:
        query = select(disputes).where(disputes.c.id == dispute_id)
        async with read_connection(self._engine) as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _dispute(row)

    async def replace(self, before: Dispute, after: Dispute) -> None:
        """Store `after` if the dispute is still in `before`'s state: two ops answering at
        once do not both win (FailedPrecondition DISPUTE_CHANGED for the second)."""
        statement = (
            update(disputes)
            .where(disputes.c.id == before.id, disputes.c.state == before.state.value)
            .values(
                state=after.state.value,
                assignee=after.assignee,
                reason=after.reason,
                resolve_time=after.resolve_time,
            )
        )
        async with write_transaction(self._engine) as connection:
            changed = (await connection.execute(statement)).rowcount
        if changed != 1:
            raise FailedPrecondition(
                "the dispute changed meanwhile; read it again", reason="DISPUTE_CHANGED"
            )

    async def of_enterprise(self, uscc: str) -> list[Dispute]:
        """Newest first."""
        query = (
            select(disputes)
            .where(disputes.c.uscc == uscc)
            .order_by(disputes.c.open_time.desc(), disputes.c.id)
        )
        async with read_connection(self._engine) as connection:
            return [_dispute(row) for row in await connection.execute(query)]

    async def open_of_enterprise(self, uscc: str) -> list[Dispute]:
        """The enterprise's disputes still to be answered: what every archive read marks,
        so only those rows are read (the (uscc, state) index serves it)."""
        query = select(disputes).where(disputes.c.uscc == uscc, disputes.c.state.in_(_PENDING))
        async with read_connection(self._engine) as connection:
            return [_dispute(row) for row in await connection.execute(query)]

    async def pending(self, due_before: dt.datetime | None, limit: int) -> Sequence[Dispute]:
        """Disputes still to be answered, the nearest deadline first; only those due before
        `due_before` when given."""
        query = select(disputes).where(disputes.c.state.in_(_PENDING))
        if due_before is not None:
            query = query.where(disputes.c.deadline <= due_before)
        query = query.order_by(disputes.c.deadline, disputes.c.id).limit(limit)
        async with read_connection(self._engine) as connection:
            return [_dispute(row) for row in await connection.execute(query)]
