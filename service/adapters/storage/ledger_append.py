"""Appending a batch of entries to the disclosure ledger, on the database's own driver.

Every read appends an entry, so this is the hottest write in the service. One batch is one
transaction: take the append lock, read the last hash, chain the new entries onto it,
insert them all, commit. Written through SQLAlchemy's asyncio layer that is five round
trips through its connection and transaction machinery per batch (on SQLite each one a
hop to aiosqlite's thread and back); here it is one hop to a thread that holds its own
SQLite connection, or one pooled asyncpg connection used directly.

The INSERT is compiled from the table by SQLAlchemy for the dialect, and each value is
bound with the column type's own processor, so rows are stored exactly as Core would
store them and read back through Core unchanged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import Dialect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import configure_sqlite, sqlite_write_slot
from service.adapters.storage.tables import disclosure_ledger
from service.domain.disclosure import GENESIS, DisclosureEntry, chain_hash

# Writers on several replicas take turns appending, so the chain stays one chain.
PG_LEDGER_LOCK = 0x4C454447  # "LEDG"

_APPENDED = (
    "subject_uscc",
    "recipient_id",
    "recipient_name",
    "recipient_kind",
    "tier",
    "purpose",
    "scenario",
    "fields",
    "disclose_time",
    "previous_hash",
    "entry_hash",
)


class LedgerAppender(Protocol):
    async def append(self, entries: Sequence[DisclosureEntry]) -> None: ...

    async def close(self) -> None: ...


class _Statements:
    """The ledger's INSERT and last-hash query in the dialect's own SQL and parameter style."""

    def __init__(self, dialect: Dialect) -> None:
        insert = disclosure_ledger.insert().compile(
            dialect=dialect, column_keys=list(_APPENDED), for_executemany=True
        )
        order = insert.positiontup
        if order is None or sorted(order) != sorted(_APPENDED):
            raise RuntimeError(f"the ledger insert binds {order}, expected {_APPENDED}")
        self.insert = str(insert)
        self._order = tuple(_APPENDED.index(name) for name in order)
        self._processors = tuple(
            disclosure_ledger.c[_APPENDED[index]].type.dialect_impl(dialect).bind_processor(dialect)
            for index in self._order
        )
        self.last_hash = str(
            select(disclosure_ledger.c.entry_hash)
            .order_by(disclosure_ledger.c.sequence.desc())
            .limit(1)
            .compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        )

    def rows(self, previous: bytes, entries: Sequence[DisclosureEntry]) -> list[tuple[Any, ...]]:
        """Driver-ready rows, each entry chained to the one before it."""
        rows = []
        for entry in entries:
            entry_hash = chain_hash(previous, entry)
            values = (
                entry.subject_uscc,
                entry.recipient_id,
                entry.recipient_name,
                entry.recipient_kind,
                entry.tier,
                entry.purpose,
                entry.scenario,
                list(entry.fields),
                entry.disclose_time,
                previous,
                entry_hash,
            )
            rows.append(
                tuple(
                    values[index] if process is None else process(values[index])
                    for index, process in zip(self._order, self._processors, strict=True)
                )
            )
            previous = entry_hash
        return rows


class SqliteLedgerAppender:
    """A thread with its own SQLite connection runs each batch's whole transaction.

    The thread still takes this process's SQLite writer slot first, so it queues behind
    the service's other writers on the event loop instead of in SQLite's busy handler.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        database = engine.url.database
        if not database or database == ":memory:":
            raise ValueError(
                "the SQLite database must be a file: the ledger has its own connection"
            )
        self._engine = engine
        self._database = database
        self._statements = _Statements(engine.dialect)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ledger-append")
        self._connection: sqlite3.Connection | None = None  # used on the executor's thread only

    async def append(self, entries: Sequence[DisclosureEntry]) -> None:
        loop = asyncio.get_running_loop()
        async with sqlite_write_slot(self._engine):
            await loop.run_in_executor(self._executor, self._append, entries)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown(wait=True)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self._database,
                uri=self._database.startswith("file:"),
                isolation_level=None,
                check_same_thread=False,
            )
            configure_sqlite(connection)
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _append(self, entries: Sequence[DisclosureEntry]) -> None:
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            last = connection.execute(self._statements.last_hash).fetchone()
            previous = GENESIS if last is None else bytes(last[0])
            connection.executemany(
                self._statements.insert, self._statements.rows(previous, entries)
            )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise


class PostgresLedgerAppender:
    """Each batch on a pooled connection, through asyncpg itself."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._statements = _Statements(engine.dialect)

    async def append(self, entries: Sequence[DisclosureEntry]) -> None:
        async with self._engine.connect() as pooled:
            driver: Any = (await pooled.get_raw_connection()).driver_connection
            async with driver.transaction():
                await driver.execute("SELECT pg_advisory_xact_lock($1)", PG_LEDGER_LOCK)
                last = await driver.fetchval(self._statements.last_hash)
                previous = GENESIS if last is None else bytes(last)
                await driver.executemany(
                    self._statements.insert, self._statements.rows(previous, entries)
                )

    async def close(self) -> None:
        """Nothing of its own to release: connections go back to the engine's pool."""


def ledger_appender(engine: AsyncEngine) -> LedgerAppender:
    if engine.dialect.name == "sqlite":
        return SqliteLedgerAppender(engine)
    return PostgresLedgerAppender(engine)
