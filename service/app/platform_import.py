"""Importing a platform's records from a file, as ops do: the same checks and idempotency
as IngestPlatformRecords (each record's event_id), in batches the ingestion accepts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from service.app.ingestion import PlatformIngestion, RecordOutcome
from service.app.registry_import import RejectedRow
from service.domain.callers import Caller, CallerKind, Scope
from service.domain.platform_ingest import MAX_RECORDS_PER_BATCH, RecordDraft
from service.domain.registry_rows import RowRejected

# Files are imported by ops, who may write any platform's data.
OPERATOR = Caller("integrity-ops", CallerKind.OPS, "integrity-ops", None, frozenset(Scope))


@dataclass
class PlatformImportReport:
    counts: dict[RecordOutcome, int] = field(
        default_factory=lambda: dict.fromkeys(RecordOutcome, 0)
    )
    # A line that is no record, and each problem of a record that was rejected.
    problems: list[RejectedRow] = field(default_factory=list)


class PlatformImporter:
    def __init__(self, ingestion: PlatformIngestion) -> None:
        self._ingestion = ingestion

    async def run(
        self,
        platform: str,
        rows: Iterable[tuple[int, RecordDraft | RowRejected]],
        progress: Callable[[int], object] = lambda _: None,
    ) -> PlatformImportReport:
        """platform: its code (e.g. "1688"); rows: (line, draft or why the line is none)."""
        report = PlatformImportReport()
        batch: list[tuple[int, RecordDraft]] = []

        async def flush() -> None:
            ingested = await self._ingestion.ingest(
                OPERATOR, f"platforms/{platform}", [draft for _, draft in batch]
            )
            for (line, _), result in zip(batch, ingested.results, strict=True):
                report.counts[result.outcome] += 1
                for violation in result.violations:
                    report.problems.append(
                        RejectedRow(line, f"{violation.field}: {violation.description}")
                    )
            progress(len(batch))
            batch.clear()

        for line, row in rows:
            if isinstance(row, RowRejected):
                report.counts[RecordOutcome.REJECTED] += 1
                report.problems.append(RejectedRow(line, str(row)))
                progress(1)
                continue
            batch.append((line, row))
            if len(batch) == MAX_RECORDS_PER_BATCH:
                await flush()
        if batch:
            await flush()
        return report
