"""Reading archive facts and resolving exact registered names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection
from service.adapters.storage.facts import load_facts
from service.adapters.storage.tables import archive_facts, registry_records
from service.domain.archive import Fact, FactKind

# An exact name match is enough to find an enterprise; more than a handful sharing a
# name means the lookup is ambiguous whatever they are.
_NAME_MATCH_LIMIT = 5


class SqlArchiveStore:
    def __init__(self, engine: AsyncEngine, registry_engine: AsyncEngine) -> None:
        self._engine = engine
        self._registry_engine = registry_engine

    async def load(self, uscc: str, as_of: dt.datetime | None) -> Sequence[Fact]:
        async with read_connection(self._engine) as connection:
            return await load_facts(connection, uscc, as_of)

    async def usccs_named(self, normalised_name: str) -> Sequence[str]:
        """From the imported snapshot and from the registry facts the archive recorded
        (the government registry's answers): the same enterprise in both counts once."""
        in_snapshot = (
            select(registry_records.c.uscc)
            .where(registry_records.c.name_normalised == normalised_name)
            .limit(_NAME_MATCH_LIMIT)
        )
        in_archive = (
            select(archive_facts.c.uscc)
            .where(
                archive_facts.c.name_normalised == normalised_name,
                archive_facts.c.kind == FactKind.REGISTRY.value,
                archive_facts.c.superseded_time.is_(None),
                archive_facts.c.name_normalised.is_not(None),  # the index's own condition
            )
            .limit(_NAME_MATCH_LIMIT)
        )
        async with read_connection(self._registry_engine) as connection:
            found = [row.uscc for row in await connection.execute(in_snapshot)]
        async with read_connection(self._engine) as connection:
            found += [row.uscc for row in await connection.execute(in_archive)]
        return list(dict.fromkeys(found))[:_NAME_MATCH_LIMIT]
