"""What recording many confirmed re-checks at once reads and writes: the decisions they
confirmed, held against concurrent re-checks, and their keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from service.adapters.storage.tables import enterprise_rechecks, verifications
from service.app.ports import Confirmation
from service.domain.batches import ClaimedItem


async def standing_decisions(
    connection: AsyncConnection, verification_ids: Sequence[str]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each verification's outcome and reason codes, held until the transaction ends (in id
    order, as the re-checks lock them, so the two queue rather than deadlock)."""
    if not verification_ids:
        return {}
    query = (
        select(verifications.c.id, verifications.c.outcome, verifications.c.reasons)
        .where(verifications.c.id.in_(sorted(set(verification_ids))))
        .order_by(verifications.c.id)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return {
        row.id: (row.outcome, tuple(reason["code"] for reason in row.reasons))
        for row in await connection.execute(query)
    }


async def record_keys(
    connection: AsyncConnection,
    confirmed: Sequence[tuple[ClaimedItem, Confirmation]],
    now: dt.datetime,
) -> set[tuple[str, str]]:
    """The keys recorded now; one recorded before (by a concurrent holder of the same item)
    is left as it was and not returned."""
    if not confirmed:
        return set()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    # One statement with the rows as parameters (executemany): compiled once and cached,
    # and sent by SQLAlchemy as multi-row INSERTs ("insertmanyvalues") that still return
    # what they inserted. Rows written into the statement itself (.values([...])) were
    # compiled anew for every chunk, a tenth of the worker's CPU.
    statement = (
        insert(enterprise_rechecks)
        .on_conflict_do_nothing()
        .returning(enterprise_rechecks.c.uscc, enterprise_rechecks.c.idempotency_key)
    )
    rows = [
        {
            "uscc": c.uscc,
            "idempotency_key": c.key,
            "trigger": c.trigger,
            "result": dict(c.document),
            "recheck_time": now,
        }
        for _, c in confirmed
    ]
    return {(row.uscc, row.idempotency_key) for row in await connection.execute(statement, rows)}
