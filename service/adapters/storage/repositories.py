"""Repositories and the unit of work over one SQLAlchemy connection and transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.storage.change_log import append_changes
from service.adapters.storage.engine import SQLITE_BEGIN, sqlite_write_slot
from service.adapters.storage.levels import SqlLevelStore
from service.adapters.storage.outbox import SqlOutbox
from service.adapters.storage.rechecks import SqlRecheckRepository
from service.adapters.storage.tables import verification_history, verifications
from service.adapters.storage.verification_rows import (
    history_to_row,
    load_histories,
    schedule_to_row,
    verification_from_row,
    verification_to_row,
)
from service.app.ports import DuplicateRequest, PageCursor
from service.domain.recheck_schedule import RecheckState
from service.domain.verification import TRIGGER_CREATE, OutcomeChange, Verification


class SqlVerificationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, verification: Verification, schedule: RecheckState | None = None) -> None:
        """The verification, its first history entry and (if PENDING) its re-check schedule."""
        row = verification_to_row(verification)
        if schedule is not None:
            row.update(schedule_to_row(schedule))
        first = OutcomeChange(1, verification.decision, TRIGGER_CREATE, verification.create_time)
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(verifications.insert().values(row))
                await self._connection.execute(
                    verification_history.insert(),
                    [
                        # Keyed by the request that made it, like the verification itself.
                        history_to_row(verification.id, entry, verification.request_id)
                        for entry in verification.history or (first,)
                    ],
                )
                await append_changes(
                    self._connection, [verification.uscc], verification.create_time
                )
        except IntegrityError as exc:
            raise DuplicateRequest(verification.request_id) from exc

    async def get(self, uscc: str, verification_id: str) -> Verification | None:
        query = select(verifications).where(
            verifications.c.id == verification_id, verifications.c.uscc == uscc
        )
        return await self._one(query)

    async def get_by_request(self, caller: str, request_id: str) -> Verification | None:
        query = select(verifications).where(
            verifications.c.caller == caller, verifications.c.request_id == request_id
        )
        return await self._one(query)

    async def list_for_enterprise(
        self, uscc: str, limit: int, after: PageCursor | None, caller: str | None
    ) -> Sequence[Verification]:
        query = select(verifications).where(verifications.c.uscc == uscc)
        if caller is not None:
            query = query.where(verifications.c.caller == caller)
        if after is not None:
            query = query.where(
                or_(
                    verifications.c.create_time < after.create_time,
                    and_(
                        verifications.c.create_time == after.create_time,
                        verifications.c.id < after.id,
                    ),
                )
            )
        query = query.order_by(verifications.c.create_time.desc(), verifications.c.id.desc())
        return await self._many(query.limit(limit))

    async def _one(self, query: Select[Any]) -> Verification | None:
        found = await self._many(query)
        return found[0] if found else None

    async def _many(self, query: Select[Any]) -> list[Verification]:
        """The verifications a query selects, each with its history: two queries in all."""
        rows = (await self._connection.execute(query)).mappings().all()
        histories = await load_histories(self._connection, [row["id"] for row in rows])
        return [verification_from_row(row, histories.get(row["id"], ())) for row in rows]


class SqlUnitOfWork:
    """One transaction. Leaving the block without commit() rolls it back."""

    verifications: SqlVerificationRepository
    rechecks: SqlRecheckRepository
    outbox: SqlOutbox
    # Levels read and written inside this transaction (see SqlLevelStore.joining).
    levels: SqlLevelStore

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._connection: AsyncConnection | None = None
        self._slot: contextlib.AbstractAsyncContextManager[None] | None = None

    async def __aenter__(self) -> Self:
        if not self._read_only:
            self._slot = sqlite_write_slot(self._engine)
            await self._slot.__aenter__()
        try:
            connection = await self._engine.connect()
            try:
                if self._read_only:
                    connection = await connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
                await connection.begin()
            except BaseException:
                await connection.close()
                raise
        except BaseException:
            await self._release_slot()
            raise
        self._connection = connection
        self.verifications = SqlVerificationRepository(connection)
        self.rechecks = SqlRecheckRepository(connection)
        self.outbox = SqlOutbox(connection)
        self.levels = SqlLevelStore(self._engine, connection)
        return self

    async def _release_slot(self) -> None:
        if self._slot is not None:
            slot, self._slot = self._slot, None
            await slot.__aexit__(None, None, None)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            if self._connection.in_transaction():
                await self._connection.rollback()
        finally:
            await self._connection.close()
            self._connection = None
            await self._release_slot()

    async def commit(self) -> None:
        assert self._connection is not None
        await self._connection.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, read_only=read_only)
