"""The standing cache: loads once, and never keeps a result an invalidation overtook."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

from service.app.standings import StandingCache
from service.domain.policies import EnterpriseStanding


def standing(uscc: str, level: str) -> EnterpriseStanding:
    return EnterpriseStanding(uscc, None, None, level, None, (), (), (), ())


class FakeSource:
    def __init__(self) -> None:
        self.loads = 0
        self.level = "A"
        self.gate: asyncio.Event | None = None
        self.batch_sizes: list[int] = []
        self.started = asyncio.Event()

    async def load_many(self, usccs: list[str]) -> dict[str, EnterpriseStanding]:
        self.loads += 1
        self.batch_sizes.append(len(usccs))
        seen = self.level
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        return {uscc: standing(uscc, seen) for uscc in usccs}


async def test_hits_after_the_first_load_and_reloads_after_invalidation() -> None:
    source = FakeSource()
    cache = StandingCache(source)
    cache.invalidate(["X"])  # an old invalidation must not stop later loads from caching
    assert (await cache.get("X")).level_class == "A"
    assert (await cache.get("X")).level_class == "A"
    assert source.loads == 1 and cache.hits == 1
    source.level = "B"
    cache.invalidate(["X"])
    assert (await cache.get("X")).level_class == "B"
    assert (await cache.get("X")).level_class == "B"
    assert source.loads == 2


async def test_a_load_overtaken_by_an_invalidation_is_not_kept() -> None:
    source = FakeSource()
    source.gate = asyncio.Event()
    cache = StandingCache(source)
    first = asyncio.ensure_future(cache.get("X"))
    second = asyncio.ensure_future(cache.get("X"))  # joins the load in flight
    await source.started.wait()
    cache.invalidate(["X"])  # the data changed while the load ran
    source.level = "C"
    source.gate.set()
    assert (await first).level_class == "A" and (await second).level_class == "A"
    assert source.loads == 1
    assert (await cache.get("X")).level_class == "C"  # reloaded, not served stale
    assert source.loads == 2


async def test_a_check_after_an_invalidation_does_not_join_the_load_it_overtook() -> None:
    source = FakeSource()
    source.gate = asyncio.Event()
    cache = StandingCache(source)
    before = asyncio.ensure_future(cache.get("X"))
    await source.started.wait()  # this load read the old data
    cache.invalidate(["X"])  # a change written in this process
    source.level = "C"
    after = asyncio.ensure_future(cache.get("X"))
    source.gate.set()
    assert (await before).level_class == "A"
    assert (await after).level_class == "C"  # its own load, begun after the change
    assert source.loads == 2
    assert (await cache.get("X")).level_class == "C"
    assert source.loads == 2  # and that later load is the one kept


async def test_dropping_invalidation_stamps_still_keeps_overtaken_loads_out() -> None:
    source = FakeSource()
    source.gate = asyncio.Event()
    cache = StandingCache(source, max_entries=3)
    loading = asyncio.ensure_future(cache.get("X"))
    await source.started.wait()
    cache.invalidate(["X"])
    cache.invalidate(["P", "Q", "R"])  # more stamps than entries: they are dropped
    source.level = "C"
    source.gate.set()
    assert (await loading).level_class == "A"
    assert (await cache.get("X")).level_class == "C"  # not the overtaken "A"
    assert source.loads == 2
    assert (await cache.get("X")).level_class == "C" and source.loads == 2


async def test_clearing_keeps_loads_in_flight_out() -> None:
    source = FakeSource()
    source.gate = asyncio.Event()
    cache = StandingCache(source)
    loading = asyncio.ensure_future(cache.get("X"))
    await source.started.wait()
    cache.clear()
    source.level = "C"
    source.gate.set()
    await loading
    assert (await cache.get("X")).level_class == "C"


async def test_entries_are_bounded() -> None:
    source = FakeSource()
    cache = StandingCache(source, max_entries=2)
    for uscc in ("A", "B", "C"):
        await cache.get(uscc)
    await cache.get("A")  # evicted first, loaded again
    assert source.loads == 4


async def test_misses_arriving_together_load_in_one_batch() -> None:
    source = FakeSource()
    cache = StandingCache(source)
    found = await asyncio.gather(*(cache.get(f"U{n}") for n in range(50)), cache.get("U1"))
    assert [s.uscc for s in found] == [f"U{n}" for n in range(50)] + ["U1"]
    assert source.batch_sizes == [50]
    assert cache.batches == 1


async def test_warming_fills_the_cache_ahead_of_demand() -> None:
    source = FakeSource()
    cache = StandingCache(source, max_entries=5)

    async def batches():  # type: ignore[no-untyped-def]
        for start in range(0, 9, 3):
            yield [f"W{n}" for n in range(start, start + 3)]

    assert await cache.warm(batches()) == 6  # stops once full
    loads = source.loads
    await cache.get("W1")
    assert source.loads == loads and cache.hits == 1


async def test_an_entry_expires_when_its_level_is_due_and_is_loaded_again_once() -> None:
    due = dt.datetime(2027, 5, 31, 16, tzinfo=dt.UTC)

    class TimedSource(FakeSource):
        async def load_many(self, usccs: list[str]) -> dict[str, EnterpriseStanding]:
            loaded = await super().load_many(usccs)
            # What the database source does: a level already due loads without its time.
            revisit = due if self.level == "B" else None
            return {
                u: dataclasses.replace(s, level_revisit_time=revisit) for u, s in loaded.items()
            }

    source = TimedSource()
    source.level = "B"
    cache = StandingCache(source)
    before = due - dt.timedelta(seconds=1)
    assert (await cache.get("X", before)).level_class == "B"
    assert (await cache.get("X", before)).level_class == "B" and source.loads == 1
    source.level = "A"  # recomputed at the due time, by whichever replica
    assert (await cache.get("X", due)).level_class == "A" and source.loads == 2
    assert (await cache.get("X", due)).level_class == "A" and source.loads == 2
