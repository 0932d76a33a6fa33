"""A registry source whose answers update the archive's registry fact.

The imported snapshot writes the archive's registry facts as it is imported; a source
asked at verification time (the government registry) has no import, so its answers are
recorded as they arrive. Wrapping the source behind the same port puts every path that
asks it (new verifications, PENDING re-checks, re-verification batches) in step with it.

An answer the archive already holds costs nothing when this process recorded or read it
last (a bounded in-process memory of each enterprise's payload digest), else one read of
the open fact. A batch worker reads ahead: read_ahead() fills that memory for a chunk of
enterprises in one read, so a sweep that finds records unchanged reads nothing per item.
A changed record is appended as a new version (the old one kept as history), its
change-log entry committed with it (other processes' caches follow the change log), and
this process's levels are told (on_change), as after an import.

Recording is a side effect of answering and never an error of it: a failed write is
logged (the enterprise's code and the error's type, never the record) and the answer
goes back as it came. Nor may it make the answer late: the caller gives up on a lookup
after its registry timeout, so the answer waits for the write only while the lookup is
within `answer_within_seconds`, or within the time its caller has left if shorter; a
slower write (a busy database) finishes on its own after the answer has gone back.
Personal data is as the source sealed it: the fact holds the masked forms only
(service/domain/archive.py registry_fact).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import structlog

from service.app.ports import OnChange, Registry, RegistryFacts, no_change
from service.domain.archive import Fact, registry_fact
from service.domain.registry import RegistryRecord

log = structlog.get_logger(__name__)

DEFAULT_REMEMBERED = 50_000
"""Enterprises whose last recorded digest is kept: about 100 bytes each."""


def payload_digest(payload: Mapping[str, Any]) -> bytes:
    """The same for equal payloads, whether built here or read back from the database
    (JSON turns tuples into lists, so the canonical form is JSON's: keys sorted, UTF-8,
    no spaces). Digests live in memory only, so the form may change between versions."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).digest()


def _is_older(payload: Mapping[str, Any], held: Mapping[str, Any]) -> bool:
    """An answer published before the one the archive holds (another replica saw a newer
    one first): recording it would undo the newer one, as an old import file would."""
    try:
        held_time = dt.datetime.fromisoformat(str(held["snapshot_time"]))
        answer_time = dt.datetime.fromisoformat(str(payload["snapshot_time"]))
    except (KeyError, ValueError):
        return False
    return answer_time < held_time


class ArchivingRegistry:
    """The registry port (service/app/ports.py Registry) over another registry source,
    recording each record it answers in the archive."""

    def __init__(
        self,
        source: Registry,
        facts: RegistryFacts,
        *,
        answer_within_seconds: float,
        on_change: OnChange = no_change,
        remembered: int = DEFAULT_REMEMBERED,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._facts = facts
        self._answer_within = answer_within_seconds
        self._on_change = on_change
        self._remembered = remembered
        self._monotonic = monotonic
        self._digests: OrderedDict[str, bytes] = OrderedDict()
        # Writes still running after their answer went back; held so they are not
        # collected half-way, and awaited on close.
        self._writing: set[asyncio.Task[None]] = set()

    async def lookup(self, uscc: str, within_seconds: float | None = None) -> RegistryRecord | None:
        started = self._monotonic()
        answer_within = self._answer_within
        if within_seconds is not None:
            answer_within = min(answer_within, within_seconds)
        record = await self._source.lookup(uscc, within_seconds)
        if record is None:
            return None
        fact = registry_fact(record)
        assert fact.payload is not None
        digest = payload_digest(fact.payload)
        if self._digests.get(uscc) == digest:
            self._digests.move_to_end(uscc)
            return record
        writing = asyncio.create_task(self._archive(record, fact, digest))
        self._writing.add(writing)
        writing.add_done_callback(self._writing.discard)
        left = answer_within - (self._monotonic() - started)
        if left > 0:
            # asyncio.wait never cancels what it waits for: past the time, the write goes on.
            await asyncio.wait({writing}, timeout=left)
        return record

    async def read_ahead(self, usccs: Sequence[str]) -> None:
        """Remember what the archive holds for those not remembered yet, in one read."""
        unknown = [uscc for uscc in dict.fromkeys(usccs) if uscc not in self._digests]
        if not unknown:
            return
        try:
            held = await self._facts.held_payloads(unknown)
        except Exception as error:  # a hint only: each lookup reads for itself instead
            log.warning("registry_facts_not_read_ahead", error_type=type(error).__name__)
            return
        for uscc, payload in held.items():
            self._remember(uscc, payload_digest(payload))

    async def drain(self) -> None:
        """Wait for the writes still running (on shutdown, before the database closes)."""
        while self._writing:
            await asyncio.wait(set(self._writing))

    async def _archive(self, record: RegistryRecord, fact: Fact, digest: bytes) -> None:
        assert fact.payload is not None
        try:
            held = await self._facts.held_payload(record.uscc)
            if held is not None and _is_older(fact.payload, held):
                return
            if held is None or payload_digest(held) != digest:
                changed = await self._facts.record(fact)
            else:
                changed = []
        except Exception as error:  # any storage failure: the answer still goes back
            log.warning(
                "registry_fact_not_recorded", uscc=record.uscc, error_type=type(error).__name__
            )
            return
        self._remember(record.uscc, digest)
        if not changed:
            return
        try:
            await self._on_change(changed)
        except Exception as error:
            # The fact and its change-log entry are committed: the level catches up on the
            # next change, a revisit, or `integrity-ops level recompute`.
            log.warning(
                "registry_fact_change_not_applied",
                uscc=record.uscc,
                error_type=type(error).__name__,
            )

    def _remember(self, uscc: str, digest: bytes) -> None:
        self._digests[uscc] = digest
        self._digests.move_to_end(uscc)
        while len(self._digests) > self._remembered:
            self._digests.popitem(last=False)
