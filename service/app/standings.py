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
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Protocol

from service.domain.policies import EnterpriseStanding, Policy, policy_in_force
from service.domain.policy_documents import parse_policy


class StandingSource(Protocol):
    async def load_many(self, usccs: Sequence[str]) -> Mapping[str, EnterpriseStanding]: ...


class StandingCache:
    """Standings by USCC. Misses that arrive together are loaded together, in one query
    batch: under load a miss costs a share of a query, not a query of its own."""

    def __init__(self, source: StandingSource, *, max_entries: int = 200_000) -> None:
        self._source = source
        self._entries: OrderedDict[str, EnterpriseStanding] = OrderedDict()
        self._loading: dict[str, asyncio.Future[EnterpriseStanding]] = {}
        self._queued: dict[str, asyncio.Future[EnterpriseStanding]] = {}
        self._max_entries = max_entries
        # Bumped by every invalidation: a load that began before an invalidation of its key
        # must not put its (possibly stale) result in the cache. When the stamps are dropped
        # to bound memory, the floor takes their place: every load that began before it
        # is treated as overtaken.
        self._clock = 0
        self._invalidated: dict[str, int] = {}
        self._floor = 0
        self.hits = 0
        self.misses = 0
        self.batches = 0

    async def get(self, uscc: str, now: dt.datetime | None = None) -> EnterpriseStanding:
        """The standing; with `now`, an entry whose level is due by then is loaded again."""
        entry = self._entries.get(uscc)
        if entry is not None:
            revisit = entry.level_revisit_time
            if revisit is None or now is None or now < revisit:
                self.hits += 1
                return entry
            # Its level may be recomputed by now (by any replica): look, once.
            del self._entries[uscc]
        self.misses += 1
        pending = self._loading.get(uscc) or self._queued.get(uscc)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            if not self._queued:
                # Let every request already runnable add its miss before the batch starts.
                asyncio.get_running_loop().call_soon(self._start_batch)
            self._queued[uscc] = pending
        return await asyncio.shield(pending)

    def _start_batch(self) -> None:
        batch, self._queued = self._queued, {}
        self._loading.update(batch)
        asyncio.get_running_loop().create_task(self._load(batch, self._clock))

    async def _load(
        self, batch: dict[str, asyncio.Future[EnterpriseStanding]], started: int
    ) -> None:
        self.batches += 1
        try:
            loaded = await self._source.load_many(list(batch))
        except BaseException as error:
            for uscc, future in batch.items():
                if self._loading.get(uscc) is future:
                    del self._loading[uscc]
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved: waiters re-raise it
            if not isinstance(error, Exception):
                raise
            return
        for uscc, future in batch.items():
            if self._loading.get(uscc) is future:
                del self._loading[uscc]
            standing = loaded[uscc]
            if self._current(uscc, started):
                self._entries[uscc] = standing
                if len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
            if not future.done():
                future.set_result(standing)

    async def warm(self, batches: AsyncIterator[list[str]]) -> int:
        """Load standings ahead of demand, a batch at a time, until the cache is full.

        Runs in the background after the server starts: checks are served meanwhile, and
        an enterprise that changes while its batch loads is simply loaded again on demand.
        """
        warmed = 0
        async for usccs in batches:
            wanted = [u for u in usccs if u not in self._entries and u not in self._loading]
            if not wanted:
                continue
            started = self._clock
            loaded = await self._source.load_many(wanted)
            for uscc, standing in loaded.items():
                if self._current(uscc, started) and uscc not in self._entries:
                    self._entries[uscc] = standing
                    warmed += 1
            if len(self._entries) >= self._max_entries:
                break
        return warmed

    def _current(self, uscc: str, started: int) -> bool:
        """Whether a load that began at `started` may still be kept for `uscc`.

        Invalidations stamp the clock after bumping it: a stamp above `started` means the
        key changed while the load ran, and its result may already be stale.
        """
        return self._invalidated.get(uscc, self._floor) <= started

    def invalidate(self, usccs: Iterable[str]) -> None:
        self._clock += 1
        for uscc in usccs:
            self._entries.pop(uscc, None)
            # A check arriving from now on must not join a load that began before the
            # change: it starts a load of its own.
            self._loading.pop(uscc, None)
            self._invalidated[uscc] = self._clock
        if len(self._invalidated) > self._max_entries:
            self._forget_stamps()

    def clear(self) -> None:
        self._clock += 1
        self._entries.clear()
        self._loading.clear()
        self._forget_stamps()

    def _forget_stamps(self) -> None:
        self._invalidated.clear()
        self._floor = self._clock


class PolicyStore(Protocol):
    async def all(self) -> Sequence[Any]: ...


Book = dict[tuple[str, str], tuple[list[Policy], dict[int, dt.datetime]]]


class PolicyBook:
    """Every policy version, parsed once, chosen by time at each check."""

    def __init__(self, store: PolicyStore) -> None:
        self._store = store
        self._book: Book | None = None
        self._known_classes: Sequence[str] = ()
        # Bumped whenever the book goes stale: a load that began before must not be kept.
        self._generation = 0
        self._loading: asyncio.Future[Book] | None = None

    def use_classes(self, classes: Sequence[str]) -> None:
        if tuple(classes) != tuple(self._known_classes):
            self._known_classes = tuple(classes)
            self.invalidate()

    @property
    def known_classes(self) -> Sequence[str]:
        return self._known_classes

    def invalidate(self) -> None:
        self._book = None
        self._loading = None  # checks from now on wait for a load that begins after this
        self._generation += 1

    async def _load(self) -> Book:
        book: Book = {}
        for stored in await self._store.all():
            policy = parse_policy(stored.document, self._known_classes)
            versions, retired = book.setdefault((policy.platform, policy.policy_id), ([], {}))
            versions.append(policy)
            if stored.retire_time is not None:
                retired[policy.version] = stored.retire_time
        return book

    async def _current(self) -> Book:
        if self._book is not None:
            return self._book
        if self._loading is None:
            # One load for every check that finds the book empty, not one each.
            self._loading = asyncio.ensure_future(self._load_and_keep(self._generation))
        return await asyncio.shield(self._loading)

    async def _load_and_keep(self, generation: int) -> Book:
        try:
            book = await self._load()
        finally:
            if self._generation == generation:
                self._loading = None
        if self._generation == generation:
            self._book = book
        return book

    async def in_force(self, platform: str, policy_id: str, at: dt.datetime) -> Policy | None:
        entry = (await self._current()).get((platform, policy_id))
        if entry is None:
            return None
        versions, retired = entry
        return policy_in_force(versions, at, retired)

    async def versions(self) -> Book:
        return await self._current()
