"""Callers and credentials in the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import RowMapping, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import callers, credentials
from service.app.credentials import StoredCredential
from service.domain.callers import Caller, CallerKind, Scope


def _caller(row: RowMapping) -> Caller:
    return Caller(
        id=row["id"],
        kind=CallerKind(row["kind"]),
        name=row["name"],
        platform=row["platform"],
        scopes=frozenset(Scope(s) for s in row["scopes"]),
    )


class SqlCallerStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_caller(self, caller: Caller, now: dt.datetime) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                callers.insert().values(
                    id=caller.id,
                    kind=caller.kind.value,
                    name=caller.name,
                    platform=caller.platform,
                    scopes=sorted(s.value for s in caller.scopes),
                    create_time=now,
                )
            )

    async def active_platform_caller(self, platform: str) -> Caller | None:
        query = select(callers).where(
            callers.c.platform == platform, callers.c.revoke_time.is_(None)
        )
        async with read_connection(self._engine) as connection:
            row = (await connection.execute(query)).mappings().first()
        return _caller(row) if row else None

    async def add_credential(
        self, key_id: str, caller_id: str, secret_hash: bytes, now: dt.datetime
    ) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                credentials.insert().values(
                    key_id=key_id, caller_id=caller_id, secret_hash=secret_hash, create_time=now
                )
            )

    async def find_credential(self, key_id: str) -> StoredCredential | None:
        query = (
            select(callers, credentials.c.secret_hash)
            .join(credentials, credentials.c.caller_id == callers.c.id)
            .where(
                credentials.c.key_id == key_id,
                credentials.c.revoke_time.is_(None),
                callers.c.revoke_time.is_(None),
            )
        )
        async with read_connection(self._engine) as connection:
            row = (await connection.execute(query)).mappings().first()
        if row is None:
            return None
        return StoredCredential(caller=_caller(row), secret_hash=row["secret_hash"])

    async def revoke(self, caller_or_key_id: str, now: dt.datetime) -> int:
        """Revoke a caller (all its credentials) or one credential; how many rows changed."""
        async with write_transaction(self._engine) as connection:
            by_caller = await connection.execute(
                update(callers)
                .where(callers.c.id == caller_or_key_id, callers.c.revoke_time.is_(None))
                .values(revoke_time=now)
            )
            by_key = await connection.execute(
                update(credentials)
                .where(
                    or_(
                        credentials.c.key_id == caller_or_key_id,
                        credentials.c.caller_id == caller_or_key_id,
                    ),
                    credentials.c.revoke_time.is_(None),
                )
                .values(revoke_time=now)
            )
        return int(by_caller.rowcount or 0) + int(by_key.rowcount or 0)

    async def list_callers(self) -> Sequence[tuple[Caller, bool]]:
        async with read_connection(self._engine) as connection:
            rows = (
                (await connection.execute(select(callers).order_by(callers.c.create_time)))
                .mappings()
                .all()
            )
        return [(_caller(row), row["revoke_time"] is None) for row in rows]
