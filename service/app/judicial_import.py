"""Importing judicial and regulatory entries from a file: checked per row, idempotent."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.app.ports import Clock, FactWriter, OnChange, no_change
from service.app.registry_import import RejectedRow
from service.domain.archive import Fact, judicial_fact
from service.domain.errors import InvalidIdentifier
from service.domain.identifiers.uscc import normalise_uscc, parse_uscc
from service.domain.judicial import parse_judicial_row
from service.domain.registry_rows import RowRejected

BATCH_SIZE = 1000


@dataclass
class JudicialImportReport:
    changed: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


class JudicialImporter:
    def __init__(self, writer: FactWriter, clock: Clock, on_change: OnChange = no_change) -> None:
        self._writer = writer
        self._clock = clock
        self._on_change = on_change

    async def run(
        self,
        rows: Iterable[tuple[int, Mapping[str, Any] | RowRejected]],
        progress: Callable[[int], object] = lambda _: None,
    ) -> JudicialImportReport:
        report = JudicialImportReport()
        batch: list[Fact] = []

        async def flush() -> None:
            changed = await self._writer.write(batch, source="judicial-import")
            report.changed += len(changed)
            report.unchanged += len(batch) - len(changed)
            await self._on_change(changed)
            progress(len(batch))
            batch.clear()

        for line, row in rows:
            try:
                if isinstance(row, RowRejected):
                    raise row
                raw_uscc, entry = parse_judicial_row(dict(row))
                uscc = parse_uscc(normalise_uscc(raw_uscc)).value
            except (RowRejected, InvalidIdentifier) as problem:
                reason = problem.description if isinstance(problem, InvalidIdentifier) else problem
                report.rejected.append(RejectedRow(line, f"{reason}"))
                progress(1)
                continue
            batch.append(judicial_fact(uscc, entry))
            if len(batch) >= BATCH_SIZE:
                await flush()
        if batch:
            await flush()
        return report
