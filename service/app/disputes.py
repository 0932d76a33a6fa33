"""Disputes as merchants open them and ops answer them (service/domain/disputes.py).

The enterprise's own merchant opens a dispute of one of its items and reads its disputes;
ops read any enterprise's, list those still to be answered nearest their deadline first,
take one into review and resolve it. A correction is made where the fact comes from (a
registry snapshot, a judicial import, the platform's own records), which keeps the fact's
history; resolving the dispute as corrected then works the level out again at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from service.app.merchant_access import require_own_merchant, require_own_merchant_or_ops
from service.app.ports import Clock
from service.app.resource_names import parse_dispute_name, parse_enterprise_name
from service.domain import disputes as rules
from service.domain.callers import Caller, Viewer
from service.domain.disputes import Dispute, Resolution
from service.domain.errors import NotFound


class DisputeStore(Protocol):
    async def add(self, dispute: Dispute) -> None: ...

    async def get(self, dispute_id: str) -> Dispute | None: ...

    async def replace(self, before: Dispute, after: Dispute) -> None: ...

    async def of_enterprise(self, uscc: str) -> list[Dispute]: ...

    async def open_of_enterprise(self, uscc: str) -> list[Dispute]: ...

    async def pending(self, due_before: dt.datetime | None, limit: int) -> Sequence[Dispute]: ...


class DisputeService:
    def __init__(
        self,
        store: DisputeStore,
        clock: Clock,
        *,
        on_corrected: Callable[[Iterable[str]], Awaitable[int]],
    ) -> None:
        """on_corrected: works the levels of these enterprises out again."""
        self._store = store
        self._clock = clock
        self._on_corrected = on_corrected

    async def open(
        self,
        viewer: Viewer | None,
        parent: str,
        item: str,
        statement: str,
        evidence: str = "",
    ) -> Dispute:
        """The enterprise's own merchant disputes one of its items."""
        uscc = parse_enterprise_name(parent)
        merchant = require_own_merchant(viewer, uscc, "disputes its items")
        dispute = rules.open_dispute(
            str(uuid.uuid4()), uscc, item, statement, evidence, merchant.user_key, self._clock.now()
        )
        await self._store.add(dispute)
        return dispute

    async def of_enterprise(
        self, caller: Caller, viewer: Viewer | None, parent: str
    ) -> list[Dispute]:
        uscc = parse_enterprise_name(parent)
        require_own_merchant_or_ops(caller, viewer, uscc, "disputes")
        return await self._store.of_enterprise(uscc)

    async def under_dispute(self, uscc: str) -> frozenset[str]:
        """The enterprise's items every viewer must see marked as under dispute."""
        return rules.under_dispute(await self._store.open_of_enterprise(uscc))

    async def pending(
        self, due_within: dt.timedelta | None = None, limit: int = 100
    ) -> Sequence[Dispute]:
        """For ops: still to be answered, nearest deadline first."""
        due_before = None if due_within is None else self._clock.now() + due_within
        return await self._store.pending(due_before, limit)

    async def take(self, name: str, assignee: str) -> Dispute:
        """name: enterprises/{uscc}/disputes/{id}."""
        before = await self._found(name)
        after = rules.take(before, assignee, self._clock.now())
        await self._store.replace(before, after)
        return after

    async def resolve(self, name: str, resolution: Resolution, reason: str) -> Dispute:
        before = await self._found(name)
        after = rules.resolve(before, resolution, reason, self._clock.now())
        await self._store.replace(before, after)
        if resolution is Resolution.CORRECTED:
            await self._on_corrected([after.uscc])
        return after

    async def _found(self, name: str) -> Dispute:
        uscc, dispute_id = parse_dispute_name(name)
        dispute = await self._store.get(dispute_id)
        if dispute is None or dispute.uscc != uscc:
            raise NotFound(f"no dispute {name}", reason="DISPUTE_NOT_FOUND")
        return dispute
