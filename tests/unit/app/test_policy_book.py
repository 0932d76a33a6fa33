"""The policy book: one load at a time, and never a load that a change overtook."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from service.app.standings import PolicyBook
from service.domain.errors import InvalidArgument

AT = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
RETIRED = dt.datetime(2025, 2, 20, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Stored:
    document: dict[str, Any]
    retire_time: dt.datetime | None


def document(version: int) -> dict[str, Any]:
    return {
        "platform": "1688",
        "policy": "store_opening",
        "version": version,
        "announce_time": "2025-02-10T00:00:00+08:00",
        "effective_time": "2025-02-18T00:00:00+08:00",
        "conditions": [{"kind": "identity_verified"}],
    }


class GatedStore:
    """Answers with what it holds when asked; a load can be held open at the gate."""

    def __init__(self) -> None:
        self.rows = [Stored(document(1), None)]
        self.loads = 0
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def all(self) -> list[Stored]:
        self.loads += 1
        seen = list(self.rows)
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        return seen


async def version_in_force(book: PolicyBook) -> int | None:
    policy = await book.in_force("1688", "store_opening", AT)
    return None if policy is None else policy.version


async def test_checks_that_find_the_book_empty_share_one_load() -> None:
    store = GatedStore()
    store.gate = asyncio.Event()
    book = PolicyBook(store)
    book.use_classes(("A", "B"))
    checks = asyncio.gather(*(version_in_force(book) for _ in range(20)))
    await store.started.wait()
    store.gate.set()
    assert await checks == [1] * 20
    assert store.loads == 1


async def test_a_load_overtaken_by_a_change_is_not_kept() -> None:
    store = GatedStore()
    store.gate = asyncio.Event()
    book = PolicyBook(store)
    book.use_classes(("A", "B"))
    before = asyncio.ensure_future(version_in_force(book))
    await store.started.wait()  # this load read version 1 as active
    store.rows = [Stored(document(1), RETIRED)]
    book.invalidate()  # the retirement, noticed while the load ran
    after = asyncio.ensure_future(version_in_force(book))
    store.gate.set()
    assert await before == 1
    assert await after is None  # waited for a load begun after the change
    assert await version_in_force(book) is None  # and the stale book was not kept
    assert store.loads == 2


async def test_a_failed_load_is_retried_by_the_next_check() -> None:
    store = GatedStore()
    book = PolicyBook(store)
    book.use_classes(("A", "B"))
    rows = store.rows
    store.rows = [Stored({"platform": "1688"}, None)]  # not a policy: parsing fails
    with pytest.raises(InvalidArgument):
        await version_in_force(book)
    store.rows = rows
    assert await version_in_force(book) == 1
