"""The authorisations recorded with verifications, as the archive asks for them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.data_requests import WITHDRAWAL_IN_EFFECT
from service.adapters.storage.engine import read_connection
from service.adapters.storage.tables import data_requests, verification_history, verifications
from service.domain.data_requests import RequestKind
from service.domain.verification import AuthorisationScope, Outcome


class SqlAuthorisationRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def archive_scopes(self, uscc: str, as_of: dt.datetime) -> frozenset[AuthorisationScope]:
        # A verification counts as it was decided at as_of, by its history: one decided
        # VERIFIED later (a PENDING found in the registry) does not speak for earlier reads,
        # and one REJECTED later still does.
        entry = verification_history.alias("entry")
        decided_by_then = (
            select(func.max(entry.c.sequence))
            .where(entry.c.verification_id == verifications.c.id, entry.c.change_time <= as_of)
            .scalar_subquery()
        )
        # An authorisation the legal representative withdrew by then speaks for nothing;
        # one granted after the withdrawal does.
        withdrawn = (
            select(func.max(data_requests.c.open_time))
            .where(
                data_requests.c.uscc == uscc,
                data_requests.c.kind == RequestKind.WITHDRAWAL.value,
                data_requests.c.state.in_(WITHDRAWAL_IN_EFFECT),
                data_requests.c.open_time <= as_of,
            )
            .scalar_subquery()
        )
        query = (
            select(verifications.c.auth_scopes)
            .join(
                verification_history, verification_history.c.verification_id == verifications.c.id
            )
            .where(
                verifications.c.uscc == uscc,
                verifications.c.create_time <= as_of,
                verification_history.c.sequence == decided_by_then,
                verification_history.c.outcome == Outcome.VERIFIED.value,
                or_(withdrawn.is_(None), verifications.c.auth_grant_time > withdrawn),
            )
            .order_by(verifications.c.create_time.desc(), verifications.c.id.desc())
            .limit(1)
        )
        async with read_connection(self._engine) as connection:
            scopes = (await connection.execute(query)).scalar_one_or_none()
        return frozenset(AuthorisationScope(s) for s in scopes or ())
