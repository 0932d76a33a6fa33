"""ArchivingRegistry over fakes: what it records, what it reads, and that recording never
fails an answer."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from structlog.testing import capture_logs

from service.adapters.registry_http.archiving import ArchivingRegistry
from service.adapters.subject_keys import SubjectKey, SubjectSealer
from service.app.registry_import import sealed_record
from service.domain.archive import Fact
from service.domain.licence import RegistrationStatus
from service.domain.registry import RegistryRecord
from service.domain.registry_rows import parse_registry_row
from tests.builders import new_uscc, registry_row
from tests.registry_wire import vault

TODAY = dt.date(2026, 11, 23)
PUBLISHED = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def a_record(**row: Any) -> RegistryRecord:
    draft = parse_registry_row(registry_row(**row), TODAY)
    keys = vault()
    sealer = SubjectSealer(SubjectKey(draft.uscc, 1, secrets.token_bytes(32)), keys.vault)
    return sealed_record(keys.vault, sealer, draft, draft.snapshot_time or PUBLISHED)


class Source:
    def __init__(self, record: RegistryRecord | None) -> None:
        self.record = record

    async def lookup(self, uscc: str, within_seconds: float | None = None) -> RegistryRecord | None:
        self.within_seconds = within_seconds
        return self.record


class Sources:
    """A source holding several enterprises."""

    def __init__(self, records: Sequence[RegistryRecord]) -> None:
        self.records = {record.uscc: record for record in records}

    async def lookup(self, uscc: str, within_seconds: float | None = None) -> RegistryRecord | None:
        return self.records.get(uscc)


class Facts:
    """The archive's registry facts in memory, counting what is asked of it."""

    def __init__(self) -> None:
        self.versions: dict[str, list[Mapping[str, Any]]] = {}
        self.reads = 0
        self.writes = 0
        self.failure: Exception | None = None

    async def held_payload(self, uscc: str) -> Mapping[str, Any] | None:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        versions = self.versions.get(uscc)
        return versions[-1] if versions else None

    async def held_payloads(self, usccs: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        return {uscc: self.versions[uscc][-1] for uscc in usccs if self.versions.get(uscc)}

    async def record(self, fact: Fact) -> list[str]:
        self.writes += 1
        assert fact.payload is not None
        versions = self.versions.setdefault(fact.uscc, [])
        if versions and versions[-1] == fact.payload:
            return []
        versions.append(dict(fact.payload))
        return [fact.uscc]


class SlowFacts(Facts):
    """A busy database: the write waits until the test lets it through."""

    def __init__(self) -> None:
        super().__init__()
        self.let_through = asyncio.Event()

    async def record(self, fact: Fact) -> list[str]:
        await self.let_through.wait()
        return await super().record(fact)


class Changes:
    def __init__(self, failure: Exception | None = None) -> None:
        self.told: list[list[str]] = []
        self.failure = failure

    async def __call__(self, usccs: Sequence[str]) -> None:
        self.told.append(list(usccs))
        if self.failure is not None:
            raise self.failure


def archiving(
    record: RegistryRecord | None, facts: Facts, changes: Changes | None = None, **options: Any
) -> tuple[ArchivingRegistry, Source]:
    source = Source(record)
    options.setdefault("answer_within_seconds", 60.0)
    registry = ArchivingRegistry(source, facts, on_change=changes or Changes(), **options)
    return registry, source


async def test_a_new_record_is_recorded_and_its_change_told() -> None:
    record, facts, changes = a_record(), Facts(), Changes()
    registry, _ = archiving(record, facts, changes)
    assert await registry.lookup(record.uscc) is record
    assert [v["status"] for v in facts.versions[record.uscc]] == ["in_business"]
    assert changes.told == [[record.uscc]]


async def test_an_unchanged_record_costs_nothing_once_known() -> None:
    record, facts = a_record(), Facts()
    registry, _ = archiving(record, facts)
    await registry.lookup(record.uscc)
    reads, writes = facts.reads, facts.writes
    for _ in range(3):
        await registry.lookup(record.uscc)
    assert (facts.reads, facts.writes) == (reads, writes)


async def test_another_process_finds_the_record_held_with_one_read_and_no_write() -> None:
    record, facts = a_record(), Facts()
    first, _ = archiving(record, facts)
    await first.lookup(record.uscc)
    changes = Changes()
    second, _ = archiving(record, facts, changes)
    reads, writes = facts.reads, facts.writes
    await second.lookup(record.uscc)
    assert (facts.reads - reads, facts.writes - writes) == (1, 0)
    assert changes.told == []


async def test_reading_ahead_finds_held_records_in_one_read_for_all() -> None:
    records = [a_record(uscc=new_uscc()) for _ in range(2)]
    facts = Facts()
    for record in records:
        await archiving(record, facts)[0].lookup(record.uscc)
    worker = ArchivingRegistry(Sources(records), facts, answer_within_seconds=60.0)
    reads, writes = facts.reads, facts.writes
    await worker.read_ahead([r.uscc for r in records] + [new_uscc()])
    assert facts.reads - reads == 1
    for record in records:
        assert await worker.lookup(record.uscc) is record
    assert (facts.reads - reads, facts.writes - writes) == (1, 0)


async def test_reading_ahead_does_not_hide_a_changed_record() -> None:
    record, facts, changes = a_record(), Facts(), Changes()
    await archiving(record, facts)[0].lookup(record.uscc)
    revoked = dataclasses.replace(record, status=RegistrationStatus.REVOKED)
    worker, _ = archiving(revoked, facts, changes)
    await worker.read_ahead([record.uscc])
    await worker.lookup(record.uscc)
    assert [v["status"] for v in facts.versions[record.uscc]] == ["in_business", "revoked"]
    assert changes.told == [[record.uscc]]


async def test_a_failed_read_ahead_is_logged_and_each_lookup_reads_for_itself() -> None:
    record, facts = a_record(), Facts()
    await archiving(record, facts)[0].lookup(record.uscc)
    worker, _ = archiving(record, facts)
    facts.failure = ConnectionError("database away")
    with capture_logs() as logs:
        await worker.read_ahead([record.uscc])
    assert [e["event"] for e in logs] == ["registry_facts_not_read_ahead"]
    facts.failure = None
    reads = facts.reads
    assert await worker.lookup(record.uscc) is record
    assert facts.reads - reads == 1


async def test_a_changed_record_is_a_new_version_with_the_old_one_kept() -> None:
    record, facts, changes = a_record(), Facts(), Changes()
    registry, source = archiving(record, facts, changes)
    await registry.lookup(record.uscc)
    source.record = dataclasses.replace(
        record,
        status=RegistrationStatus.REVOKED,
        snapshot_time=record.snapshot_time + dt.timedelta(days=1),
    )
    await registry.lookup(record.uscc)
    assert [v["status"] for v in facts.versions[record.uscc]] == ["in_business", "revoked"]
    assert changes.told == [[record.uscc], [record.uscc]]


async def test_an_answer_older_than_the_held_record_does_not_undo_it() -> None:
    record, facts = a_record(), Facts()
    newer = dataclasses.replace(
        record,
        status=RegistrationStatus.REVOKED,
        snapshot_time=record.snapshot_time + dt.timedelta(days=1),
    )
    other_replica, _ = archiving(newer, facts)
    await other_replica.lookup(record.uscc)
    lagging, _ = archiving(record, facts)
    assert await lagging.lookup(record.uscc) is record
    assert [v["status"] for v in facts.versions[record.uscc]] == ["revoked"]


async def test_no_record_records_nothing() -> None:
    facts = Facts()
    registry, _ = archiving(None, facts)
    assert await registry.lookup("91330106MA27XXXXXX") is None
    assert (facts.reads, facts.writes) == (0, 0)


async def test_a_failing_archive_still_answers_and_logs_no_personal_data() -> None:
    record, facts = a_record(), Facts()
    facts.failure = RuntimeError(f"cannot write {record.name} 王小明")
    registry, _ = archiving(record, facts)
    with capture_logs() as logs:
        assert await registry.lookup(record.uscc) is record
    assert logs == [
        {
            "event": "registry_fact_not_recorded",
            "log_level": "warning",
            "uscc": record.uscc,
            "error_type": "RuntimeError",
        }
    ]
    # Not remembered as recorded: the next answer tries again.
    facts.failure = None
    await registry.lookup(record.uscc)
    assert len(facts.versions[record.uscc]) == 1


async def test_a_failing_level_update_still_answers() -> None:
    record, facts = a_record(), Facts()
    registry, _ = archiving(record, facts, Changes(failure=RuntimeError("levels down")))
    with capture_logs() as logs:
        assert await registry.lookup(record.uscc) is record
    assert [entry["event"] for entry in logs] == ["registry_fact_change_not_applied"]
    assert len(facts.versions[record.uscc]) == 1


@pytest.mark.parametrize("remembered", [1, 2])
async def test_the_memory_is_bounded(remembered: int) -> None:
    records = [a_record(), a_record()]
    facts = Facts()
    source = Source(None)
    registry = ArchivingRegistry(source, facts, answer_within_seconds=60.0, remembered=remembered)
    for record in records:
        source.record = record
        await registry.lookup(record.uscc)
    reads = facts.reads
    source.record = records[0]
    await registry.lookup(records[0].uscc)
    # Remembering one enterprise, the first was forgotten for the second: read again.
    assert facts.reads - reads == (1 if remembered == 1 else 0)


async def test_a_write_slower_than_the_answer_time_finishes_after_the_answer() -> None:
    record, facts = a_record(), SlowFacts()
    ticks = iter([0.0, 5.0])  # the lookup started, and when the source answered
    registry, _ = archiving(record, facts, answer_within_seconds=2.0, monotonic=lambda: next(ticks))
    # Answered at once, though the write cannot go through yet.
    assert await registry.lookup(record.uscc) is record
    assert record.uscc not in facts.versions
    facts.let_through.set()
    await registry.drain()
    assert [v["status"] for v in facts.versions[record.uscc]] == ["in_business"]


async def test_the_callers_shorter_time_bounds_the_source_and_the_wait_for_the_write() -> None:
    record, facts = a_record(), SlowFacts()
    ticks = iter([0.0, 1.5])  # the lookup started, and when the source answered
    registry, source = archiving(
        record, facts, answer_within_seconds=60.0, monotonic=lambda: next(ticks)
    )
    # The source answered 1.5 s in, past the caller's 1 s: the answer goes back at once.
    assert await registry.lookup(record.uscc, 1.0) is record
    assert source.within_seconds == 1.0
    assert record.uscc not in facts.versions
    facts.let_through.set()
    await registry.drain()
    assert [v["status"] for v in facts.versions[record.uscc]] == ["in_business"]
