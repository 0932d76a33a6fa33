"""Eligibility policy versions in the database: loaded, listed, retired; never edited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import eligibility_policies
from service.domain.errors import AlreadyExists, NotFound
from service.domain.policies import Policy


@dataclass(frozen=True)
class StoredPolicy:
    document: Mapping[str, Any]
    retire_time: dt.datetime | None
    load_time: dt.datetime


class SqlPolicyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, policy: Policy, document: Mapping[str, Any], now: dt.datetime) -> bool:
        """Store a new version; False when the identical version is already there."""
        key = (
            eligibility_policies.c.platform == policy.platform,
            eligibility_policies.c.policy_id == policy.policy_id,
            eligibility_policies.c.version == policy.version,
        )
        async with write_transaction(self._engine) as connection:
            held = (
                await connection.execute(select(eligibility_policies.c.document).where(*key))
            ).first()
            if held is not None:
                if dict(held.document) == dict(document):
                    return False
                raise AlreadyExists(
                    f"{policy.reference} exists with other content; load a new version",
                    reason="POLICY_VERSION_EXISTS",
                )
            await connection.execute(
                eligibility_policies.insert().values(
                    platform=policy.platform,
                    policy_id=policy.policy_id,
                    version=policy.version,
                    document=dict(document),
                    announce_time=policy.announce_time,
                    effective_time=policy.effective_time,
                    load_time=now,
                )
            )
        return True

    async def retire(self, platform: str, policy_id: str, version: int, now: dt.datetime) -> None:
        async with write_transaction(self._engine) as connection:
            result = await connection.execute(
                update(eligibility_policies)
                .where(
                    eligibility_policies.c.platform == platform,
                    eligibility_policies.c.policy_id == policy_id,
                    eligibility_policies.c.version == version,
                    eligibility_policies.c.retire_time.is_(None),
                )
                .values(retire_time=now)
            )
        if not result.rowcount:
            raise NotFound(f"no active version {version} of {platform}/{policy_id}")

    async def all(self) -> list[StoredPolicy]:
        query = select(
            eligibility_policies.c.document,
            eligibility_policies.c.retire_time,
            eligibility_policies.c.load_time,
        ).order_by(
            eligibility_policies.c.platform,
            eligibility_policies.c.policy_id,
            eligibility_policies.c.version,
        )
        async with read_connection(self._engine) as connection:
            return [
                StoredPolicy(row.document, row.retire_time, row.load_time)
                for row in await connection.execute(query)
            ]

    async def generation(self) -> tuple[int, int]:
        """Changes whenever a version is loaded or retired: a cheap test for a stale cache.

        Counts rather than latest times, which a host with a slow clock would not move:
        versions are never deleted and a retirement is never undone, so both counts only
        rise.
        """
        query = select(
            func.count(),
            func.count(eligibility_policies.c.retire_time),
        ).select_from(eligibility_policies)
        async with read_connection(self._engine) as connection:
            row = (await connection.execute(query)).one()
        return int(row[0]), int(row[1])
