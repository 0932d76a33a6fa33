"""Database engines for the two backends: SQLite (the embedded default) and PostgreSQL.

Both run through SQLAlchemy Core's asyncio layer (aiosqlite, asyncpg) so one set of
queries and one set of migrations serves both.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# Execution option naming the BEGIN a SQLite transaction starts with. Writers take the
# write lock up front (IMMEDIATE) so two writers never deadlock upgrading a read lock;
# readers pass "DEFERRED" and never wait for writers (WAL).
SQLITE_BEGIN = "sqlite_begin"


def async_url(url: str) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database backend {backend!r}")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    full_url = async_url(url)
    parsed = make_url(full_url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(full_url, **kwargs)
    # hide_parameters: SQL errors must never carry bound values (they may be personal data)
    # into logs or tracebacks.
    return create_async_engine(
        full_url, hide_parameters=True, pool_size=10, json_deserializer=orjson.loads, **kwargs
    )


def sqlite_file(url: str) -> Path | None:
    """The database file a sqlite: URL names; None for another backend or an in-memory one."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None  # a URI filename: SQLite's own rules, left to SQLite
    return Path(database)


def _sqlite_engine(url: str, **kwargs: Any) -> AsyncEngine:
    path = sqlite_file(url)
    # SQLite would create a new, empty database in a directory that exists; a directory
    # that does not is a mistyped path far more often than a wish for a new database.
    if path is not None and not path.parent.is_dir():
        raise FileNotFoundError(f"the SQLite database's directory {path.parent} does not exist")
    if path is not None and path.is_dir():
        # SQLite's own words for it, said here: the driver would say them from its thread,
        # which may still be running when a command that stops on them exits.
        raise sqlite3.OperationalError(f"unable to open database file ({path} is a directory)")
    engine = create_async_engine(
        url, hide_parameters=True, json_deserializer=orjson.loads, **kwargs
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let the "begin" hook below emit BEGIN itself (pysqlite's own is always DEFERRED).
        dbapi_connection.isolation_level = None
        configure_sqlite(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def configure_sqlite(dbapi_connection: Any) -> None:
    """Every SQLite connection of the service, pooled or not, is set up the same way."""
    cursor = dbapi_connection.cursor()
    # The busy timeout first: switching to WAL takes a lock, and a new connection opened
    # while another writes must wait for it rather than fail with "database is locked".
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns (the ledger promises entries are durable
    # before the answer leaves); in WAL mode NORMAL could lose the last commits on power loss.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


# SQLite has one writer at a time. Letting several connections of one process queue for
# the write lock inside SQLite (each in its own thread, in the busy handler) stalled
# writers for the whole busy timeout under concurrency; queueing them here instead, on
# the event loop, keeps one writer in SQLite and the rest waiting cheaply.
_sqlite_writers: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction: on SQLite, one per process at a time; on PostgreSQL, as many as come."""
    if not is_sqlite(engine):
        async with engine.begin() as connection:
            yield connection
        return
    lock = _sqlite_writers.setdefault(engine.sync_engine, asyncio.Lock())
    async with lock, engine.begin() as connection:
        yield connection


@contextlib.asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reading: on SQLite its transactions begin DEFERRED, so readers never
    take or wait for the write lock."""
    async with engine.connect() as connection:
        yield await connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})


@contextlib.asynccontextmanager
async def sqlite_write_slot(engine: AsyncEngine) -> AsyncIterator[None]:
    """The writer slot alone, for code that manages its own connection (the unit of work)."""
    if not is_sqlite(engine):
        yield
        return
    async with _sqlite_writers.setdefault(engine.sync_engine, asyncio.Lock()):
        yield
