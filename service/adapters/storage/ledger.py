"""The disclosure ledger in the database, written by group commit.

A read must not answer before its ledger entry is durable, and must not cost a write
transaction of its own. Reads hand their entries to one writer task and wait; the task
writes everything waiting in one transaction, chaining hashes, then wakes them all. At
low load a batch is one entry and adds one commit's latency; under load batches grow
and the commits per read fall.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import Dialect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import disclosure_ledger
from service.domain.disclosure import (
    GENESIS,
    ChainCheck,
    ChainedEntry,
    DisclosureEntry,
    chain_hash,
    check_chain,
)

log = structlog.get_logger("integrity.ledger")

# Writers on several replicas take turns appending, so the chain stays one chain.
_PG_LEDGER_LOCK = 0x4C454447  # "LEDG"
_VERIFY_BATCH = 5000


_APPENDED = (
    "subject_uscc",
    "recipient_id",
    "recipient_name",
    "recipient_kind",
    "tier",
    "purpose",
    "scenario",
    "fields",
    "disclose_time",
    "previous_hash",
    "entry_hash",
)


class _DriverInsert:
    """The ledger INSERT compiled once for a dialect, with the columns' own bind processors.

    Appending is the hot write of every read: handing the driver finished rows through
    exec_driver_sql skips SQLAlchemy's per-row parameter construction, which cost more
    than the insert itself. The values are the ones SQLAlchemy would bind (its own
    processors make them), so rows read back exactly as if written through Core.
    """

    def __init__(self, dialect: Dialect) -> None:
        compiled = disclosure_ledger.insert().compile(
            dialect=dialect, column_keys=list(_APPENDED), for_executemany=True
        )
        self.sql = str(compiled)
        order = compiled.positiontup
        if order is None or sorted(order) != sorted(_APPENDED):
            raise RuntimeError(f"the ledger insert binds {order}, expected {_APPENDED}")
        self.order = tuple(_APPENDED.index(name) for name in order)
        self.processors = tuple(
            disclosure_ledger.c[_APPENDED[index]].type.dialect_impl(dialect).bind_processor(dialect)
            for index in self.order
        )

    def row(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            values[index] if process is None else process(values[index])
            for index, process in zip(self.order, self.processors, strict=True)
        )


def _entry(row: Any) -> ChainedEntry:
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


class SqlDisclosureLedger:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pending: list[tuple[DisclosureEntry, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self.batches_written = 0
        self._insert: _DriverInsert | None = None

    async def record(self, entry: DisclosureEntry) -> None:
        """Returns once the entry is committed; raises if it could not be."""
        if self._closing:
            raise RuntimeError("the ledger is closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        self._wake.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_forever(), name="disclosure-ledger")
        await future

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                try:
                    await self._append([entry for entry, _ in batch])
                except Exception as error:
                    log.error("ledger_write_failed", error_type=type(error).__name__)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                else:
                    self.batches_written += 1
                    for _, future in batch:
                        if not future.done():
                            future.set_result(None)
            if self._closing and not self._pending:
                return

    async def _append(self, entries: Sequence[DisclosureEntry]) -> None:
        async with write_transaction(self._engine) as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LEDGER_LOCK}
                )
            previous = await _last_hash(connection)
            if self._insert is None:
                self._insert = _DriverInsert(connection.dialect)
            insert = self._insert
            rows = []
            for entry in entries:
                entry_hash = chain_hash(previous, entry)
                rows.append(
                    insert.row(
                        (
                            entry.subject_uscc,
                            entry.recipient_id,
                            entry.recipient_name,
                            entry.recipient_kind,
                            entry.tier,
                            entry.purpose,
                            entry.scenario,
                            list(entry.fields),
                            entry.disclose_time,
                            previous,
                            entry_hash,
                        )
                    )
                )
                previous = entry_hash
            await connection.exec_driver_sql(insert.sql, rows)

    async def list_for_subject(
        self, uscc: str, limit: int, before_sequence: int | None
    ) -> list[ChainedEntry]:
        query = select(disclosure_ledger).where(disclosure_ledger.c.subject_uscc == uscc)
        if before_sequence is not None:
            query = query.where(disclosure_ledger.c.sequence < before_sequence)
        query = query.order_by(disclosure_ledger.c.sequence.desc()).limit(limit)
        async with read_connection(self._engine) as connection:
            return [_entry(row) for row in await connection.execute(query)]

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
                batch = [_entry(row) for row in await connection.execute(query)]
                if not batch:
                    return ChainCheck(checked, None)
                result = check_chain(batch, previous)
                if result.first_broken is not None:
                    return ChainCheck(checked + result.checked, result.first_broken, result.problem)
                checked += result.checked
                previous, after = batch[-1].entry_hash, batch[-1].sequence


async def _last_hash(connection: AsyncConnection) -> bytes:
    query = (
        select(disclosure_ledger.c.entry_hash)
        .order_by(disclosure_ledger.c.sequence.desc())
        .limit(1)
    )
    last = (await connection.execute(query)).scalar_one_or_none()
    return GENESIS if last is None else bytes(last)
