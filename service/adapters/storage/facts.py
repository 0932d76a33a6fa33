"""Archive facts: append a version, close the one before, read as of any time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.storage.change_log import append_changes
from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import archive_facts
from service.app.ports import Clock
from service.domain.archive import REGISTRY_FACT_KEY, Fact, FactKind
from service.domain.names import normalise_name

FactIdentity = tuple[str, str, str, str]


def _identity(fact: Fact) -> FactIdentity:
    return (fact.uscc, fact.kind.value, fact.key, fact.platform)


async def append_facts(
    connection: AsyncConnection, facts: Sequence[Fact], now: dt.datetime, source: str
) -> list[str]:
    """Record the facts that differ from their open version; the USCC of each new version.

    Runs inside the caller's transaction, so a fact and whatever caused it commit together;
    it ends with the change log (see change_log.py), so callers write nothing after it.
    """
    latest: dict[FactIdentity, Fact] = {}
    for fact in facts:  # the last word on a fact within one batch is the one that counts
        latest[_identity(fact)] = fact
    if not latest:
        return []
    query = select(
        archive_facts.c.id,
        archive_facts.c.uscc,
        archive_facts.c.kind,
        archive_facts.c.fact_key,
        archive_facts.c.platform,
        archive_facts.c.payload,
    ).where(
        archive_facts.c.uscc.in_({fact.uscc for fact in latest.values()}),
        archive_facts.c.kind.in_({fact.kind.value for fact in latest.values()}),
        archive_facts.c.superseded_time.is_(None),
    )
    open_versions = {
        (row.uscc, row.kind, row.fact_key, row.platform): (row.id, row.payload)
        for row in await connection.execute(query)
    }
    to_close: list[int] = []
    to_insert: list[dict[str, Any]] = []
    for identity, fact in latest.items():
        current = open_versions.get(identity)
        new_payload = None if fact.payload is None else dict(fact.payload)
        if current is None and new_payload is None:
            continue  # removing what was never there
        if current is not None:
            if current[1] == new_payload:
                continue
            to_close.append(current[0])
        to_insert.append(
            {
                "uscc": fact.uscc,
                "kind": fact.kind.value,
                "fact_key": fact.key,
                "platform": fact.platform,
                "payload": new_payload,
                "name_normalised": _name_key(fact.kind, new_payload),
                "source": source,
                "recorded_time": now,
                "superseded_time": None,
            }
        )
    if to_close:
        await connection.execute(
            update(archive_facts)
            .where(archive_facts.c.id.in_(to_close))
            .values(superseded_time=now)
        )
    if to_insert:
        await connection.execute(archive_facts.insert(), to_insert)
    changed = [row["uscc"] for row in to_insert]
    # Committed with the facts, so every cache learns of them even if working out the
    # new level fails afterwards.
    await append_changes(connection, changed, now)
    return changed


def _name_key(kind: FactKind, payload: Mapping[str, Any] | None) -> str | None:
    """A registry fact's name as the archive's name lookup compares it."""
    if kind is not FactKind.REGISTRY or not payload or not payload.get("name"):
        return None
    return normalise_name(str(payload["name"]))


async def load_facts(
    connection: AsyncConnection, uscc: str, as_of: dt.datetime | None
) -> list[Fact]:
    """The versions open now, or at as_of."""
    query = select(archive_facts).where(archive_facts.c.uscc == uscc)
    if as_of is None:
        query = query.where(archive_facts.c.superseded_time.is_(None))
    else:
        query = query.where(
            archive_facts.c.recorded_time <= as_of,
            or_(
                archive_facts.c.superseded_time.is_(None),
                archive_facts.c.superseded_time > as_of,
            ),
        )
    rows = (await connection.execute(query.order_by(archive_facts.c.id))).mappings().all()
    return [
        Fact(
            uscc=row["uscc"],
            kind=FactKind(row["kind"]),
            key=row["fact_key"],
            platform=row["platform"],
            payload=row["payload"],
            recorded_time=row["recorded_time"],
        )
        for row in rows
    ]


class SqlFactWriter:
    """Facts written in their own transaction, for imports."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def write(self, facts: Sequence[Fact], source: str) -> list[str]:
        async with write_transaction(self._engine) as connection:
            return await append_facts(connection, facts, self._clock.now(), source)


class SqlRegistryFacts:
    """The archive's registry fact, for registry sources asked at verification time."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def held_payload(self, uscc: str) -> Mapping[str, Any] | None:
        return (await self.held_payloads([uscc])).get(uscc)

    async def held_payloads(self, usccs: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        if not usccs:
            return {}
        query = select(archive_facts.c.uscc, archive_facts.c.payload).where(
            archive_facts.c.uscc.in_(set(usccs)),
            archive_facts.c.kind == FactKind.REGISTRY.value,
            archive_facts.c.fact_key == REGISTRY_FACT_KEY,
            archive_facts.c.platform == "",
            archive_facts.c.superseded_time.is_(None),
        )
        async with read_connection(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return {row.uscc: dict(row.payload) for row in rows if row.payload is not None}

    async def record(self, fact: Fact) -> list[str]:
        async with write_transaction(self._engine) as connection:
            # "registry", as an import records it: the archive's history does not depend
            # on which registration source the deployment asks.
            return await append_facts(connection, [fact], self._clock.now(), source="registry")
