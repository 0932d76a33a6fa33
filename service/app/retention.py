"""Closed accounts kept two years, then purged, but for what legal holds keep
(service/domain/retention.py).

The purge of one enterprise: its legal representative's personal data destroyed (as on a
withdrawal: rows scrubbed, keys destroyed) unless held, then what platforms reported and
the levels deleted but for the held records, and the account marked purged. Each step is
safe to repeat; a released hold on a purged account lets the purge take what it kept.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Protocol

import structlog

from service.app.data_rights import DataRightsService
from service.app.disputes import DisputeService
from service.app.ports import Clock
from service.app.resource_names import parse_enterprise_name
from service.domain import retention as rules
from service.domain.errors import FailedPrecondition, InvalidArgument
from service.domain.free_text import text_problem
from service.domain.retention import PERSONAL_DATA, Held, LegalHold

log = structlog.get_logger(__name__)


class RetentionStore(Protocol):
    async def close(self, uscc: str, when: dt.datetime, reason: str) -> None: ...

    async def reopen(self, uscc: str) -> bool: ...

    async def closed_before(self, cutoff: dt.datetime, limit: int) -> list[str]: ...

    async def add_hold(self, hold: LegalHold) -> None: ...

    async def release_hold(self, hold_id: str, when: dt.datetime) -> LegalHold: ...

    async def holds(self, uscc: str) -> list[LegalHold]: ...

    async def is_purged(self, uscc: str) -> bool: ...

    async def purge_archive(self, uscc: str, held: Held, when: dt.datetime) -> int: ...


@dataclass(frozen=True)
class Purged:
    uscc: str
    rows: int
    """Archive facts and levels deleted."""
    personal_data_destroyed: bool
    kept: frozenset[str]
    """The items holds and open disputes kept."""


class RetentionService:
    def __init__(
        self,
        store: RetentionStore,
        rights: DataRightsService,
        disputes: DisputeService,
        clock: Clock,
    ) -> None:
        self._store = store
        self._rights = rights
        self._disputes = disputes
        self._clock = clock

    async def close(self, parent: str, reason: str) -> dt.datetime:
        """The enterprise's account is closed: kept RETENTION_YEARS, then purged. Returns
        when the purge is due."""
        uscc = parse_enterprise_name(parent)
        problem = text_problem("reason", reason, rules.REASON_MAX, required=True)
        if problem is not None:
            raise InvalidArgument([problem])
        now = self._clock.now()
        await self._store.close(uscc, now, reason.strip())
        log.info("account_closed", uscc=uscc)
        return rules.purge_due(now)

    async def reopen(self, parent: str) -> None:
        uscc = parse_enterprise_name(parent)
        if not await self._store.reopen(uscc):
            raise FailedPrecondition(
                "the account is not closed, or its data was purged already",
                reason="ACCOUNT_NOT_CLOSED",
            )
        log.info("account_reopened", uscc=uscc)

    async def place_hold(self, parent: str, item: str, reason: str) -> LegalHold:
        uscc = parse_enterprise_name(parent)
        rules.check_hold(item, reason)
        hold = LegalHold(str(uuid.uuid4()), uscc, item, reason.strip(), self._clock.now())
        await self._store.add_hold(hold)
        log.info("legal_hold_placed", uscc=uscc, item=item, hold_id=hold.id)
        return hold

    async def release_hold(self, hold_id: str) -> LegalHold:
        """Release a hold; on an account purged already, the purge takes what it kept."""
        released = await self._store.release_hold(hold_id, self._clock.now())
        log.info("legal_hold_released", uscc=released.uscc, hold_id=hold_id)
        if await self._store.is_purged(released.uscc):
            await self.purge(released.uscc)
        return released

    async def holds(self, parent: str) -> list[LegalHold]:
        return await self._store.holds(parse_enterprise_name(parent))

    async def purge_due(self, limit: int = 100) -> list[Purged]:
        """Purge the accounts closed RETENTION_YEARS ago or more; also carries through
        withdrawals a stopped process left in progress."""
        await self._rights.finish_interrupted()
        now = self._clock.now()
        cutoff = _years_before(now, rules.RETENTION_YEARS)
        return [await self.purge(uscc) for uscc in await self._store.closed_before(cutoff, limit)]

    async def purge(self, uscc: str) -> Purged:
        held = rules.held(await self._store.holds(uscc), await self._disputes.under_dispute(uscc))
        destroyed = not held.keeps(PERSONAL_DATA)
        if destroyed:
            await self._rights.destroy_personal_data(uscc, f"retention:{uscc}")
        rows = await self._store.purge_archive(uscc, held, self._clock.now())
        log.info("account_purged", uscc=uscc, rows=rows, held=sorted(held.items))
        return Purged(uscc, rows, destroyed, held.items)


def _years_before(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)
