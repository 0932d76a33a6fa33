"""Deciding verifications again, in the database: schedules, claims, history, applied keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from service.adapters.storage.change_log import append_changes
from service.adapters.storage.tables import enterprise_rechecks, verification_history, verifications
from service.adapters.storage.verification_rows import (
    decision_to_row,
    history_to_row,
    load_histories,
    schedule_from_row,
    schedule_to_row,
    verification_from_row,
)
from service.app.ports import AlreadyApplied
from service.domain.recheck_schedule import RecheckState
from service.domain.verification import OutcomeChange, Verification


class SqlRecheckRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def newest_per_caller(self, uscc: str) -> list[Verification]:
        query = (
            select(verifications)
            .where(verifications.c.uscc == uscc)
            .order_by(verifications.c.create_time.desc(), verifications.c.id.desc())
        )
        newest: dict[str, Verification] = {}
        for row in (await self._connection.execute(query)).mappings():
            newest.setdefault(row["caller"], verification_from_row(row))
        return list(newest.values())

    async def newest_per_caller_of(
        self, usccs: Sequence[str]
    ) -> dict[str, list[tuple[Verification, RecheckState]]]:
        query = (
            select(verifications)
            .where(verifications.c.uscc.in_(sorted(set(usccs))))
            .order_by(
                verifications.c.uscc, verifications.c.create_time.desc(), verifications.c.id.desc()
            )
        )
        newest: dict[str, dict[str, tuple[Verification, RecheckState]]] = {}
        for row in (await self._connection.execute(query)).mappings():
            newest.setdefault(row["uscc"], {}).setdefault(
                row["caller"], (verification_from_row(row), schedule_from_row(row))
            )
        return {uscc: list(by_caller.values()) for uscc, by_caller in newest.items()}

    async def applied_of(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Mapping[str, Any]]:
        if not keys:
            return {}
        query = select(
            enterprise_rechecks.c.uscc,
            enterprise_rechecks.c.idempotency_key,
            enterprise_rechecks.c.result,
        ).where(
            tuple_(enterprise_rechecks.c.uscc, enterprise_rechecks.c.idempotency_key).in_(
                sorted(set(keys))
            )
        )
        return {
            (row.uscc, row.idempotency_key): row.result
            for row in await self._connection.execute(query)
        }

    async def checked(self, verification_ids: Sequence[str], now: dt.datetime) -> None:
        if verification_ids:
            await self._connection.execute(
                update(verifications)
                .where(verifications.c.id.in_(sorted(set(verification_ids))))
                .values(check_time=now)
            )

    async def current(
        self, verification_ids: Sequence[str], *, hold: bool
    ) -> dict[str, tuple[Verification, RecheckState]]:
        # In id order, so two transactions locking the same verifications queue rather
        # than deadlock. SQLite's writer holds the whole database already.
        query = (
            select(verifications)
            .where(verifications.c.id.in_(verification_ids))
            .order_by(verifications.c.id)
        )
        if hold and self._connection.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = (await self._connection.execute(query)).mappings().all()
        histories = await load_histories(self._connection, [row["id"] for row in rows])
        return {
            row["id"]: (
                verification_from_row(row, histories.get(row["id"], ())),
                schedule_from_row(row),
            )
            for row in rows
        }

    async def change(self, verification_id: str, change: OutcomeChange, key: str) -> None:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(
                    verification_history.insert().values(
                        history_to_row(verification_id, change, key)
                    )
                )
        except IntegrityError as exc:
            raise AlreadyApplied(key) from exc
        await self._connection.execute(
            update(verifications)
            .where(verifications.c.id == verification_id)
            .values(**decision_to_row(change.decision), update_time=change.change_time)
        )

    async def schedule(self, verification_id: str, state: RecheckState) -> None:
        await self._connection.execute(
            update(verifications)
            .where(verifications.c.id == verification_id)
            .values(**schedule_to_row(state))
        )

    async def claim_due(self, now: dt.datetime, lease_until: dt.datetime, limit: int) -> list[str]:
        query = (
            select(verifications.c.id)
            .where(verifications.c.recheck_time <= now)
            .order_by(verifications.c.recheck_time, verifications.c.id)
            .limit(limit)
        )
        if self._connection.dialect.name == "postgresql":
            # Rows another replica is claiming are skipped, not waited for.
            query = query.with_for_update(skip_locked=True)
        ids = [row.id for row in await self._connection.execute(query)]
        if ids:
            await self._connection.execute(
                update(verifications)
                .where(verifications.c.id.in_(ids))
                .values(recheck_time=lease_until)
            )
        return ids

    async def next_due_time(self) -> dt.datetime | None:
        query = select(func.min(verifications.c.recheck_time))
        earliest: dt.datetime | None = (await self._connection.execute(query)).scalar()
        return earliest

    async def bring_forward(self, usccs: Sequence[str], now: dt.datetime) -> int:
        result = await self._connection.execute(
            update(verifications)
            .where(verifications.c.uscc.in_(sorted(set(usccs))), verifications.c.recheck_time > now)
            .values(recheck_time=now)
        )
        return int(result.rowcount)

    async def applied(self, uscc: str, key: str) -> Mapping[str, Any] | None:
        query = select(enterprise_rechecks.c.result).where(
            enterprise_rechecks.c.uscc == uscc, enterprise_rechecks.c.idempotency_key == key
        )
        result: Mapping[str, Any] | None = (
            await self._connection.execute(query)
        ).scalar_one_or_none()
        return result

    async def record_applied(
        self, uscc: str, key: str, trigger: str, result: Mapping[str, Any], now: dt.datetime
    ) -> None:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(
                    enterprise_rechecks.insert().values(
                        uscc=uscc,
                        idempotency_key=key,
                        trigger=trigger,
                        result=dict(result),
                        recheck_time=now,
                    )
                )
        except IntegrityError as exc:
            raise AlreadyApplied(key) from exc

    async def enterprises_changed(self, usccs: Sequence[str], now: dt.datetime) -> None:
        await append_changes(self._connection, usccs, now)
