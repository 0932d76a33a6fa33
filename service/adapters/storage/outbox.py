"""The outbox: events written in the transaction of the change they report."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection

from service.adapters.storage.tables import outbox
from service.domain.outbox import OutboxEvent


class SqlOutbox:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, events: Sequence[OutboxEvent]) -> None:
        if not events:
            return
        await self._connection.execute(
            outbox.insert(),
            [
                {
                    "event_id": e.event_id,
                    "event_type": e.event_type,
                    "aggregate_type": e.aggregate_type,
                    "aggregate_id": e.aggregate_id,
                    "uscc": e.uscc,
                    "payload": dict(e.payload),
                    "create_time": e.create_time,
                    "dispatch_time": None,
                }
                for e in events
            ],
        )

    async def undispatched(self, limit: int) -> list[OutboxEvent]:
        """Events not sent yet, oldest first."""
        query = (
            select(outbox)
            .where(outbox.c.dispatch_time.is_(None))
            .order_by(outbox.c.create_time, outbox.c.event_id)
            .limit(limit)
        )
        return [_event(row) for row in (await self._connection.execute(query)).mappings()]


def _event(row: RowMapping) -> OutboxEvent:
    return OutboxEvent(
        event_id=row["event_id"],
        event_type=row["event_type"],
        aggregate_type=row["aggregate_type"],
        aggregate_id=row["aggregate_id"],
        uscc=row["uscc"],
        payload=row["payload"],
        create_time=row["create_time"],
    )
