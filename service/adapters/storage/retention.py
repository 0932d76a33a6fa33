"""Closed accounts, legal holds, and the deletions of the retention purge."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Delete, and_, delete, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import (
    archive_facts,
    enterprise_closures,
    integrity_levels,
    legal_holds,
)
from service.domain.archive import FactKind
from service.domain.errors import NotFound
from service.domain.retention import LEVELS, Held, LegalHold

PLATFORM_KINDS = [
    FactKind.STORE.value,
    FactKind.MEMBERSHIP.value,
    FactKind.TRADE.value,
    FactKind.CONDUCT.value,
    FactKind.CERTIFICATION.value,
]
"""What platforms reported: what the purge deletes of the archive."""
_RECORD_KINDS = {FactKind.CONDUCT.value: "conduct", FactKind.CERTIFICATION.value: "certification"}


def _hold(row: Any) -> LegalHold:
    return LegalHold(**row._mapping)


class SqlRetentionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def close(self, uscc: str, when: dt.datetime, reason: str) -> None:
        """Close the enterprise's account; closing one already closed keeps the first time."""
        async with write_transaction(self._engine) as connection:
            held = await connection.scalar(
                select(enterprise_closures.c.uscc).where(enterprise_closures.c.uscc == uscc)
            )
            if held is None:
                await connection.execute(
                    enterprise_closures.insert().values(uscc=uscc, close_time=when, reason=reason)
                )

    async def reopen(self, uscc: str) -> bool:
        """The account is reactivated: nothing of it is purged. False if it was not closed
        or was purged already."""
        statement = delete(enterprise_closures).where(
            enterprise_closures.c.uscc == uscc, enterprise_closures.c.purge_time.is_(None)
        )
        async with write_transaction(self._engine) as connection:
            return bool((await connection.execute(statement)).rowcount)

    async def closed_before(self, cutoff: dt.datetime, limit: int) -> list[str]:
        """Accounts closed by the cutoff and not purged yet, the oldest first."""
        query = (
            select(enterprise_closures.c.uscc)
            .where(
                enterprise_closures.c.close_time <= cutoff,
                enterprise_closures.c.purge_time.is_(None),
            )
            .order_by(enterprise_closures.c.close_time)
            .limit(limit)
        )
        async with read_connection(self._engine) as connection:
            return list((await connection.execute(query)).scalars())

    async def add_hold(self, hold: LegalHold) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                legal_holds.insert().values(
                    id=hold.id,
                    uscc=hold.uscc,
                    item=hold.item,
                    reason=hold.reason,
                    place_time=hold.place_time,
                )
            )

    async def release_hold(self, hold_id: str, when: dt.datetime) -> LegalHold:
        statement = (
            update(legal_holds)
            .where(legal_holds.c.id == hold_id, legal_holds.c.release_time.is_(None))
            .values(release_time=when)
        )
        async with write_transaction(self._engine) as connection:
            changed = (await connection.execute(statement)).rowcount
            row = (
                await connection.execute(select(legal_holds).where(legal_holds.c.id == hold_id))
            ).first()
        if row is None or not changed:
            raise NotFound(f"no active hold {hold_id}", reason="HOLD_NOT_FOUND")
        return _hold(row)

    async def holds(self, uscc: str) -> list[LegalHold]:
        query = (
            select(legal_holds)
            .where(legal_holds.c.uscc == uscc)
            .order_by(legal_holds.c.place_time, legal_holds.c.id)
        )
        async with read_connection(self._engine) as connection:
            return [_hold(row) for row in await connection.execute(query)]

    async def is_purged(self, uscc: str) -> bool:
        query = select(enterprise_closures.c.purge_time).where(enterprise_closures.c.uscc == uscc)
        async with read_connection(self._engine) as connection:
            return await connection.scalar(query) is not None

    async def purge_archive(self, uscc: str, held: Held, when: dt.datetime) -> int:
        """Delete what platforms reported and the levels, but what the holds keep; mark the
        account purged. One transaction. Returns how many rows went."""
        gone = 0
        async with write_transaction(self._engine) as connection:
            if not held.everything:
                gone += (await connection.execute(_platform_facts(uscc, held))).rowcount
                if not held.keeps(LEVELS):
                    levels = delete(integrity_levels).where(integrity_levels.c.uscc == uscc)
                    gone += (await connection.execute(levels)).rowcount
            await connection.execute(
                update(enterprise_closures)
                .where(enterprise_closures.c.uscc == uscc)
                .values(purge_time=when)
            )
        return int(gone)


def _platform_facts(uscc: str, held: Held) -> Delete:
    """The deletion of the enterprise's platform facts, but the records the holds name."""
    kept = [
        and_(
            archive_facts.c.kind == kind,
            archive_facts.c.platform == platform,
            # Platform records are keyed "<kind>:<record id>" (service/domain/archive.py).
            archive_facts.c.fact_key == f"{prefix}:{key}",
        )
        for kind, prefix in _RECORD_KINDS.items()
        for item in held.items
        if item.startswith(f"{prefix}:")
        for platform, _, key in [item.removeprefix(f"{prefix}:").partition(":")]
    ]
    facts = delete(archive_facts).where(
        archive_facts.c.uscc == uscc, archive_facts.c.kind.in_(PLATFORM_KINDS)
    )
    return facts.where(not_(or_(*kept))) if kept else facts
