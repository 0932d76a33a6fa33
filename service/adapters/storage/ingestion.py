"""Applying platform events: the event log and the archive facts in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import write_transaction
from service.adapters.storage.facts import append_facts
from service.adapters.storage.tables import ingested_events
from service.app.ingestion import EventApplication, NewEvent

# Two replicas applying the same events at once: the loser retries and finds them seen.
_ATTEMPTS = 3


class SqlIngestionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def apply(
        self, platform: str, events: Sequence[NewEvent], now: dt.datetime
    ) -> Mapping[str, EventApplication]:
        for attempt in range(_ATTEMPTS):
            try:
                return await self._apply_once(platform, events, now)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _apply_once(
        self, platform: str, events: Sequence[NewEvent], now: dt.datetime
    ) -> Mapping[str, EventApplication]:
        outcome: dict[str, EventApplication] = {}
        if not events:
            return outcome
        async with write_transaction(self._engine) as connection:
            query = select(ingested_events.c.event_id, ingested_events.c.fingerprint).where(
                ingested_events.c.platform == platform,
                ingested_events.c.event_id.in_([e.event_id for e in events]),
            )
            seen = {row.event_id: bytes(row.fingerprint) for row in await connection.execute(query)}
            new = []
            for event in events:
                if event.event_id in seen:
                    same = seen[event.event_id] == event.fingerprint
                    outcome[event.event_id] = (
                        EventApplication.SEEN if same else EventApplication.REUSED
                    )
                else:
                    new.append(event)
                    outcome[event.event_id] = EventApplication.APPLIED
            if new:
                await connection.execute(
                    ingested_events.insert(),
                    [
                        {
                            "platform": platform,
                            "event_id": event.event_id,
                            "fingerprint": event.fingerprint,
                            "uscc": event.fact.uscc,
                            "ingest_time": now,
                        }
                        for event in new
                    ],
                )
                await append_facts(
                    connection, [e.fact for e in new], now, source=f"platform:{platform}"
                )
        return outcome
