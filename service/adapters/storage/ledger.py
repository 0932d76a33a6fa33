"""The disclosure ledger in the database, written by group commit.

A read must not answer before its ledger entry is durable, and must not cost a write
transaction of its own. Reads hand their entries to one writer task and wait; the task
writes everything waiting in one transaction, chaining hashes, then wakes them all. At
low load a batch is one entry and adds one commit's latency; under load batches grow
and the commits per read fall.

Sharing a transaction must not let one caller's entry fail another's. Entries are checked
before they are queued (service/domain/disclosure.py), so a bad one is refused to its own
caller at once. If the database still refuses a batch for what it holds, its entries are
written again one by one, in order, each in a transaction of its own: only the refused one
fails, and since each transaction chains onto what is committed, the others link up around
it with neither a hole nor a broken link. A failure of the database itself fails the
batch: retrying entry by entry against it would only fail slower.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection
from service.adapters.storage.ledger_append import EntriesRefused, ledger_appender
from service.adapters.storage.tables import disclosure_ledger
from service.domain.disclosure import (
    GENESIS,
    ChainCheck,
    ChainedEntry,
    DisclosureEntry,
    check_chain,
    check_entry,
)
from service.domain.errors import FailedPrecondition, Unavailable

log = structlog.get_logger("integrity.ledger")

_VERIFY_BATCH = 5000


def entry_from_row(row: Any) -> ChainedEntry:
    return ChainedEntry(
        sequence=row.sequence,
        entry=DisclosureEntry(
            subject_uscc=row.subject_uscc,
            recipient_id=row.recipient_id,
            recipient_name=row.recipient_name,
            recipient_kind=row.recipient_kind,
            tier=row.tier,
            purpose=row.purpose,
            scenario=row.scenario,
            fields=tuple(row.fields),
            disclose_time=row.disclose_time,
        ),
        previous_hash=bytes(row.previous_hash),
        entry_hash=bytes(row.entry_hash),
    )


def _unrecorded(message: str) -> Unavailable:
    # Nothing was disclosed, so the caller may simply try again.
    return Unavailable(f"{message}; nothing was disclosed, retry", reason="LEDGER_UNAVAILABLE")


def _refused() -> FailedPrecondition:
    # Not retryable: the same entry would be refused again.
    return FailedPrecondition(
        "the disclosure ledger refused this answer's entry; nothing was disclosed",
        reason="LEDGER_ENTRY_REFUSED",
    )


Waiting = list[tuple[DisclosureEntry, asyncio.Future[None]]]


def _fail(waiting: Waiting, error: Exception) -> None:
    for _, future in waiting:
        if not future.done():
            future.set_exception(error)


def _done(waiting: Waiting) -> None:
    for _, future in waiting:
        if not future.done():
            future.set_result(None)


class SqlDisclosureLedger:
    """Group commit, paced under load.

    A commit costs the same few hundred microseconds of CPU (most of it the fsync) for one
    entry or a hundred, and under load entries arrive a few per commit when each commit
    starts the moment the last one ends. So once entries are arriving together, commits
    start at most every `commit_interval` seconds (or as soon as `max_batch` entries
    wait), and the entries in between share one. An entry that arrives alone after a
    quiet spell is written at once: a single caller never waits for the interval.
    """

    def __init__(
        self, engine: AsyncEngine, *, commit_interval: float = 0.01, max_batch: int = 256
    ) -> None:
        self._engine = engine
        self._commit_interval = commit_interval
        self._max_batch = max_batch
        self._pending: Waiting = []
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._last_commit_start = float("-inf")
        self._last_batch_size = 0
        self._writing = 0
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self.batches_written = 0
        # Batches the database refused whose entries were then written one by one.
        self.batches_split = 0
        self._appender = ledger_appender(engine)

    @property
    def unwritten(self) -> int:
        """Entries handed to the ledger whose callers are still waiting for their commit."""
        return len(self._pending) + self._writing

    async def record(self, entry: DisclosureEntry) -> None:
        """Returns once the entry is committed; raises if it could not be.

        DisclosureEntryInvalid at once for an entry the ledger would not store;
        LEDGER_ENTRY_REFUSED if the database refused it all the same; LEDGER_UNAVAILABLE
        if the database could not be written (retryable: nothing was disclosed).
        """
        check_entry(entry)
        if self._closing:
            raise Unavailable("the service is shutting down", reason="LEDGER_CLOSED")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        self._wake.set()
        if len(self._pending) >= self._max_batch:
            self._full.set()
        if self._writer is None or self._writer.done():
            # A context of its own: the writer outlives the call that happened to start it,
            # and its log lines must not carry that call's request id.
            self._writer = asyncio.create_task(
                self._write_forever(), name="disclosure-ledger", context=contextvars.Context()
            )
        await future

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._wake.set()
            self._full.set()  # stop gathering: what waits is written now
            # Shielded: if whoever closes is cancelled, the batch being written still ends.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._writer)
        await self._appender.close()

    async def _write_forever(self) -> None:
        batch: Waiting = []
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await self._gather()
                # A caller that gave up (its deadline passed) got no answer: nothing of its
                # entry was disclosed, so it is not recorded.
                batch = [(e, f) for e, f in self._pending if not f.cancelled()]
                self._pending = []
                self._full.clear()
                self._last_batch_size = len(batch)
                self._last_commit_start = asyncio.get_running_loop().time()
                if batch:
                    self._writing = len(batch)
                    await self._write(batch)
                    self._writing = 0
                batch = []
                if self._closing and not self._pending:
                    return
        except BaseException:
            # Cancelled (the loop is shutting down): no caller may wait for ever.
            _fail(batch + self._pending, _unrecorded("the disclosure ledger stopped"))
            self._pending = []
            raise

    async def _write(self, batch: Waiting) -> None:
        try:
            await self._appender.append([entry for entry, _ in batch])
        except EntriesRefused as refusal:
            log.error("ledger_batch_refused", entries=len(batch), error_type=str(refusal))
            if len(batch) == 1:
                _fail(batch, _refused())
                return
            self.batches_split += 1
            await self._write_one_by_one(batch)
        except Exception as error:
            self._fail_unrecorded(batch, error)
        else:
            self.batches_written += 1
            _done(batch)

    async def _write_one_by_one(self, batch: Waiting) -> None:
        for index, (entry, future) in enumerate(batch):
            if future.done():  # its caller gave up meanwhile: nothing of it was disclosed
                continue
            try:
                await self._appender.append([entry])
            except EntriesRefused:
                _fail([(entry, future)], _refused())
            except Exception as error:
                self._fail_unrecorded(batch[index:], error)
                return
            else:
                self.batches_written += 1
                _done([(entry, future)])

    @staticmethod
    def _fail_unrecorded(batch: Waiting, error: Exception) -> None:
        log.error("ledger_write_failed", error_type=type(error).__name__)
        failure = _unrecorded("the disclosure ledger could not record this answer")
        failure.__cause__ = error
        _fail(batch, failure)

    async def _gather(self) -> None:
        """Under load, let entries gather until the interval since the last commit is up."""
        together = self._last_batch_size > 1 or len(self._pending) > 1
        if not together or self._closing or self._full.is_set():
            return
        left = self._last_commit_start + self._commit_interval - asyncio.get_running_loop().time()
        if left > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), left)

    async def list_for_subject(
        self, uscc: str, limit: int, before_sequence: int | None
    ) -> list[ChainedEntry]:
        query = select(disclosure_ledger).where(disclosure_ledger.c.subject_uscc == uscc)
        if before_sequence is not None:
            query = query.where(disclosure_ledger.c.sequence < before_sequence)
        query = query.order_by(disclosure_ledger.c.sequence.desc()).limit(limit)
        async with read_connection(self._engine) as connection:
            return [entry_from_row(row) for row in await connection.execute(query)]

    async def verify(self) -> ChainCheck:
        """Recompute the whole chain in sequence order, a batch at a time."""
        previous, checked, after = GENESIS, 0, 0
        async with read_connection(self._engine) as connection:
            while True:
                query = (
                    select(disclosure_ledger)
                    .where(disclosure_ledger.c.sequence > after)
                    .order_by(disclosure_ledger.c.sequence)
                    .limit(_VERIFY_BATCH)
                )
                batch = [entry_from_row(row) for row in await connection.execute(query)]
                if not batch:
                    return ChainCheck(checked, None)
                result = check_chain(batch, previous)
                if result.first_broken is not None:
                    return ChainCheck(checked + result.checked, result.first_broken, result.problem)
                checked += result.checked
                previous, after = batch[-1].entry_hash, batch[-1].sequence
