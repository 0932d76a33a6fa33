"""Enterprise standings and policies kept in memory for eligibility checks.

The check is the call platforms make most, so what it reads lives in memory: standings
by USCC (loaded on first use, dropped when the enterprise changes) and every policy
version (reloaded when one is loaded or retired). Changes made in this process drop
entries at once; changes made elsewhere (other replicas, ops commands) arrive through
the change log, which a follower polls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from service.domain.policies import EnterpriseStanding, Policy, policy_in_force
from service.domain.policy_documents import parse_policy


class StandingSource(Protocol):
    async def load(self, uscc: str) -> EnterpriseStanding: ...


class StandingCache:
    def __init__(self, source: StandingSource, *, max_entries: int = 200_000) -> None:
        self._source = source
        self._entries: OrderedDict[str, EnterpriseStanding] = OrderedDict()
        self._loading: dict[str, asyncio.Future[EnterpriseStanding]] = {}
        self._max_entries = max_entries
        # Bumped by every invalidation: a load that began before an invalidation of its key
        # must not put its (possibly stale) result in the cache.
        self._clock = 0
        self._invalidated: dict[str, int] = {}
        self.hits = 0
        self.misses = 0

    async def get(self, uscc: str) -> EnterpriseStanding:
        entry = self._entries.get(uscc)
        if entry is not None:
            self.hits += 1
            return entry
        self.misses += 1
        pending = self._loading.get(uscc)
        if pending is not None:
            return await asyncio.shield(pending)
        started = self._clock
        future: asyncio.Future[EnterpriseStanding] = asyncio.get_running_loop().create_future()
        self._loading[uscc] = future
        try:
            standing = await self._source.load(uscc)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        finally:
            self._loading.pop(uscc, None)
        future.set_result(standing)
        # Invalidations stamp the clock after bumping it: a stamp above `started` means the
        # key changed while this load ran, and its result may already be stale.
        if self._invalidated.get(uscc, -1) <= started:
            self._entries[uscc] = standing
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return standing

    def invalidate(self, usccs: Iterable[str]) -> None:
        self._clock += 1
        for uscc in usccs:
            self._entries.pop(uscc, None)
            self._invalidated[uscc] = self._clock
        if len(self._invalidated) > self._max_entries:
            self._invalidated.clear()  # every load older than now is stale-safe again

    def clear(self) -> None:
        self._clock += 1
        self._entries.clear()
        self._invalidated.clear()


class PolicyStore(Protocol):
    async def all(self) -> Sequence[Any]: ...


class PolicyBook:
    """Every policy version, parsed once, chosen by time at each check."""

    def __init__(self, store: PolicyStore) -> None:
        self._store = store
        self._book: dict[tuple[str, str], tuple[list[Policy], dict[int, dt.datetime]]] | None = None
        self._known_classes: Sequence[str] = ()

    def use_classes(self, classes: Sequence[str]) -> None:
        if tuple(classes) != tuple(self._known_classes):
            self._known_classes = tuple(classes)
            self._book = None

    @property
    def known_classes(self) -> Sequence[str]:
        return self._known_classes

    def invalidate(self) -> None:
        self._book = None

    async def _load(self) -> dict[tuple[str, str], tuple[list[Policy], dict[int, dt.datetime]]]:
        book: dict[tuple[str, str], tuple[list[Policy], dict[int, dt.datetime]]] = {}
        for stored in await self._store.all():
            policy = parse_policy(stored.document, self._known_classes)
            versions, retired = book.setdefault((policy.platform, policy.policy_id), ([], {}))
            versions.append(policy)
            if stored.retire_time is not None:
                retired[policy.version] = stored.retire_time
        return book

    async def in_force(self, platform: str, policy_id: str, at: dt.datetime) -> Policy | None:
        if self._book is None:
            self._book = await self._load()
        entry = self._book.get((platform, policy_id))
        if entry is None:
            return None
        versions, retired = entry
        return policy_in_force(versions, at, retired)

    async def versions(
        self,
    ) -> Mapping[tuple[str, str], tuple[list[Policy], dict[int, dt.datetime]]]:
        if self._book is None:
            self._book = await self._load()
        return self._book
