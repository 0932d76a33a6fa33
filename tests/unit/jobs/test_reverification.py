"""The batch worker's own logic, over a store and re-checks in memory: how many items it
holds at once, that stopping finishes what is in flight, retries and failures."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from service.app.ports import Confirmation, RecheckResult, RegistryUnanswered
from service.domain.batches import BatchState, ClaimedItem, RegistryRetries
from service.domain.verification import Outcome, ReasonCode
from service.jobs.reverification import ReverificationWorker

NOW = dt.datetime(2027, 5, 31, 16, tzinfo=dt.UTC)


class FixedClock:
    """Stands still unless a test moves it."""

    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> dt.datetime:
        return self.at


@dataclass(frozen=True)
class Result:
    uscc: str
    applied: bool = True
    outcome_before: Outcome | None = Outcome.VERIFIED
    outcome_after: Outcome | None = Outcome.VERIFIED
    reasons_after: tuple[ReasonCode, ...] = ()
    level_class_before: str | None = "A"
    level_class_after: str | None = "A"
    verifications_checked: int = 1


@dataclass
class MemoryStore:
    queued: list[str]
    attempts: dict[str, int] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    waiting: dict[str, dt.datetime] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)
    unanswered_tries: dict[str, int] = field(default_factory=dict)
    batch_state: BatchState = BatchState.RUNNING
    state_reads: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def claim(
        self,
        holder: str,
        now: dt.datetime,
        lease_until: dt.datetime,
        limit: int,
        *,
        max_attempts: int = 3,
    ) -> Sequence[ClaimedItem]:
        if self.batch_state is not BatchState.RUNNING:
            return []
        taken, self.queued = self.queued[:limit], self.queued[limit:]
        items = []
        for uscc in taken:
            self.attempts[uscc] = self.attempts.get(uscc, 0) + 1
            tries = self.unanswered_tries.get(uscc, 0)
            items.append(ClaimedItem(len(self.attempts), "b", uscc, self.attempts[uscc], tries))
        return items

    async def sweep_lapsed(self, now: dt.datetime, *, max_attempts: int = 3) -> int:
        return 0

    async def renew(self, holder: str, item_ids: Sequence[int], lease_until: dt.datetime) -> None:
        return None

    async def complete(
        self, item: ClaimedItem, holder: str, result: RecheckResult, now: dt.datetime
    ) -> bool:
        self.done.append(item.uscc)
        return True

    async def fail(
        self, item: ClaimedItem, holder: str, error: str, now: dt.datetime, *, final: bool
    ) -> None:
        (self.failed if final else self.queued).append(item.uscc)

    async def unanswered(
        self,
        item: ClaimedItem,
        holder: str,
        error: str,
        now: dt.datetime,
        *,
        next_attempt_time: dt.datetime | None,
    ) -> None:
        self.unanswered_tries[item.uscc] = item.unanswered + 1
        if next_attempt_time is None:
            self.unavailable.append(item.uscc)
        else:
            self.waiting[item.uscc] = next_attempt_time

    async def finish_drained(self, batch_ids: Sequence[str] | None, now: dt.datetime) -> list[str]:
        if batch_ids is None:
            return []
        self.finished.extend(batch_ids)
        return list(batch_ids)

    async def states(self, batch_ids: Sequence[str]) -> dict[str, BatchState]:
        self.state_reads += 1
        return {batch_id: self.batch_state for batch_id in batch_ids}

    async def release(self, holder: str, items: Sequence[ClaimedItem], now: dt.datetime) -> None:
        for item in items:
            self.attempts[item.uscc] -= 1
        self.queued = [item.uscc for item in items] + self.queued
        self.released.set()

    async def complete_confirmed(
        self, holder: str, confirmed: Sequence[tuple[ClaimedItem, Confirmation]], now: dt.datetime
    ) -> list[ClaimedItem]:
        self.done.extend(item.uscc for item, _ in confirmed)
        return []

    def results(self, batch_id: str) -> AsyncIterator[object]:
        raise NotImplementedError


class GatedRechecks:
    """Re-checks that wait for the test to let them finish."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.started = 0
        self.gate = asyncio.Event()
        self.progress = asyncio.Condition()
        self.failing: set[str] = set()
        self.confirming: set[str] = set()
        """Enterprises whose re-check confirms (recorded in bulk)."""
        self.unanswered: set[str] = set()
        """Enterprises the registry cannot answer for."""

    async def prepare(self, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return list(keys)

    async def recheck_prepared(
        self, prepared: tuple[str, str], *, trigger: str
    ) -> RecheckResult | Confirmation:
        uscc, key = prepared
        result = await self.recheck_enterprise(uscc, trigger=trigger, key=key)
        if uscc in self.confirming:
            return Confirmation(result, uscc, key, trigger, {}, ())
        return result

    async def recheck_enterprise(
        self, uscc: str, *, trigger: str, key: str, require_answer: bool = True
    ) -> RecheckResult:
        assert trigger == "batch" and key == f"batch:b:{uscc}" and require_answer
        async with self.progress:
            self.in_flight += 1
            self.started += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.progress.notify_all()
        try:
            await self.gate.wait()
            if uscc in self.failing:
                raise RuntimeError("registry exploded")
            if uscc in self.unanswered:
                raise RegistryUnanswered("REGISTRY_UNAVAILABLE")
            return Result(uscc)
        finally:
            self.in_flight -= 1


def _worker(
    store: MemoryStore,
    rechecks: GatedRechecks,
    concurrency: int,
    clock: FixedClock | None = None,
) -> ReverificationWorker:
    return ReverificationWorker(
        store,  # type: ignore[arg-type]
        rechecks,
        clock or FixedClock(),
        concurrency=concurrency,
        lease_seconds=60,
        poll_seconds=60,
    )


async def test_no_more_than_the_concurrency_in_flight_and_every_item_done() -> None:
    store = MemoryStore([f"U{n}" for n in range(10)])
    rechecks = GatedRechecks()
    worker = _worker(store, rechecks, concurrency=3)
    running = asyncio.create_task(worker.run(until_idle=True))
    async with rechecks.progress:
        await asyncio.wait_for(rechecks.progress.wait_for(lambda: rechecks.in_flight == 3), 10)
    rechecks.gate.set()
    assert await asyncio.wait_for(running, 10) == 10
    assert rechecks.most_in_flight == 3
    assert sorted(store.done) == sorted(f"U{n}" for n in range(10))
    assert set(store.finished) == {"b"}


async def test_stopping_finishes_the_items_in_flight_and_claims_no_more() -> None:
    store = MemoryStore([f"U{n}" for n in range(10)])
    rechecks = GatedRechecks()
    worker = _worker(store, rechecks, concurrency=4)
    running = asyncio.create_task(worker.run())
    async with rechecks.progress:
        await asyncio.wait_for(rechecks.progress.wait_for(lambda: rechecks.in_flight == 4), 10)
    worker.stop()
    rechecks.gate.set()
    assert await asyncio.wait_for(running, 10) == 4
    assert sorted(store.done) == ["U0", "U1", "U2", "U3"]
    assert len(store.queued) == 6


async def test_a_failing_item_is_retried_then_failed() -> None:
    store = MemoryStore(["BAD", "GOOD"])
    rechecks = GatedRechecks()
    rechecks.failing = {"BAD"}
    rechecks.gate.set()
    worker = _worker(store, rechecks, concurrency=2)
    assert await asyncio.wait_for(worker.run(until_idle=True), 10) == 2
    assert store.attempts == {"BAD": 3, "GOOD": 1}
    assert store.failed == ["BAD"] and store.done == ["GOOD"]


async def test_confirmations_are_recorded_in_bulk_and_changes_one_by_one() -> None:
    store = MemoryStore([f"U{n}" for n in range(10)])
    rechecks = GatedRechecks()
    rechecks.confirming = {f"U{n}" for n in range(0, 10, 2)}
    rechecks.gate.set()
    worker = _worker(store, rechecks, concurrency=3)
    assert await asyncio.wait_for(worker.run(until_idle=True), 10) == 10
    assert sorted(store.done) == sorted(f"U{n}" for n in range(10))
    assert len(store.done) == 10  # each once


async def test_an_item_the_registry_cannot_answer_waits_backing_off_then_is_unavailable() -> None:
    store = MemoryStore(["DOWN", "GOOD"])
    rechecks = GatedRechecks()
    rechecks.unanswered = {"DOWN"}
    rechecks.gate.set()
    retries = RegistryRetries()
    for tries in range(1, retries.tries):
        assert await asyncio.wait_for(_worker(store, rechecks, 2).run(until_idle=True), 10) == (
            1 if tries == 1 else 0
        )
        # Waiting, not done and not failed; the next wait longer than the last.
        assert store.waiting.pop("DOWN") - NOW == retries.first_wait * retries.factor ** (tries - 1)
        store.queued.append("DOWN")  # its time has come
    assert await asyncio.wait_for(_worker(store, rechecks, 2).run(until_idle=True), 10) == 1
    assert store.unavailable == ["DOWN"] and store.done == ["GOOD"] and store.failed == []
    # Registry tries use none of the attempts a failing re-check has.
    assert store.attempts["DOWN"] == retries.tries > 3


async def test_items_read_ahead_of_a_batch_paused_since_are_put_back() -> None:
    store = MemoryStore([f"U{n}" for n in range(4)])
    rechecks = GatedRechecks()
    clock = FixedClock()
    worker = _worker(store, rechecks, concurrency=2, clock=clock)
    running = asyncio.create_task(worker.run())
    async with rechecks.progress:
        await asyncio.wait_for(rechecks.progress.wait_for(lambda: rechecks.in_flight == 2), 10)
    assert store.queued == []  # the other two were read ahead
    store.batch_state = BatchState.PAUSED
    clock.at = NOW + dt.timedelta(seconds=2)
    rechecks.gate.set()
    await asyncio.wait_for(store.released.wait(), 10)
    assert sorted(store.queued) == ["U2", "U3"]
    worker.stop()
    await asyncio.wait_for(running, 10)
    assert rechecks.started == 2 and sorted(store.done) == ["U0", "U1"]
    assert store.attempts["U2"] == store.attempts["U3"] == 0
    assert store.state_reads == 1
