"""The change log: which enterprises changed, in the order the changes became visible.

Other processes follow it by sequence number (see adapters/standings.py), remembering the
highest they have read. That is only safe if no lower number can commit after a higher
one has been read. SQLite writers take turns on the database lock, so numbers commit in
order. On PostgreSQL, numbers are drawn at insert time and become visible at commit, so
two writers could commit out of order and a follower would skip the lower number for
good; writers therefore take a transaction-scoped lock before drawing one, and hold it to
their commit. Callers append changes as the last statement of their transaction, so the
lock is held only for the commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from service.adapters.storage.tables import change_log

PG_CHANGE_LOG_LOCK = 0x43484E47  # "CHNG"


async def append_changes(
    connection: AsyncConnection, usccs: Iterable[str], now: dt.datetime
) -> None:
    """Record that these enterprises changed, inside the caller's transaction."""
    ordered = sorted(set(usccs))
    if not ordered:
        return
    if connection.dialect.name == "postgresql":
        await connection.execute(select(func.pg_advisory_xact_lock(PG_CHANGE_LOG_LOCK)))
    await connection.execute(
        change_log.insert(), [{"uscc": uscc, "change_time": now} for uscc in ordered]
    )
