"""Loading standings from the database, and following the change log to keep caches fresh."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection
from service.adapters.storage.levels import SqlLevelStore
from service.adapters.storage.policies import SqlPolicyStore
from service.adapters.storage.tables import change_log
from service.app.background import BackgroundTask
from service.app.eligibility import ClassSource
from service.app.ports import Clock
from service.app.standings import PolicyBook, StandingCache
from service.domain.archive import assemble_archive
from service.domain.policies import EnterpriseStanding
from service.domain.standing import standing_of

log = structlog.get_logger("integrity.cache")


class SqlStandingSource:
    def __init__(self, levels: SqlLevelStore, clock: Clock) -> None:
        self._levels = levels
        self._clock = clock

    async def load_many(self, usccs: Sequence[str]) -> dict[str, EnterpriseStanding]:
        """Standings of many enterprises in three queries, whatever their number."""
        now = self._clock.now()
        inputs = await self._levels.load_inputs(usccs)
        classes = await self._levels.current_classes(usccs)
        standings = {}
        for uscc in usccs:
            facts, verification = inputs[uscc]
            archive = assemble_archive(uscc, facts, now)
            level_class, revisit = classes.get(uscc, (None, None))
            if revisit is not None and revisit <= now:
                # Already due and not yet recomputed: the recompute reaches the cache
                # through the change log, so this load is kept until then.
                revisit = None
            standings[uscc] = standing_of(uscc, archive, verification, level_class, revisit)
        return standings


class ChangeFollower:
    """Polls the change log (and the policy table) so other writers' changes reach the caches.

    Staleness from writes in other processes is bounded by the interval; writes in this
    process invalidate at once.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        standings: StandingCache,
        policies: PolicyBook,
        policy_store: SqlPolicyStore,
        classes: ClassSource,
        *,
        interval: float = 0.5,
    ) -> None:
        self._classes = classes
        self._engine = engine
        self._standings = standings
        self._policies = policies
        self._policy_store = policy_store
        self._interval = interval
        self._task = BackgroundTask("change-follower")
        self._last_sequence = 0
        self._policy_generation: object = None

    async def start(self) -> None:
        if self._task.running:
            return
        async with read_connection(self._engine) as connection:
            last = (await connection.execute(select(func.max(change_log.c.sequence)))).scalar()
        self._last_sequence = int(last or 0)
        self._policy_generation = await self._policy_store.generation()
        self._task.start(self._follow())

    async def close(self) -> None:
        await self._task.close()

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll()
            except Exception as error:
                # A missed poll only delays freshness; the next one catches up.
                log.warning("change_follow_failed", error_type=type(error).__name__)

    async def poll(self) -> Sequence[str]:
        query = (
            select(change_log.c.sequence, change_log.c.uscc)
            .where(change_log.c.sequence > self._last_sequence)
            .order_by(change_log.c.sequence)
            .limit(50_000)
        )
        async with read_connection(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        if rows:
            self._last_sequence = rows[-1].sequence
            self._standings.invalidate(row.uscc for row in rows)
        self._policies.use_classes(await self._classes.class_names())
        generation = await self._policy_store.generation()
        if generation != self._policy_generation:
            self._policy_generation = generation
            self._policies.invalidate()
        return [row.uscc for row in rows]
