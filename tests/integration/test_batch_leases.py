"""Batch items under leases, on both backends: claimed once, returned when a lease lapses
(on the database's clock), withheld while paused, cancelled with their batch; waiting items
handed out when their time comes; drained batches finished once."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import pytest

from service.adapters.storage.batches import SqlBatchStore
from service.adapters.storage.queue_cursors import QueueCursors
from service.bootstrap import Application
from service.domain import batches
from service.domain.batches import BatchState, ItemState
from service.domain.errors import FailedPrecondition
from service.domain.verification import Outcome, ReasonCode
from tests.builders import new_uscc
from tests.clock import TestClock

LEASE = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Rechecked:
    """A re-check's result as a worker records it."""

    uscc: str
    outcome_before: Outcome | None = Outcome.VERIFIED
    outcome_after: Outcome | None = Outcome.REJECTED
    reasons_after: tuple[ReasonCode, ...] = (ReasonCode.LICENCE_EXPIRED,)
    level_class_before: str | None = "A"
    level_class_after: str | None = "C"
    applied: bool = True
    verifications_checked: int = 1


async def _batch(app: Application, count: int) -> tuple[str, list[str]]:
    usccs = [new_uscc() for _ in range(count)]
    selection = batches.named_in_file("codes.txt", usccs)
    return (await app.batches.start(selection, created_by="ops")).id, sorted(usccs)


async def test_items_are_claimed_once_and_return_when_a_lease_lapses(
    app: Application, clock: TestClock
) -> None:
    batch_id, usccs = await _batch(app, 5)
    store, now = app.batch_store, clock.now()
    first = await store.claim("w1", now, now + LEASE, 3)
    second = await store.claim("w2", now, now + LEASE, 10)
    assert [i.uscc for i in first + second] == usccs
    assert await store.claim("w3", now, now + LEASE, 10) == []

    # w1 dies while w2 renews; once w1's leases lapse w3 takes its items, on a second attempt.
    later = now + LEASE + dt.timedelta(seconds=1)
    await store.renew("w2", [i.id for i in second], later + LEASE)
    retaken = await store.claim("w3", later, later + LEASE, 10)
    assert [i.id for i in retaken] == [i.id for i in first]
    assert {i.attempts for i in retaken} == {2}
    # w1 comes back late: its results are not recorded over w3's lease.
    assert not await store.complete(first[0], "w1", Rechecked(first[0].uscc), later)
    assert await store.complete(retaken[0], "w3", Rechecked(retaken[0].uscc), later)
    status = await app.batches.status(batch_id)
    assert status.by_state == {ItemState.DONE: 1, ItemState.LEASED: 4}
    assert status.by_outcome == {"rejected": 1}


async def test_renewed_leases_do_not_lapse(app: Application, clock: TestClock) -> None:
    await _batch(app, 2)
    store, now = app.batch_store, clock.now()
    held = await store.claim("w1", now, now + LEASE, 10)
    await store.renew("w1", [i.id for i in held], now + 3 * LEASE)
    assert await store.claim("w2", now + 2 * LEASE, now + 3 * LEASE, 10) == []


async def test_a_paused_batch_hands_out_nothing_until_resumed(
    app: Application, clock: TestClock
) -> None:
    batch_id, usccs = await _batch(app, 3)
    other_id, other = await _batch(app, 1)
    paused = await app.batches.pause(batch_id)
    assert paused.state is BatchState.PAUSED
    now = clock.now()
    assert [i.uscc for i in await app.batch_store.claim("w", now, now + LEASE, 10)] == other
    # Resuming what runs already changes nothing.
    assert (await app.batches.resume(other_id)).state is BatchState.RUNNING
    assert (await app.batches.resume(batch_id)).state is BatchState.RUNNING
    claimed = await app.batch_store.claim("w", now, now + LEASE, 10)
    assert [i.uscc for i in claimed] == usccs


async def test_cancelling_cancels_the_queued_items_and_lets_leased_ones_finish(
    app: Application, clock: TestClock
) -> None:
    batch_id, _usccs = await _batch(app, 4)
    now = clock.now()
    leased = await app.batch_store.claim("w", now, now + LEASE, 1)
    cancelled = await app.batches.cancel(batch_id)
    assert cancelled.state is BatchState.CANCELLED and cancelled.finish_time is not None
    assert await app.batch_store.claim("w", now, now + LEASE, 10) == []
    assert not (await app.batches.status(batch_id)).ended
    assert await app.batch_store.complete(leased[0], "w", Rechecked(leased[0].uscc), now)
    status = await app.batches.status(batch_id)
    assert status.by_state == {ItemState.CANCELLED: 3, ItemState.DONE: 1}
    assert status.ended
    with pytest.raises(FailedPrecondition) as again:
        await app.batches.resume(batch_id)
    assert again.value.reason == "BATCH_STATE_CONFLICT"


async def test_a_batch_finishes_when_its_last_item_is_done(
    app: Application, clock: TestClock
) -> None:
    batch_id, _usccs = await _batch(app, 2)
    now = clock.now()
    items = await app.batch_store.claim("w", now, now + LEASE, 10)
    await app.batch_store.complete(items[0], "w", Rechecked(items[0].uscc), now)
    await app.batch_store.finish_drained([batch_id], now)
    assert (await app.batches.status(batch_id)).batch.state is BatchState.RUNNING
    await app.batch_store.fail(items[1], "w", "RuntimeError", now, final=True)
    await app.batch_store.finish_drained([batch_id], now)
    status = await app.batches.status(batch_id)
    assert status.batch.state is BatchState.FINISHED and status.ended
    assert status.by_state == {ItemState.DONE: 1, ItemState.FAILED: 1}

    report = await app.batches.report(batch_id)
    assert report.by_reason == {"LICENCE_EXPIRED": 1}
    assert [r.uscc for r in report.changed] == [items[0].uscc]
    assert [(r.uscc, r.error) for r in report.failed] == [(items[1].uscc, "RuntimeError")]


async def test_lapsed_leases_nobody_may_take_are_closed(app: Application, clock: TestClock) -> None:
    worn_id, _usccs = await _batch(app, 1)
    cancelled_id, _others = await _batch(app, 2)
    store, now = app.batch_store, clock.now()
    # The worn-out item's worker died on each of its attempts.
    for attempt in range(1, 4):
        at = now + attempt * 2 * LEASE
        (item,) = await store.claim("w", at, at + LEASE, 1)
        assert item.batch_id == worn_id and item.attempts == attempt
    await store.claim("w", at, at + LEASE, 10)
    await app.batches.cancel(cancelled_id)
    later = at + 2 * LEASE
    assert await store.claim("w", later, later + LEASE, 10) == []
    assert await store.sweep_lapsed(later) == 3
    worn = await app.batches.status(worn_id)
    assert worn.by_state == {ItemState.FAILED: 1}
    assert worn.batch.state is BatchState.FINISHED
    assert [r.error for r in (await app.batches.report(worn_id)).failed] == ["LeaseLapsed"]
    cancelled = await app.batches.status(cancelled_id)
    assert cancelled.by_state == {ItemState.CANCELLED: 2} and cancelled.ended


async def test_an_item_put_back_after_its_batch_was_cancelled_is_cancelled(
    app: Application, clock: TestClock
) -> None:
    batch_id, _usccs = await _batch(app, 4)
    store, now = app.batch_store, clock.now()
    retried, waiting, read_ahead, done = await store.claim("w", now, now + LEASE, 10)
    await app.batches.cancel(batch_id)
    # Each was in flight when the batch was cancelled; none goes back into the queue.
    await store.fail(retried, "w", "RuntimeError", now, final=False)
    await store.unanswered(
        waiting, "w", "RegistryUnanswered", now, next_attempt_time=now + dt.timedelta(minutes=2)
    )
    await store.release("w", [read_ahead], now)
    await store.complete(done, "w", Rechecked(done.uscc), now)
    status = await app.batches.status(batch_id)
    assert status.by_state == {ItemState.CANCELLED: 3, ItemState.DONE: 1}
    assert status.ended


async def test_a_waiting_item_is_handed_out_once_its_time_has_come(
    app: Application, clock: TestClock
) -> None:
    batch_id, _usccs = await _batch(app, 1)
    store, now = app.batch_store, clock.now()
    due = now + dt.timedelta(minutes=2)
    for attempt in range(1, 5):
        (item,) = await store.claim("w", now, now + LEASE, 10)
        assert (item.attempts, item.unanswered, item.counted_attempts) == (attempt, attempt - 1, 1)
        await store.unanswered(item, "w", "RegistryUnanswered", now, next_attempt_time=due)
        status = await app.batches.status(batch_id)
        assert status.by_state == {ItemState.WAITING: 1} and status.next_attempt_time == due
        assert await store.claim("w", due - dt.timedelta(seconds=1), due + LEASE, 10) == []
        await app.batches.pause(batch_id)
        assert await store.claim("w", due, due + LEASE, 10) == []
        await app.batches.resume(batch_id)
        now, due = due, due + dt.timedelta(minutes=2)
    # Unanswered tries use none of the attempts: a failure still has all three.
    (item,) = await store.claim("w", now, now + LEASE, 10)
    await store.fail(item, "w", "RuntimeError", now, final=False)
    assert [i.counted_attempts for i in await store.claim("w", now, now + LEASE, 10)] == [2]


async def test_a_drained_batch_whose_finisher_died_is_finished_once(
    app: Application, clock: TestClock
) -> None:
    batch_id, _usccs = await _batch(app, 2)
    other_id, _others = await _batch(app, 1)
    store, now = app.batch_store, clock.now()
    items = await store.claim("w", now, now + LEASE, 10)
    for item in items:
        await store.complete(item, "w", Rechecked(item.uscc), now)
    # The worker died here, before finishing the batches.
    assert (await store.get(batch_id)).state is BatchState.RUNNING  # type: ignore[union-attr]
    later = now + dt.timedelta(minutes=5)
    sweeps = await asyncio.gather(*(store.finish_drained(None, later) for _ in range(4)))
    assert sorted(batch for swept in sweeps for batch in swept) == sorted([batch_id, other_id])
    assert await store.finish_drained(None, later + LEASE) == []
    status = await app.batches.status(batch_id)
    assert status.batch.state is BatchState.FINISHED and status.batch.finish_time == later


async def test_reading_the_status_finishes_a_drained_batch(
    app: Application, clock: TestClock
) -> None:
    batch_id, _usccs = await _batch(app, 1)
    store, now = app.batch_store, clock.now()
    (item,) = await store.claim("w", now, now + LEASE, 10)
    await store.complete(item, "w", Rechecked(item.uscc), now)
    status = await app.batches.status(batch_id)
    assert status.batch.state is BatchState.FINISHED and status.ended
    assert (await app.batches.status(batch_id)).batch.finish_time == status.batch.finish_time


# Workers on several machines share a PostgreSQL database; SQLite is one machine's file.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_worker_whose_clock_runs_fast_takes_no_live_lease(
    app: Application, clock: TestClock
) -> None:
    await _batch(app, 1)
    skew = dt.timedelta(minutes=10)
    # The machine of the second worker: its clock, and so its service clock, ten minutes on.
    fast = SqlBatchStore(app.engine, lambda: dt.datetime.now(dt.UTC) + skew)
    now = clock.now()
    (held,) = await app.batch_store.claim("w1", now, now + LEASE, 10)
    assert await fast.claim("w2", now + skew, now + skew + LEASE, 10) == []
    assert await fast.sweep_lapsed(now + skew) == 0
    # Its lease lapses for the fast machine when it has lapsed on the database's clock.
    later = now + skew + LEASE + dt.timedelta(seconds=1)
    assert [i.id for i in await fast.claim("w2", later, later + LEASE, 10)] == [held.id]


async def test_items_queued_again_below_a_claim_cursor_are_still_claimed(
    app: Application, clock: TestClock
) -> None:
    """Claims resume above the highest id a process claimed (queue_cursors.py); items put
    back below it by this process come at once, those put back by another process once
    the look below is due again."""
    await _batch(app, 20)
    ticks = [0.0]
    here = SqlBatchStore(app.engine, cursors=QueueCursors(monotonic=lambda: ticks[0]))
    elsewhere = SqlBatchStore(app.engine)
    now = clock.now()
    theirs = await elsewhere.claim("w2", now, now + LEASE, 5)
    mine = await here.claim("w1", now, now + LEASE, 15)
    assert [i.id for i in theirs + mine] == sorted(i.id for i in theirs + mine)
    assert await here.claim("w1", now, now + LEASE, 10) == []  # looked below: all leased

    await elsewhere.release("w2", theirs, now)
    ticks[0] = 0.5
    assert await here.claim("w1", now, now + LEASE, 10) == []  # not due yet
    ticks[0] = 1.0
    again = await here.claim("w1", now, now + LEASE, 10)
    assert [i.id for i in again] == [i.id for i in theirs]

    # Put back by this process: found by its very next claim.
    await here.release("w1", mine[:3], now)
    assert [i.id for i in await here.claim("w1", now, now + LEASE, 10)] == [i.id for i in mine[:3]]
