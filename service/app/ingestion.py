"""Platforms feeding the business integrity archive: checked per record, idempotent per event."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import structlog

from service.app.ports import Clock, OnChange, no_change
from service.domain.archive import Fact, platform_fact
from service.domain.callers import Caller, Scope
from service.domain.errors import FieldViolation, InvalidArgument, PermissionDenied
from service.domain.licence import china_today
from service.domain.platform_ingest import (
    MAX_RECORDS_PER_BATCH,
    RecordDraft,
    validate_platform_record,
)

log = structlog.get_logger("integrity.ingestion")

_PLATFORM_NAME = re.compile(r"^platforms/([a-z0-9][a-z0-9-]{0,31})\Z")


class RecordOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RecordResult:
    index: int
    event_id: str
    outcome: RecordOutcome
    violations: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True)
class IngestReport:
    results: tuple[RecordResult, ...]

    def count(self, outcome: RecordOutcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)


@dataclass(frozen=True)
class NewEvent:
    event_id: str
    fingerprint: bytes
    fact: Fact


class EventApplication(StrEnum):
    APPLIED = "applied"
    SEEN = "seen"  # the same event, already applied
    REUSED = "reused"  # the same event id with other content


class IngestionStore(Protocol):
    async def apply(
        self, platform: str, events: Sequence[NewEvent], now: dt.datetime
    ) -> Mapping[str, EventApplication]: ...


def _fingerprint(fact: Fact) -> bytes:
    document = [fact.uscc, fact.kind.value, fact.key, fact.payload]
    return hashlib.sha256(
        json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    ).digest()


def parse_platform_name(name: str) -> str:
    match = _PLATFORM_NAME.match(name)
    if not match:
        raise InvalidArgument(
            [FieldViolation("platform", "must be platforms/{code}", "RESOURCE_NAME_INVALID")]
        )
    return match.group(1)


class PlatformIngestion:
    def __init__(
        self, store: IngestionStore, clock: Clock, on_change: OnChange = no_change
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_change = on_change

    async def ingest(
        self, caller: Caller, platform_name: str, drafts: Sequence[RecordDraft]
    ) -> IngestReport:
        platform = parse_platform_name(platform_name)
        if caller.platform != platform and not caller.may(Scope.OPS):
            raise PermissionDenied(
                "a platform writes only its own platform's data", reason="NOT_YOUR_PLATFORM"
            )
        if not 1 <= len(drafts) <= MAX_RECORDS_PER_BATCH:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "records",
                        f"send 1 to {MAX_RECORDS_PER_BATCH} records",
                        "BATCH_SIZE_INVALID",
                    )
                ]
            )
        now = self._clock.now()
        today = china_today(now)
        results: dict[int, RecordResult] = {}
        pending: dict[str, tuple[int, NewEvent]] = {}
        for index, draft in enumerate(drafts):
            uscc, record, violations = validate_platform_record(draft, today)
            if record is None:
                results[index] = RecordResult(
                    index, draft.event_id, RecordOutcome.REJECTED, tuple(violations)
                )
                continue
            fact = platform_fact(uscc, platform, record)
            event = NewEvent(draft.event_id, _fingerprint(fact), fact)
            earlier = pending.get(draft.event_id)
            if earlier is not None:
                # The same event twice in one batch: a retry inside the batch, or a clash.
                same = earlier[1].fingerprint == event.fingerprint
                results[index] = self._seen(index, draft.event_id, same)
                continue
            pending[draft.event_id] = (index, event)
        applied = await self._store.apply(platform, [e for _, e in pending.values()], now)
        for event_id, (index, _event) in pending.items():
            outcome = applied[event_id]
            if outcome is EventApplication.APPLIED:
                results[index] = RecordResult(index, event_id, RecordOutcome.ACCEPTED)
            else:
                results[index] = self._seen(index, event_id, outcome is EventApplication.SEEN)
        # Events seen before count too: a retry after the first delivery's level update
        # failed must still bring the level up to date (recomputing a current one is a no-op).
        touched = [
            event.fact.uscc
            for event_id, (_index, event) in pending.items()
            if applied[event_id] in (EventApplication.APPLIED, EventApplication.SEEN)
        ]
        await self._on_change(touched)
        report = IngestReport(tuple(results[i] for i in range(len(drafts))))
        log.info(
            "platform_records_ingested",
            platform=platform,
            accepted=report.count(RecordOutcome.ACCEPTED),
            duplicates=report.count(RecordOutcome.DUPLICATE),
            rejected=report.count(RecordOutcome.REJECTED),
        )
        return report

    @staticmethod
    def _seen(index: int, event_id: str, same_content: bool) -> RecordResult:
        if same_content:
            return RecordResult(index, event_id, RecordOutcome.DUPLICATE)
        violation = FieldViolation(
            "event_id", "was already used for a different record", "EVENT_ID_REUSED"
        )
        return RecordResult(index, event_id, RecordOutcome.REJECTED, (violation,))
