"""The authorisations recorded with verifications, as the archive asks for them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection
from service.adapters.storage.tables import verifications
from service.domain.verification import AuthorisationScope, Outcome


class SqlAuthorisationRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def archive_scopes(self, uscc: str, as_of: dt.datetime) -> frozenset[AuthorisationScope]:
        query = (
            select(verifications.c.auth_scopes)
            .where(
                verifications.c.uscc == uscc,
                verifications.c.outcome == Outcome.VERIFIED.value,
                verifications.c.create_time <= as_of,
            )
            .order_by(verifications.c.create_time.desc(), verifications.c.id.desc())
            .limit(1)
        )
        async with read_connection(self._engine) as connection:
            scopes = (await connection.execute(query)).scalar_one_or_none()
        return frozenset(AuthorisationScope(s) for s in scopes or ())
