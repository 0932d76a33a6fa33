"""Integrity levels and scorecards in the database."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.storage.change_log import append_changes
from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import (
    archive_facts,
    integrity_levels,
    scorecards,
    verifications,
)
from service.domain.archive import Fact, FactKind
from service.domain.scorecard import IntegrityLevel, LevelReason, VerificationSummary
from service.domain.verification import AuthorisationScope


def _level(row: RowMapping) -> IntegrityLevel:
    return IntegrityLevel(
        uscc=row["uscc"],
        level_class=row["level_class"],
        sufficient_data=bool(row["sufficient_data"]),
        score=int(row["score"]),
        reasons=tuple(
            LevelReason(
                r["factor"], r["points"], r["max_points"], r["description"], tuple(r["records"])
            )
            for r in row["reasons"]
        ),
        improvements=tuple(row["improvements"]),
        cap_reason=row["cap_reason"],
        scorecard_version=row["scorecard_version"],
        inputs_digest=row["inputs_digest"],
        compute_time=row["compute_time"],
        revisit_time=row["revisit_time"],
    )


def _row(level: IntegrityLevel, role: str) -> dict[str, Any]:
    return {
        "uscc": level.uscc,
        "role": role,
        "scorecard_version": level.scorecard_version,
        "level_class": level.level_class,
        "sufficient_data": level.sufficient_data,
        "score": level.score,
        "reasons": [
            {
                "factor": r.factor,
                "points": r.points,
                "max_points": r.max_points,
                "description": r.description,
                "records": list(r.records),
            }
            for r in level.reasons
        ],
        "improvements": list(level.improvements),
        "cap_reason": level.cap_reason,
        "inputs_digest": level.inputs_digest,
        "compute_time": level.compute_time,
        "revisit_time": level.revisit_time,
    }


class SqlLevelStore:
    """connection: a transaction of the caller's that every read and write joins (the
    caller commits); None: each call runs in a transaction of its own."""

    def __init__(self, engine: AsyncEngine, connection: AsyncConnection | None = None) -> None:
        self._engine = engine
        self._connection = connection

    def joining(self, connection: AsyncConnection) -> SqlLevelStore:
        """The same store inside the caller's transaction: its reads see the caller's
        uncommitted writes, and its writes commit or roll back with them."""
        return SqlLevelStore(self._engine, connection)

    def _reading(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        if self._connection is not None:
            return _joined(self._connection)
        return read_connection(self._engine)

    def _writing(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        if self._connection is not None:
            return _joined(self._connection)
        return write_transaction(self._engine)

    async def load_inputs(
        self, usccs: Sequence[str]
    ) -> dict[str, tuple[list[Fact], VerificationSummary | None]]:
        """Open facts and the latest verification of each enterprise, in two queries."""
        result: dict[str, tuple[list[Fact], VerificationSummary | None]] = {
            u: ([], None) for u in usccs
        }
        async with self._reading() as connection:
            facts = await connection.execute(
                select(archive_facts)
                .where(archive_facts.c.uscc.in_(usccs), archive_facts.c.superseded_time.is_(None))
                .order_by(archive_facts.c.id)
            )
            for row in facts.mappings():
                result[row["uscc"]][0].append(
                    Fact(
                        row["uscc"],
                        FactKind(row["kind"]),
                        row["fact_key"],
                        row["platform"],
                        row["payload"],
                    )
                )
            latest = await connection.execute(
                select(
                    verifications.c.uscc,
                    verifications.c.id,
                    verifications.c.outcome,
                    verifications.c.create_time,
                    # A verification counts from when it was decided as it stands: a
                    # PENDING one found in the registry later is verified from then.
                    func.coalesce(verifications.c.update_time, verifications.c.create_time).label(
                        "decision_time"
                    ),
                    verifications.c.auth_scopes,
                )
                .where(verifications.c.uscc.in_(usccs))
                .order_by(verifications.c.uscc, verifications.c.create_time.desc())
            )
            for found in latest:
                if result[found.uscc][1] is None:
                    summary = VerificationSummary(
                        found.id,
                        found.outcome == "verified",
                        found.decision_time,
                        integrity_level_authorised=AuthorisationScope.INTEGRITY_LEVEL.value
                        in found.auth_scopes,
                    )
                    result[found.uscc] = (result[found.uscc][0], summary)
        return result

    async def latest_digests(self, usccs: Sequence[str], role: str) -> dict[str, tuple[str, str]]:
        """(scorecard version, inputs digest) of each enterprise's current level."""
        newest = (
            select(integrity_levels.c.uscc, func.max(integrity_levels.c.id).label("id"))
            .where(integrity_levels.c.uscc.in_(usccs), integrity_levels.c.role == role)
            .group_by(integrity_levels.c.uscc)
            .subquery()
        )
        query = select(
            integrity_levels.c.uscc,
            integrity_levels.c.scorecard_version,
            integrity_levels.c.inputs_digest,
        ).join(newest, integrity_levels.c.id == newest.c.id)
        async with self._reading() as connection:
            return {
                r.uscc: (r.scorecard_version, r.inputs_digest)
                for r in await connection.execute(query)
            }

    async def save(self, levels: Sequence[tuple[IntegrityLevel, str]], now: dt.datetime) -> None:
        if not levels:
            return
        async with self._writing() as connection:
            # The levels about to be replaced are no longer due: their successors carry
            # the time that matters now.
            for role in sorted({role for _level, role in levels}):
                replaced = [level.uscc for level, r in levels if r == role]
                await _clear_revisits(
                    connection,
                    integrity_levels.c.uscc.in_(replaced),
                    integrity_levels.c.role == role,
                    integrity_levels.c.revisit_time.is_not(None),
                )
            await connection.execute(
                integrity_levels.insert(), [_row(level, role) for level, role in levels]
            )
            # A new class changes the enterprise's standing.
            await append_changes(
                connection, (level.uscc for level, role in levels if role == "active"), now
            )

    async def claim_due(self, now: dt.datetime, lease_until: dt.datetime, limit: int) -> list[str]:
        """Enterprises with a level whose revisit time has come, each claimed until
        lease_until: no other claimer gets them before then, and if the claimer dies
        without recomputing them they fall due again. On PostgreSQL rows another
        replica is claiming are skipped, not waited for."""
        query = (
            select(integrity_levels.c.id, integrity_levels.c.uscc)
            .where(integrity_levels.c.revisit_time <= now)
            .order_by(integrity_levels.c.revisit_time)
            .limit(limit)
        )
        async with self._writing() as connection:
            if connection.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = (await connection.execute(query)).all()
            if rows:
                await connection.execute(
                    update(integrity_levels)
                    .where(integrity_levels.c.id.in_([row.id for row in rows]))
                    .values(revisit_time=lease_until)
                )
        return sorted({row.uscc for row in rows})

    async def release_claims(self, usccs: Sequence[str], lease_until: dt.datetime) -> None:
        """Claims of these enterprises still open: no newer level replaced their level."""
        async with self._writing() as connection:
            await _clear_revisits(
                connection,
                integrity_levels.c.uscc.in_(usccs),
                integrity_levels.c.revisit_time == lease_until,
            )

    async def next_revisit_time(self) -> dt.datetime | None:
        async with self._reading() as connection:
            query = select(func.min(integrity_levels.c.revisit_time))
            earliest: dt.datetime | None = (await connection.execute(query)).scalar()
        return earliest

    async def current(
        self, uscc: str, role: str = "active", as_of: dt.datetime | None = None
    ) -> IntegrityLevel | None:
        query = select(integrity_levels).where(
            integrity_levels.c.uscc == uscc, integrity_levels.c.role == role
        )
        if as_of is not None:
            query = query.where(integrity_levels.c.compute_time <= as_of)
        query = query.order_by(integrity_levels.c.id.desc()).limit(1)
        async with self._reading() as connection:
            row = (await connection.execute(query)).mappings().first()
        return _level(row) if row else None

    async def current_classes(
        self, usccs: Sequence[str], role: str = "active"
    ) -> dict[str, tuple[str, dt.datetime | None]]:
        """The class and revisit time of each enterprise's current level, in one query."""
        newest = (
            select(func.max(integrity_levels.c.id).label("id"))
            .where(integrity_levels.c.uscc.in_(usccs), integrity_levels.c.role == role)
            .group_by(integrity_levels.c.uscc)
            .subquery()
        )
        query = select(
            integrity_levels.c.uscc, integrity_levels.c.level_class, integrity_levels.c.revisit_time
        ).join(newest, integrity_levels.c.id == newest.c.id)
        async with self._reading() as connection:
            return {
                row.uscc: (row.level_class, row.revisit_time)
                for row in await connection.execute(query)
            }

    async def history(
        self, uscc: str, role: str = "active", limit: int | None = None
    ) -> list[IntegrityLevel]:
        query = (
            select(integrity_levels)
            .where(integrity_levels.c.uscc == uscc, integrity_levels.c.role == role)
            .order_by(integrity_levels.c.id.desc())
            .limit(limit)
        )
        async with self._reading() as connection:
            return [_level(row) for row in (await connection.execute(query)).mappings()]

    async def enterprises(self, batch: int) -> AsyncIterator[list[str]]:
        """Every enterprise with an archive, in batches, by USCC."""
        after = ""
        while True:
            query = (
                select(archive_facts.c.uscc)
                .where(archive_facts.c.superseded_time.is_(None), archive_facts.c.uscc > after)
                .group_by(archive_facts.c.uscc)
                .order_by(archive_facts.c.uscc)
                .limit(batch)
            )
            async with self._reading() as connection:
                usccs = [row.uscc for row in await connection.execute(query)]
            if not usccs:
                return
            yield usccs
            after = usccs[-1]

    async def distribution(self, scorecard_version: str) -> dict[str, int]:
        """Classes of each enterprise's latest level under one scorecard version."""
        newest = (
            select(func.max(integrity_levels.c.id).label("id"))
            .where(integrity_levels.c.scorecard_version == scorecard_version)
            .group_by(integrity_levels.c.uscc)
            .subquery()
        )
        query = (
            select(integrity_levels.c.level_class, func.count())
            .join(newest, integrity_levels.c.id == newest.c.id)
            .group_by(integrity_levels.c.level_class)
        )
        async with self._reading() as connection:
            return {row[0]: int(row[1]) for row in await connection.execute(query)}


@contextlib.asynccontextmanager
async def _joined(connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    yield connection


async def _clear_revisits(connection: AsyncConnection, *where: ColumnElement[bool]) -> None:
    """No longer due: the levels that match.

    On PostgreSQL the rows are locked in id order first, so two writers clearing levels
    of the same enterprises queue instead of deadlocking.
    """
    due = select(integrity_levels.c.id).where(*where).order_by(integrity_levels.c.id)
    if connection.dialect.name == "postgresql":
        due = due.with_for_update()
    ids = [row.id for row in await connection.execute(due)]
    if ids:
        await connection.execute(
            update(integrity_levels).where(integrity_levels.c.id.in_(ids)).values(revisit_time=None)
        )


class SqlScorecardStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def all(self) -> list[tuple[Mapping[str, Any], str]]:
        async with read_connection(self._engine) as connection:
            rows = await connection.execute(
                select(scorecards.c.document, scorecards.c.state).order_by(scorecards.c.load_time)
            )
            return [(row.document, row.state) for row in rows]

    async def active_version(self) -> str | None:
        async with read_connection(self._engine) as connection:
            query = select(scorecards.c.version).where(scorecards.c.state == "active")
            version: str | None = (await connection.execute(query)).scalar_one_or_none()
            return version

    async def put(
        self, version: str, document: Mapping[str, Any], state: str, now: dt.datetime
    ) -> None:
        """Load a version in a state; the version holding that state before is retired."""
        async with write_transaction(self._engine) as connection:
            if state in ("active", "shadow"):
                await connection.execute(
                    update(scorecards)
                    .where(and_(scorecards.c.state == state, scorecards.c.version != version))
                    .values(state="retired", state_time=now)
                )
            existing = (
                await connection.execute(
                    select(scorecards.c.version).where(scorecards.c.version == version)
                )
            ).first()
            if existing is None:
                await connection.execute(
                    scorecards.insert().values(
                        version=version,
                        document=dict(document),
                        state=state,
                        load_time=now,
                        state_time=now,
                    )
                )
            else:
                await connection.execute(
                    update(scorecards)
                    .where(scorecards.c.version == version)
                    .values(state=state, state_time=now)
                )
