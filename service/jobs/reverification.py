"""Working re-verification batches: claim items under leases, re-check, record the result.

Any number of workers, in any number of processes, share the batches through the database.
A worker holds at most `concurrency` items at a time, each under a lease it renews while
the re-check runs. Its results are safe to repeat: the re-check is keyed by batch and
enterprise, so an item whose worker died after the re-check committed but before the item
was marked done is re-checked again by whoever takes it next, applies nothing the second
time (applied=False, with the outcome recorded the first time), and is then marked done.
A worker killed outright loses nothing: its leases lapse and its items are handed out again.

Items are claimed and read ahead in chunks (one query for a chunk's applied keys and
verifications), and a next registry question starts the moment one ends, so that the
source's contracted concurrency stays in use. A re-check that confirms every decision is
recorded in bulk: one transaction records the keys, the check times and the items done
for many items at once; one that changes a decision is applied alone, the full way (history,
level, outbox, key), and its item marked done after.

A re-check the registry cannot answer (an outage, an open breaker, a spent budget) records
nothing: the item waits and is handed out again later, backing off (RegistryRetries), and
after its last try it is unavailable rather than done with the decision it had.

Items read ahead belong to batches ops may pause or cancel meanwhile: the worker asks about
no item read ahead on batch states older than `steer_seconds`. It reads them again (one
query, whatever the number of items) once half that age is gone, while asking goes on, so
that asking does not wait for the reading; and puts back the items of a paused batch and
cancels those of a cancelled one. Items already being asked about finish.

A batch is finished by whoever records its last item; should that worker die in between,
the sweep every worker runs (at start and every third of a lease) finishes every running
batch with no open item left, exactly once whoever else sees it.

Stopping (SIGTERM) stops claiming and lets the items held (in flight or read ahead) finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

import structlog

from service.app.ports import (
    BatchStore,
    Clock,
    Confirmation,
    EnterpriseRechecks,
    RecheckResult,
    RegistryUnavailable,
)
from service.domain.batches import (
    MAX_ATTEMPTS,
    BatchState,
    ClaimedItem,
    RegistryRetries,
    lease_until,
)

log = structlog.get_logger("integrity.batches")

TRIGGER = "batch"
# Confirmations written in one transaction at most; fewer once nothing else is in flight.
CONFIRM_CHUNK = 64
# Items held per item asked about at once: in flight, and read ahead for the next ones.
READ_AHEAD = 4
# The fewest items claimed at once, per item asked about at once: each claim and its
# read-ahead cost about nine statements whatever their size, a fifth of a worker's CPU
# in chunks of the concurrency.
CLAIM_AT_LEAST = 2
# How stale the batch states behind the items read ahead may be before the next question.
STEER_SECONDS = 1.0


def worker_name() -> str:
    """Who holds a lease, for people reading the items: host, process, and a random part so
    that two workers in one process are told apart."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ReverificationWorker:
    def __init__(
        self,
        store: BatchStore,
        rechecks: EnterpriseRechecks,
        clock: Clock,
        *,
        concurrency: int,
        lease_seconds: float,
        poll_seconds: float,
        holder: str | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        retries: RegistryRetries | None = None,
        steer_seconds: float = STEER_SECONDS,
    ) -> None:
        self._store = store
        self._rechecks = rechecks
        self._clock = clock
        self._concurrency = concurrency
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        self._max_attempts = max_attempts
        self._retries = retries or RegistryRetries()
        self._steer_interval = dt.timedelta(seconds=steer_seconds)
        self._steered_at = dt.datetime.min.replace(tzinfo=dt.UTC)
        """When the batches of the items read ahead were last known to be running."""
        self._steering = False
        self.holder = holder or worker_name()
        self._in_flight: dict[int, ClaimedItem] = {}
        """Every item held: read ahead, asked about, or waiting to be recorded."""
        self._asking: set[int] = set()
        self._ahead: deque[tuple[ClaimedItem, Any]] = deque()
        self._confirmed: list[tuple[ClaimedItem, Confirmation]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._queue_drained = False
        self._touched: set[str] = set()
        self.worked = 0
        """Items this worker finished (done, failed or unavailable) since it started."""

    def stop(self) -> None:
        """Claim nothing more; run() returns once the items in flight are finished."""
        self._stop.set()
        self._changed.set()

    async def run(self, *, until_idle: bool = False) -> int:
        """Work items until stopped (or, until_idle, until nothing is left to claim);
        returns how many items this call finished."""
        started_with = self.worked
        await self._sweep()
        renewer = asyncio.create_task(self._renew_leases(), name="batch-lease-renewal")
        try:
            while not self._stop.is_set():
                # Cleared before looking, not before waiting: what changes while the loop
                # looks (an item ends, stop()) wakes the wait that follows.
                self._changed.clear()
                claimed = await self._claim_more()
                if self._steer_due():
                    await self._steer()
                self._start_asking()
                if not self._asking and self._confirmed:
                    await self._record_confirmed()
                if not self._in_flight and not claimed:
                    await self._finish_touched()
                    if until_idle:
                        break
                    await self._wait(self._poll_seconds)
                    continue
                await self._wait(None)
        finally:
            # Stopped or idle: what is in flight finishes and is recorded; what was only
            # read ahead goes back to the queue as it was.
            await self._release_ahead()
            while self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._record_confirmed()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        return self.worked - started_with

    async def _finish_touched(self) -> None:
        # Nothing left to claim: batches whose last items this worker finished are closed
        # (a batch with items still in another worker's hands stays open for that one).
        if not self._touched:
            return
        try:
            await self._finish(sorted(self._touched))
            self._touched.clear()
        except Exception as error:
            log.warning("batch_finish_failed", error_type=type(error).__name__)

    async def _finish(self, batch_ids: Sequence[str] | None) -> None:
        """Finish the drained batches among these (None: all); each is logged by the one
        caller that finished it."""
        for batch_id in await self._store.finish_drained(batch_ids, self._clock.now()):
            log.info("batch_finished", batch=batch_id)

    async def _wait(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def _claim_more(self) -> int:
        # Read ahead up to READ_AHEAD times the concurrency, in chunks of at least
        # CLAIM_AT_LEAST times it: a claim and its read-ahead take several round trips
        # (about 35 ms on a busy worker), nearly the same for 20 items as for 40, and
        # smaller chunks left the questions waiting for items (docs/benchmarks.md).
        free = READ_AHEAD * self._concurrency - len(self._ahead) - len(self._asking)
        if free < CLAIM_AT_LEAST * self._concurrency:
            return 0
        now = self._clock.now()
        try:
            items = await self._store.claim(
                self.holder,
                now,
                lease_until(now, self._lease_seconds),
                free,
                max_attempts=self._max_attempts,
            )
        except Exception as error:  # the database may be away for a while: keep trying
            log.warning("batch_claim_failed", error_type=type(error).__name__)
            await self._wait(self._poll_seconds)
            return 0
        self._queue_drained = len(items) < free
        if not items:
            return 0
        if not self._ahead:
            # Claimed from running batches just now: nothing ahead is older.
            self._steered_at = now
        for item in items:
            self._touched.add(item.batch_id)
            self._in_flight[item.id] = item
        try:
            prepared = await self._rechecks.prepare([(i.uscc, i.recheck_key) for i in items])
        except Exception as error:
            # Not read: their leases lapse and they return.
            log.warning("batch_read_ahead_failed", error_type=type(error).__name__)
            for item in items:
                del self._in_flight[item.id]
            return 0
        self._ahead.extend(zip(items, prepared, strict=True))
        return len(items)

    async def _release_ahead(self) -> None:
        ahead = [item for item, _ in self._ahead]
        self._ahead.clear()
        if not ahead:
            return
        await self._put_back(ahead)

    async def _put_back(self, items: Sequence[ClaimedItem]) -> None:
        try:
            await self._store.release(self.holder, items, self._clock.now())
        except Exception as error:  # their leases lapse instead
            log.warning("batch_release_failed", error_type=type(error).__name__)
        for item in items:
            self._in_flight.pop(item.id, None)

    def _steer_due(self) -> bool:
        """The batch states behind the items read ahead are too old to ask on."""
        return (
            bool(self._ahead)
            and not self._steering
            and self._clock.now() - self._steered_at >= self._steer_interval
        )

    def _steer_soon(self) -> bool:
        """Half their age is gone: read them again now, while asking goes on, so that they
        are new again before asking would have to wait for them."""
        return (
            bool(self._ahead)
            and not self._steering
            and self._clock.now() - self._steered_at >= self._steer_interval / 2
        )

    async def _steer(self) -> None:
        """Put back the items read ahead whose batch is no longer running (paused: queued
        again; cancelled: cancelled)."""
        self._steering = True
        try:
            self._steered_at = self._clock.now()
            asked_about = sorted({i.batch_id for i, _ in self._ahead})
            if not asked_about:
                return
            try:
                states = await self._store.states(asked_about)
            except Exception as error:  # ask on what was known; try again next time
                log.warning("batch_steer_failed", error_type=type(error).__name__)
                return
            # Items claimed meanwhile come from batches running when they were claimed.
            stopped_batches = {
                batch_id
                for batch_id in asked_about
                if states.get(batch_id) is not BatchState.RUNNING
            }
            stopped = [item for item, _ in self._ahead if item.batch_id in stopped_batches]
            if not stopped:
                return
            self._ahead = deque(
                pair for pair in self._ahead if pair[0].batch_id not in stopped_batches
            )
            await self._put_back(stopped)
            log.info(
                "batch_items_put_back",
                items=len(stopped),
                batches=sorted({item.batch_id for item in stopped}),
            )
        finally:
            self._steering = False
            self._start_asking()
            self._changed.set()

    def _start_asking(self) -> None:
        if self._stop.is_set():
            return
        if self._clock.now() - self._steered_at >= self._steer_interval and self._ahead:
            # Too old to ask on: the run loop reads the batch states first (or the reading
            # under way ends and starts asking again).
            self._changed.set()
            return
        if self._steer_soon():
            self._steering = True  # one reading at a time, from now on
            task = asyncio.create_task(self._steer(), name="batch-steer")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        while self._ahead and len(self._asking) < self._concurrency:
            item, prepared = self._ahead.popleft()
            self._asking.add(item.id)
            task = asyncio.create_task(self._work(item, prepared), name=f"batch-item-{item.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _work(self, item: ClaimedItem, prepared: Any) -> None:
        keep = False
        try:
            keep = await self._recheck(item, prepared)
        except Exception as error:
            # Not recorded (the database failed us): the lease lapses and the item returns.
            log.warning("batch_item_unrecorded", item=item.id, error_type=type(error).__name__)
        finally:
            self._asking.discard(item.id)
            if not keep:
                self._in_flight.pop(item.id, None)
            self._start_asking()
            self._changed.set()
        if keep and (len(self._confirmed) >= CONFIRM_CHUNK or not self._asking):
            await self._record_confirmed()

    async def _recheck(self, item: ClaimedItem, prepared: Any) -> bool:
        """True: confirmed, held until recorded in bulk."""
        try:
            result = await self._rechecks.recheck_prepared(prepared, trigger=TRIGGER)
        except RegistryUnavailable as error:
            await self._unanswered(item, error)
            return False
        except Exception as error:
            await self._failed(item, error)
            return False
        if isinstance(result, Confirmation):
            self._confirmed.append((item, result))
            return True
        await self._complete(item, result)
        return False

    async def _record_confirmed(self) -> None:
        confirmed, self._confirmed = self._confirmed, []
        if not confirmed:
            return
        try:
            again = await self._store.complete_confirmed(self.holder, confirmed, self._clock.now())
        except Exception as error:
            # Not recorded: their leases lapse and they return.
            log.warning(
                "batch_items_unrecorded", items=len(confirmed), error_type=type(error).__name__
            )
            again = []
        else:
            self.worked += len(confirmed) - len(again)
            for item, confirmation in confirmed:
                if item not in again:
                    log.info(
                        "batch_item_done",
                        item=item.id,
                        batch=item.batch_id,
                        applied=confirmation.result.applied,
                        attempt=item.attempts,
                    )
        # Decided again since they were read, or their key applied by someone else: the
        # full way, one by one (rare).
        for item in again:
            try:
                await self._recheck_alone(item)
            except Exception as error:
                log.warning("batch_item_unrecorded", item=item.id, error_type=type(error).__name__)
            finally:
                self._in_flight.pop(item.id, None)
        for item, _ in confirmed:
            self._in_flight.pop(item.id, None)
        self._changed.set()  # the run loop may be waiting for these to be let go
        if self._queue_drained:
            await self._finish(sorted({item.batch_id for item, _ in confirmed}))

    async def _recheck_alone(self, item: ClaimedItem) -> None:
        try:
            result = await self._rechecks.recheck_enterprise(
                item.uscc, trigger=TRIGGER, key=item.recheck_key, require_answer=True
            )
        except RegistryUnavailable as error:
            await self._unanswered(item, error)
            return
        except Exception as error:
            await self._failed(item, error)
            return
        await self._complete(item, result)

    async def _unanswered(self, item: ClaimedItem, error: Exception) -> None:
        now = self._clock.now()
        tries = item.unanswered + 1
        next_attempt_time = self._retries.next_attempt_time(now, tries)
        log.warning(
            "batch_item_registry_unavailable",
            item=item.id,
            batch=item.batch_id,
            tries=tries,
            next_attempt_time=next_attempt_time.isoformat() if next_attempt_time else None,
            error_type=type(error).__name__,
        )
        await self._store.unanswered(
            item, self.holder, type(error).__name__, now, next_attempt_time=next_attempt_time
        )
        if next_attempt_time is None:
            self.worked += 1
        if self._queue_drained:
            await self._finish([item.batch_id])

    async def _failed(self, item: ClaimedItem, error: Exception) -> None:
        final = item.counted_attempts >= self._max_attempts
        log.warning(
            "batch_item_failed",
            item=item.id,
            batch=item.batch_id,
            attempt=item.attempts,
            final=final,
            error_type=type(error).__name__,
        )
        await self._store.fail(
            item, self.holder, type(error).__name__, self._clock.now(), final=final
        )
        if final:
            self.worked += 1

    async def _complete(self, item: ClaimedItem, result: RecheckResult) -> None:
        recorded = await self._store.complete(item, self.holder, result, self._clock.now())
        if recorded:
            self.worked += 1
            log.info(
                "batch_item_done",
                item=item.id,
                batch=item.batch_id,
                applied=result.applied,
                attempt=item.attempts,
            )
        else:
            log.info("batch_item_lease_lost", item=item.id, batch=item.batch_id)
        if self._queue_drained:
            # Near the end of the batches: whoever finishes the last item closes its batch.
            await self._finish([item.batch_id])

    async def _sweep(self) -> None:
        try:
            swept = await self._store.sweep_lapsed(
                self._clock.now(), max_attempts=self._max_attempts
            )
        except Exception as error:
            log.warning("batch_sweep_failed", error_type=type(error).__name__)
            return
        if swept:
            log.info("batch_lapsed_items_closed", items=swept)
        try:
            # A batch whose finisher died after recording its last item.
            await self._finish(None)
        except Exception as error:
            log.warning("batch_finish_failed", error_type=type(error).__name__)

    async def _renew_leases(self) -> None:
        interval = self._lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            await self._sweep()
            held = list(self._in_flight)
            if not held:
                continue
            try:
                await self._store.renew(
                    self.holder, held, lease_until(self._clock.now(), self._lease_seconds)
                )
            except Exception as error:
                log.warning("batch_lease_renewal_failed", error_type=type(error).__name__)
