"""Which failures of storage are outages: the database is down, unreachable, full or
read-only, through no fault of the request. The request handling answers these as
UNAVAILABLE with a retry delay, never INTERNAL; anything else stays a bug."""

from __future__ import annotations

import sqlite3

import asyncpg
from sqlalchemy import exc as sa_exc

# SQLite reports a full disk, a file it cannot open or write and a held lock the same
# way (OperationalError) as a malformed statement; these say the storage, not the
# statement, is at fault.
_SQLITE_OUTAGE_WORDS = (
    "disk is full",
    "disk i/o error",
    "unable to open database",
    "readonly database",
    "database is locked",
)


def is_storage_outage(error: BaseException) -> bool:
    for cause in _causes(error):
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return True
        if isinstance(cause, asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
            return True
        if isinstance(cause, asyncpg.exceptions.InsufficientResourcesError):
            return True  # disk full, out of memory, too many connections
        if isinstance(cause, asyncpg.exceptions.OperatorInterventionError):
            return True  # the server is shutting down or the database is being dropped
        if isinstance(cause, asyncpg.exceptions.ReadOnlySQLTransactionError):
            return True  # a standby
        if isinstance(cause, asyncpg.exceptions.InvalidCatalogNameError):
            return True  # the database is gone (dropped, or being restored)
        if isinstance(cause, asyncpg.exceptions.InvalidAuthorizationSpecificationError):
            return True  # the server refuses our role: an operations problem, not the call's
        if isinstance(cause, sqlite3.OperationalError):
            message = str(cause).lower()
            if any(words in message for words in _SQLITE_OUTAGE_WORDS):
                return True
        if isinstance(cause, ConnectionError | TimeoutError):
            return True
        if isinstance(cause, OSError) and not isinstance(cause, FileNotFoundError):
            return True
    return False


def driver_reason(error: BaseException) -> str:
    """The driver's own reason for a failure, in one line: SQLAlchemy's messages run on to
    the SQL and a link, and never the URL, which may carry a password."""
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
        )
    return seen
