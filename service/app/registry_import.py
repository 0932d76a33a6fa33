"""Importing a registry snapshot: checked row by row, sealed, written in batches.

Idempotent: importing the same file again changes nothing. A bad row is reported
with its line number and reason, and the import goes on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from service.app.ports import Clock, OnChange, PersonalDataKeys, PiiVault, Sealer, no_change
from service.domain.licence import china_today
from service.domain.masking import mask_change
from service.domain.registry import RegistryRecord, Shareholder
from service.domain.registry_rows import RegistryRowDraft, RowRejected, parse_registry_row
from service.domain.sealed import PiiKind, SealedLegalRepresentative

BATCH_SIZE = 1000


@dataclass(frozen=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    # Rows older than the record already held: an old file must not undo a newer one.
    stale: int = 0
    changed: tuple[str, ...] = ()


class RegistrySnapshotWriter(Protocol):
    async def write_batch(
        self, records: Sequence[tuple[RegistryRecord, bytes]], import_time: dt.datetime
    ) -> WriteCounts: ...


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    # Lines naming an enterprise an earlier line of the same batch named: the later one won.
    repeated: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def read(self) -> int:
        written = self.inserted + self.updated + self.unchanged + self.stale
        return written + self.repeated + len(self.rejected)


def content_fingerprint(
    sealer: Sealer, draft: RegistryRowDraft, snapshot_time: dt.datetime
) -> bytes:
    """The keyed hash of a row as imported, by the enterprise's sealer; a withholding one
    (the enterprise withdrew) leaves the legal representative out of it, as of the record."""
    return sealer.fingerprint(_content_document(draft, snapshot_time, sealer.withholding))


def _content_document(
    draft: RegistryRowDraft, snapshot_time: dt.datetime, without_person: bool
) -> bytes:
    representative = [draft.legal_rep_name, draft.legal_rep_id_number]
    document = {
        "uscc": draft.uscc,
        "name": draft.name,
        "type": draft.enterprise_type,
        "rep": None if without_person else representative,
        "capital": [str(draft.registered_capital), draft.capital_currency],
        "established": draft.establishment_date.isoformat(),
        "term": [str(draft.term.start), str(draft.term.end), draft.term.open_ended],
        "authority": draft.registration_authority,
        "approved": str(draft.approval_date),
        "status": draft.status.value,
        "address": draft.address,
        "scope": draft.business_scope,
        "shareholders": [
            [s.name, s.kind.value, str(s.subscribed_capital), str(s.ratio)]
            for s in draft.shareholders
        ],
        "changes": [[c.date.isoformat(), c.item, c.before, c.after] for c in draft.changes],
        "snapshot": snapshot_time.isoformat(),
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


def _seal_shareholder(vault: PiiVault, shareholder: Shareholder) -> Shareholder:
    if not shareholder.is_person:
        return shareholder
    sealed = vault.seal(PiiKind.PERSON_NAME, shareholder.name)
    return replace(shareholder, name=sealed.masked, sealed_name=sealed)


def sealed_record(
    vault: PiiVault, sealer: Sealer, draft: RegistryRowDraft, snapshot_time: dt.datetime
) -> RegistryRecord:
    """The record of a checked row, its people sealed: every registry source's rows
    (snapshot files, the government registry's answers) become records here. The legal
    representative is sealed with the enterprise's own key (sealer); shareholders with the
    service's (vault)."""
    id_number = None
    if draft.legal_rep_id_number is not None:
        id_number = sealer.seal(PiiKind.ID_NUMBER, draft.legal_rep_id_number)
    return RegistryRecord(
        uscc=draft.uscc,
        name=draft.name,
        enterprise_type=draft.enterprise_type,
        legal_representative=SealedLegalRepresentative(
            name=sealer.seal(PiiKind.PERSON_NAME, draft.legal_rep_name),
            id_number=id_number,
        ),
        registered_capital=draft.registered_capital,
        capital_currency=draft.capital_currency,
        establishment_date=draft.establishment_date,
        term=draft.term,
        registration_authority=draft.registration_authority,
        approval_date=draft.approval_date,
        status=draft.status,
        address=draft.address,
        business_scope=draft.business_scope,
        shareholders=tuple(_seal_shareholder(vault, s) for s in draft.shareholders),
        changes=tuple(mask_change(c) for c in draft.changes),
        snapshot_time=snapshot_time,
    )


class RegistryImporter:
    def __init__(
        self,
        writer: RegistrySnapshotWriter,
        vault: PiiVault,
        keys: PersonalDataKeys,
        clock: Clock,
        on_change: OnChange = no_change,
    ) -> None:
        self._writer = writer
        self._vault = vault
        self._keys = keys
        self._clock = clock
        self._on_change = on_change

    async def run(
        self,
        rows: Iterable[tuple[int, Mapping[str, Any] | RowRejected]],
        default_snapshot_time: dt.datetime,
        progress: Callable[[int], object] = lambda _: None,
    ) -> ImportReport:
        """rows: (line number, parsed row or the reason it could not be parsed)."""
        report = ImportReport()
        now = self._clock.now()
        today = china_today(now)
        batch: dict[str, tuple[RegistryRowDraft, dt.datetime]] = {}

        async def flush() -> None:
            sealers = await self._keys.sealers(batch)
            records = [
                (
                    sealed_record(self._vault, sealers[uscc], draft, snapshot_time),
                    content_fingerprint(sealers[uscc], draft, snapshot_time),
                )
                for uscc, (draft, snapshot_time) in batch.items()
            ]
            counts = await self._writer.write_batch(records, now)
            report.inserted += counts.inserted
            report.updated += counts.updated
            report.unchanged += counts.unchanged
            report.stale += counts.stale
            await self._on_change(counts.changed)
            progress(len(batch))
            batch.clear()

        for line, row in rows:
            try:
                if isinstance(row, RowRejected):
                    raise row
                draft = parse_registry_row(row, today)
            except RowRejected as rejection:
                report.rejected.append(RejectedRow(line, str(rejection)))
                progress(1)
                continue
            snapshot_time = draft.snapshot_time or default_snapshot_time
            if draft.uscc in batch:
                # The same enterprise twice close together: the later line wins, as it
                # does across batches.
                report.repeated += 1
                progress(1)
            batch[draft.uscc] = (draft, snapshot_time)
            if len(batch) >= BATCH_SIZE:
                await flush()
        if batch:
            await flush()
        return report
