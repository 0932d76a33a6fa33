"""Data-subject requests in the database: one row each, moved on only from the state it was
read in; and the scrubbing of an enterprise's legal-representative data from the rows that
hold it, for a withdrawal or a deletion."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import (
    data_requests,
    identity_proof_failures,
    registry_records,
    verifications,
)
from service.domain.data_requests import DataRequest, RequestKind, RequestState
from service.domain.errors import FailedPrecondition

_PENDING = [RequestState.OPEN.value, RequestState.IN_PROGRESS.value]
WITHDRAWAL_IN_EFFECT = [RequestState.IN_PROGRESS.value, RequestState.COMPLETED.value]
"""A withdrawal counts from when it is made: while it is carried out, and once done."""


def _request(row: Any) -> DataRequest:
    # The table's columns are the dataclass's fields, by name.
    return DataRequest(
        **{**row._mapping, "kind": RequestKind(row.kind), "state": RequestState(row.state)}
    )


def _values(request: DataRequest) -> dict[str, Any]:
    return {
        **dataclasses.asdict(request),
        "kind": request.kind.value,
        "state": request.state.value,
    }


_DESTROYED_PERSON = {
    "legal_rep_name_ct": b"",
    "legal_rep_name_digest": b"",
    "legal_rep_name_masked": "",
    "legal_rep_id_ct": b"",
    "legal_rep_id_digest": b"",
    "legal_rep_id_masked": "",
}
"""What a row keeps of a legal representative once destroyed: that there was one."""


class SqlDataRequestStore:
    def __init__(self, engine: AsyncEngine, registry_engine: AsyncEngine) -> None:
        self._engine = engine
        self._registry_engine = registry_engine

    async def add(self, request: DataRequest, *, scrub: bool = False) -> None:
        """scrub: in the same transaction, destroy what the enterprise's verifications hold
        of its legal representative (a withdrawal takes effect with its record)."""
        async with write_transaction(self._engine) as connection:
            await connection.execute(data_requests.insert().values(**_values(request)))
            if scrub:
                await _scrub_verifications(connection, request.uscc)

    async def get(self, request_id: str) -> DataRequest | None:
        query = select(data_requests).where(data_requests.c.id == request_id)
        async with read_connection(self._engine) as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _request(row)

    async def replace(
        self, before: DataRequest, after: DataRequest, *, scrub: bool = False
    ) -> None:
        """Store `after` if the request is still in `before`'s state (FailedPrecondition
        DATA_REQUEST_CHANGED otherwise); scrub as for add."""
        statement = (
            update(data_requests)
            .where(data_requests.c.id == before.id, data_requests.c.state == before.state.value)
            .values(
                state=after.state.value,
                assignee=after.assignee,
                answer=after.answer,
                answer_time=after.answer_time,
            )
        )
        async with write_transaction(self._engine) as connection:
            changed = (await connection.execute(statement)).rowcount
            if changed != 1:
                raise FailedPrecondition(
                    "the request changed meanwhile; read it again", reason="DATA_REQUEST_CHANGED"
                )
            if scrub:
                await _scrub_verifications(connection, after.uscc)

    async def of_enterprise(self, uscc: str) -> list[DataRequest]:
        """Newest first."""
        query = (
            select(data_requests)
            .where(data_requests.c.uscc == uscc)
            .order_by(data_requests.c.open_time.desc(), data_requests.c.id)
        )
        async with read_connection(self._engine) as connection:
            return [_request(row) for row in await connection.execute(query)]

    async def pending(self, due_before: dt.datetime | None, limit: int) -> Sequence[DataRequest]:
        """Requests still to be answered, the nearest deadline first."""
        query = select(data_requests).where(data_requests.c.state.in_(_PENDING))
        if due_before is not None:
            query = query.where(data_requests.c.deadline <= due_before)
        query = query.order_by(data_requests.c.deadline, data_requests.c.id).limit(limit)
        async with read_connection(self._engine) as connection:
            return [_request(row) for row in await connection.execute(query)]

    async def withdrawn_since(self, uscc: str) -> dt.datetime | None:
        """When the enterprise's legal representative last withdrew their authorisation
        (a withdrawal in effect: being carried out or done), if they did."""
        query = select(func.max(data_requests.c.open_time)).where(
            data_requests.c.uscc == uscc,
            data_requests.c.kind == RequestKind.WITHDRAWAL.value,
            data_requests.c.state.in_(WITHDRAWAL_IN_EFFECT),
        )
        async with read_connection(self._engine) as connection:
            found: dt.datetime | None = await connection.scalar(query)  # max keeps UtcDateTime
        return found

    async def failed_proofs_since(self, uscc: str, since: dt.datetime) -> list[dt.datetime]:
        query = select(identity_proof_failures.c.attempt_time).where(
            identity_proof_failures.c.uscc == uscc,
            identity_proof_failures.c.attempt_time >= since,
        )
        async with read_connection(self._engine) as connection:
            return list((await connection.execute(query)).scalars())

    async def record_failed_proof(self, uscc: str, at: dt.datetime) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                identity_proof_failures.insert().values(uscc=uscc, attempt_time=at)
            )

    async def scrub_verifications(self, uscc: str) -> None:
        async with write_transaction(self._engine) as connection:
            await _scrub_verifications(connection, uscc)

    async def scrub_registry(self, uscc: str) -> int:
        """Destroy what the registry snapshot holds of the enterprise's legal
        representative (the registry may be a database of its own)."""
        statement = (
            update(registry_records)
            .where(registry_records.c.uscc == uscc)
            .values(**_DESTROYED_PERSON)
        )
        async with write_transaction(self._registry_engine) as connection:
            return int((await connection.execute(statement)).rowcount)


async def _scrub_verifications(connection: AsyncConnection, uscc: str) -> None:
    await connection.execute(
        update(verifications)
        .where(verifications.c.uscc == uscc)
        .values(
            **_DESTROYED_PERSON,
            auth_granted_by_ct=b"",
            auth_granted_by_masked="",
            # Keyed by the enterprise's key; emptied here so the live row holds nothing.
            fingerprint=b"",
        )
    )
