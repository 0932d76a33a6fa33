"""Which storage failures are outages (UNAVAILABLE, retry) and which are bugs (INTERNAL)."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from service.adapters.storage.outages import is_storage_outage


def _wrapped(error: Exception) -> sa_exc.DBAPIError:
    """As SQLAlchemy raises a driver's error."""
    return sa_exc.OperationalError("INSERT ...", {}, error)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(sqlite3.OperationalError("database or disk is full")),
        _wrapped(sqlite3.OperationalError("disk I/O error")),
        _wrapped(sqlite3.OperationalError("attempt to write a readonly database")),
        _wrapped(sqlite3.OperationalError("unable to open database file")),
        _wrapped(sqlite3.OperationalError("database is locked")),
        asyncpg.exceptions.InvalidCatalogNameError("database does not exist"),
        asyncpg.exceptions.DiskFullError("could not extend file"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__ + ":" + str(getattr(e, "orig", e))[:30],
)
def test_outages(error: BaseException) -> None:
    assert is_storage_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(sqlite3.OperationalError("no such table: verifications")),
        _wrapped(sqlite3.OperationalError('near "SELEC": syntax error')),
        sa_exc.IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        asyncpg.exceptions.UndefinedColumnError("column x does not exist"),
        KeyError("x"),
        ValueError("bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bugs_are_not_outages(error: BaseException) -> None:
    assert not is_storage_outage(error)


def test_a_cause_chain_is_followed() -> None:
    try:
        try:
            raise asyncpg.exceptions.DiskFullError("full")
        except asyncpg.exceptions.DiskFullError as inner:
            raise RuntimeError("while writing") from inner
    except RuntimeError as outer:
        assert is_storage_outage(outer)
