"""Batches steered while a worker holds their items, on both backends: items read ahead of a
batch paused or cancelled since are put back or cancelled, not asked about; a batch whose
finisher died after its last item is finished by the next worker's sweep, once."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from service.app.ports import Confirmation, RecheckResult
from service.bootstrap import Application
from service.domain import batches
from service.domain.batches import BatchState, ItemState
from service.jobs.reverification import ReverificationWorker
from tests.builders import new_uscc
from tests.clock import TestClock
from tests.conftest import OpsCommand
from tests.integration.test_batch_leases import Rechecked
from tests.integration.worker_process import start_worker

LEASE = dt.timedelta(seconds=60)


class GatedRechecks:
    """The application's re-checks, each question held until the test opens the gate."""

    def __init__(self, rechecks: Any) -> None:
        self._rechecks = rechecks
        self.gate = asyncio.Event()
        self.asked: list[str] = []
        self.progress = asyncio.Condition()

    async def prepare(self, keys: Sequence[tuple[str, str]]) -> Sequence[Any]:
        prepared: Sequence[Any] = await self._rechecks.prepare(keys)
        return prepared

    async def recheck_prepared(
        self, prepared: Any, *, trigger: str
    ) -> RecheckResult | Confirmation:
        async with self.progress:
            self.asked.append(prepared.uscc)
            self.progress.notify_all()
        await self.gate.wait()
        result: RecheckResult | Confirmation = await self._rechecks.recheck_prepared(
            prepared, trigger=trigger
        )
        return result

    async def recheck_enterprise(
        self, uscc: str, *, trigger: str, key: str, require_answer: bool = False
    ) -> RecheckResult:
        result: RecheckResult = await self._rechecks.recheck_enterprise(
            uscc, trigger=trigger, key=key, require_answer=require_answer
        )
        return result


class ReleaseSignalling:
    """The application's batch store, telling the test when items are put back."""

    def __init__(self, store: Any, progress: asyncio.Condition) -> None:
        self._store = store
        self._progress = progress
        self.released: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def release(self, holder: str, items: Sequence[Any], now: dt.datetime) -> None:
        await self._store.release(holder, items, now)
        async with self._progress:
            self.released.extend(item.uscc for item in items)
            self._progress.notify_all()


async def _two_asked(
    store: Any, rechecks: GatedRechecks, clock: TestClock
) -> tuple[ReverificationWorker, asyncio.Task[int]]:
    """A worker asking two items at once (steering once a second), running until its
    first two questions are held at the gate."""
    worker = ReverificationWorker(
        store, rechecks, clock, concurrency=2, lease_seconds=60, poll_seconds=60, steer_seconds=1.0
    )
    running = asyncio.create_task(worker.run())
    async with rechecks.progress:
        await asyncio.wait_for(rechecks.progress.wait_for(lambda: len(rechecks.asked) == 2), 30)
    return worker, running


@pytest.mark.parametrize("steer", ["pause", "cancel"])
async def test_items_read_ahead_of_a_batch_steered_since_are_not_asked_about(
    app: Application, clock: TestClock, steer: str
) -> None:
    usccs = sorted(new_uscc() for _ in range(4))
    batch = await app.batches.start(batches.named_in_file("codes", usccs), created_by="ops")
    clock.freeze()
    rechecks = GatedRechecks(app.rechecks)
    store = ReleaseSignalling(app.batch_store, rechecks.progress)
    worker, running = await _two_asked(store, rechecks, clock)
    # Two are asked about; the other two were read ahead, leased to this worker.
    assert (await app.batches.status(batch.id)).by_state == {ItemState.LEASED: 4}

    await getattr(app.batches, steer)(batch.id)
    clock.advance(dt.timedelta(seconds=2))
    rechecks.gate.set()
    # Either the two read ahead are put back, or (wrongly) asked about.
    async with rechecks.progress:
        await asyncio.wait_for(
            rechecks.progress.wait_for(lambda: store.released or len(rechecks.asked) > 2), 30
        )
    worker.stop()
    await asyncio.wait_for(running, 30)

    assert sorted(rechecks.asked) == usccs[:2]
    assert sorted(store.released) == usccs[2:]
    status = await app.batches.status(batch.id)
    if steer == "pause":
        assert status.by_state == {ItemState.DONE: 2, ItemState.QUEUED: 2}
        await app.batches.resume(batch.id)
        now = clock.now()
        taken = await app.batch_store.claim("w", now, now + LEASE, 10)
        # Put back as they were: the attempt they were read ahead for is not counted.
        assert [(i.uscc, i.attempts) for i in taken] == [(u, 1) for u in usccs[2:]]
    else:
        assert status.by_state == {ItemState.DONE: 2, ItemState.CANCELLED: 2}
        assert status.ended


async def test_the_next_worker_finishes_a_batch_whose_finisher_died_once(
    app: Application, ops_command: OpsCommand, clock: TestClock
) -> None:
    usccs = sorted(new_uscc() for _ in range(3))
    batch = await app.batches.start(batches.named_in_file("codes", usccs), created_by="ops")
    # A worker recorded every item and died before it could close the batch.
    now = clock.now()
    for item in await app.batch_store.claim("doomed", now, now + LEASE, 10):
        assert await app.batch_store.complete(item, "doomed", Rechecked(item.uscc), now)
    assert (await app.batch_store.get(batch.id)).state is BatchState.RUNNING  # type: ignore[union-attr]

    env = {**ops_command.env, "INTEGRITY_BATCH_POLL_INTERVAL": "0.05"}
    workers = await asyncio.gather(
        *(start_worker(env, clock.now(), "--until-idle") for _ in range(2))
    )
    assert [await w.finish() for w in workers] == [0, 0]
    finished = [e for w in workers for e in w.events if e.get("event") == "batch_finished"]
    assert [e["batch"] for e in finished] == [batch.id]
    assert (await app.batch_store.get(batch.id)).state is BatchState.FINISHED  # type: ignore[union-attr]


class GatedStates:
    """The application's batch store, its reading of batch states held until the test
    lets it go."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.gate = asyncio.Event()
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def states(self, batch_ids: Sequence[str]) -> Any:
        self.reads += 1
        await self.gate.wait()
        return await self._store.states(batch_ids)


async def test_batch_states_are_read_again_while_asking_goes_on(
    app: Application, clock: TestClock
) -> None:
    """Half way to being too old, the batch states behind the items read ahead are read
    again without holding up the next questions."""
    usccs = sorted(new_uscc() for _ in range(6))
    await app.batches.start(batches.named_in_file("codes", usccs), created_by="ops")
    clock.freeze()
    rechecks = GatedRechecks(app.rechecks)
    store = GatedStates(app.batch_store)
    worker, running = await _two_asked(store, rechecks, clock)
    assert store.reads == 0

    clock.advance(dt.timedelta(seconds=0.6))
    rechecks.gate.set()
    # The two read ahead are asked about while the reading of their batch's state waits.
    async with rechecks.progress:
        await asyncio.wait_for(rechecks.progress.wait_for(lambda: len(rechecks.asked) == 4), 30)
    assert store.reads == 1
    assert not store.gate.is_set()

    store.gate.set()
    worker.stop()
    await asyncio.wait_for(running, 30)
