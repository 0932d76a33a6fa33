"""The queries behind each re-verification batch selection.

The registry snapshot may live in a database of its own (INTEGRITY_REGISTRY_URL), so the
registry's queries run there and are intersected with the verified enterprises in memory:
a set of codes per batch, which stays small beside the items the batch writes anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection
from service.adapters.storage.tables import archive_facts, registry_records, verifications
from service.domain.archive import FactKind


class SqlBatchSelections:
    def __init__(self, engine: AsyncEngine, registry_engine: AsyncEngine) -> None:
        self._engine = engine
        self._registry_engine = registry_engine

    async def _codes(self, engine: AsyncEngine, query: Select[Any]) -> set[str]:
        async with read_connection(engine) as connection:
            return set((await connection.execute(query)).scalars())

    async def verified_enterprises(self) -> set[str]:
        return await self._codes(self._engine, select(distinct(verifications.c.uscc)))

    async def licences_ending(self, first: dt.date, last: dt.date) -> set[str]:
        query = (
            select(registry_records.c.uscc)
            .where(registry_records.c.term_open_ended.is_(False))
            .where(registry_records.c.term_end.between(first, last))
        )
        return await self._codes(self._registry_engine, query)

    async def registry_written_since(self, since: dt.datetime) -> set[str]:
        # import_time moves only when a row is inserted or its content changes (an
        # unchanged re-import leaves it alone), so it is when our copy last changed.
        query = select(registry_records.c.uscc).where(registry_records.c.import_time >= since)
        return await self._codes(self._registry_engine, query)

    async def newest_verification_before(self, cutoff: dt.datetime) -> set[str]:
        query = (
            select(verifications.c.uscc)
            .group_by(verifications.c.uscc)
            .having(
                # Checked: created, or decided again by a re-check since.
                func.max(func.coalesce(verifications.c.check_time, verifications.c.create_time))
                < cutoff
            )
        )
        return await self._codes(self._engine, query)

    async def judicial_recorded_since(self, since: dt.datetime) -> set[str]:
        query = (
            select(distinct(archive_facts.c.uscc))
            .where(archive_facts.c.kind == FactKind.JUDICIAL.value)
            .where(archive_facts.c.recorded_time >= since)
        )
        return await self._codes(self._engine, query)
