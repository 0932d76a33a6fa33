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

Each batch numbers its entries on from the last one, under the append lock, rather than
drawing numbers from a database sequence: PostgreSQL never gives back numbers drawn by a
transaction that rolled back, and a refused batch would leave a gap that looks like a
deleted entry.

A batch the database refuses for what its entries hold (a constraint, a value it cannot
store or encode) raises EntriesRefused: the same entries would fail again, while other
entries need not. Anything else (the connection, the disk, a missing table) is the
database's own failure and is raised as it is.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import Dialect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.storage.engine import configure_sqlite, sqlite_write_slot
from service.adapters.storage.tables import disclosure_ledger
from service.domain.disclosure import GENESIS, DisclosureEntry, chain_hash

# Writers on several replicas take turns appending, so the chain stays one chain.
PG_LEDGER_LOCK = 0x4C454447  # "LEDG"
_PG_SEQUENCE = "pg_get_serial_sequence('disclosure_ledger', 'sequence')"

_APPENDED = (
    "sequence",
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


# Raised while turning entries into rows: by construction about the entries' content.
_ROW_ERRORS = (ValueError, TypeError, AttributeError)
# sqlite3 raises IntegrityError for constraints, DataError for values it cannot hold, and
# UnicodeEncodeError (a ValueError) for text it cannot encode.
_SQLITE_REFUSALS = (sqlite3.IntegrityError, sqlite3.DataError, *_ROW_ERRORS)
# SQLSTATE classes 22 (data exception: too long, bad encoding, NUL in text, a value of the
# wrong type, which asyncpg reports as 22000) and 23 (integrity constraint violation).
_POSTGRES_REFUSED_CLASSES = ("22", "23")


class EntriesRefused(Exception):
    """The database refused a batch for what its entries hold, not for its own state."""


def _refused_by_postgres(error: BaseException) -> bool:
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_POSTGRES_REFUSED_CLASSES)
    return isinstance(error, _ROW_ERRORS)


class LedgerAppender(Protocol):
    async def append(self, entries: Sequence[DisclosureEntry]) -> None: ...

    async def close(self) -> None: ...


def _unchanged(value: Any) -> Any:
    return value


class _Statements:
    """The ledger's INSERT and last-hash query in the dialect's own SQL and parameter style."""

    def __init__(self, dialect: Dialect) -> None:
        insert = disclosure_ledger.insert().compile(
            dialect=dialect, column_keys=list(_APPENDED), for_executemany=True
        )
        # Rows are built in _APPENDED order below; both dialects bind in that order.
        if insert.positiontup != list(_APPENDED):
            raise RuntimeError(f"the ledger insert binds {insert.positiontup}, not {_APPENDED}")
        self.insert = str(insert)
        processors = {
            name: disclosure_ledger.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in _APPENDED
        }
        self._fields: Callable[[Any], Any] = processors.pop("fields") or _unchanged
        # The other columns whose types convert values for this driver, by position.
        self._converting: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (_APPENDED.index(name), process)
            for name, process in processors.items()
            if process is not None
        )
        # Entries of one kind of read share their field list: bind each list once.
        self._bound_fields: dict[tuple[str, ...], Any] = {}
        self.last_entry = str(
            select(disclosure_ledger.c.sequence, disclosure_ledger.c.entry_hash)
            .order_by(disclosure_ledger.c.sequence.desc())
            .limit(1)
            .compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        )

    def rows(
        self, last: Sequence[Any] | None, entries: Sequence[DisclosureEntry]
    ) -> list[tuple[Any, ...]]:
        """Driver-ready rows, numbered and chained on from the last entry (None: the first)."""
        sequence, previous = (0, GENESIS) if last is None else (int(last[0]), bytes(last[1]))
        rows = []
        bound_fields = self._bound_fields
        for entry in entries:
            sequence += 1
            entry_hash = chain_hash(previous, entry)
            fields = bound_fields.get(entry.fields)
            if fields is None:
                fields = bound_fields[entry.fields] = self._fields(list(entry.fields))
            row = [
                sequence,
                entry.subject_uscc,
                entry.recipient_id,
                entry.recipient_name,
                entry.recipient_kind,
                entry.tier,
                entry.purpose,
                entry.scenario,
                fields,
                entry.disclose_time,
                previous,
                entry_hash,
            ]
            for index, process in self._converting:
                row[index] = process(row[index])
            rows.append(tuple(row))
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
            last = connection.execute(self._statements.last_entry).fetchone()
            connection.executemany(self._statements.insert, self._statements.rows(last, entries))
            connection.execute("COMMIT")
        except BaseException as error:
            try:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
            except sqlite3.Error:
                # Left inside a transaction, the connection would fail every later BEGIN.
                self._disconnect()
            if isinstance(error, _SQLITE_REFUSALS):
                raise EntriesRefused(type(error).__name__) from error
            raise


class PostgresLedgerAppender:
    """Each batch on a pooled connection, through asyncpg itself."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._statements = _Statements(engine.dialect)

    async def append(self, entries: Sequence[DisclosureEntry]) -> None:
        async with self._engine.connect() as pooled:
            driver: Any = (await pooled.get_raw_connection()).driver_connection
            # BEGIN and the lock in one simple-protocol message: one round trip, not two.
            # The last entry is read by a statement of its own, after the lock is held, so
            # its snapshot includes every batch committed before ours.
            try:
                await driver.execute(f"BEGIN; SELECT pg_advisory_xact_lock({PG_LEDGER_LOCK})")
                last = await driver.fetchrow(self._statements.last_entry)
                rows = self._statements.rows(last, entries)
                await driver.executemany(self._statements.insert, rows)
                # The table's own sequence is kept level with the numbers given here, so a
                # row inserted without one (an older replica during an upgrade, a hand-made
                # row) goes on from the last entry; sent with the COMMIT: no round trip more.
                await driver.execute(f"SELECT setval({_PG_SEQUENCE}, {int(rows[-1][0])}); COMMIT")
            except BaseException as error:
                await _abandon(pooled, driver)
                if _refused_by_postgres(error):
                    raise EntriesRefused(type(error).__name__) from error
                raise

    async def close(self) -> None:
        """Nothing of its own to release: connections go back to the engine's pool."""


async def _abandon(pooled: AsyncConnection, driver: Any) -> None:
    """Roll back a failed batch; a connection that cannot is closed, never pooled again
    mid-transaction (SQLAlchemy's reset on return knows nothing of this transaction), and
    one the server dropped is never pooled again at all (the next batch would fail on it)."""
    try:
        if driver.is_closed():
            await pooled.invalidate()
        elif driver.is_in_transaction():
            await driver.execute("ROLLBACK")
    except BaseException:
        await pooled.invalidate()
        raise


def ledger_appender(engine: AsyncEngine) -> LedgerAppender:
    if engine.dialect.name == "sqlite":
        return SqliteLedgerAppender(engine)
    return PostgresLedgerAppender(engine)
