"""integrity-ops platform: platform data for the business integrity archive."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from service.cli.ops.app_session import database_options, progress, quiet_option, run_with_app
from service.domain.callers import CallerKind, Scope

if TYPE_CHECKING:
    from service.bootstrap import Application


@click.group()
def platform() -> None:
    """Platform data for the business integrity archive."""


@platform.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--platform", "platform_code", required=True, help="the platform the data is for")
@quiet_option
@database_options
def platform_import(path: Path, platform_code: str, quiet: bool, **flags: Any) -> None:
    """Import platform records (JSON Lines, one PlatformRecord in proto JSON a line).

    The same checks and idempotency as IngestPlatformRecords: each line's event_id.
    """
    from google.protobuf import json_format
    from integrity.v1 import platform_data_pb2

    from service.adapters.registry_files import count_lines
    from service.api.platform_data_servicer import record_draft
    from service.app.ingestion import RecordOutcome
    from service.domain.callers import Caller

    operator = Caller("integrity-ops", CallerKind.OPS, "integrity-ops", None, frozenset(Scope))
    totals = dict.fromkeys(RecordOutcome, 0)
    problems: list[str] = []

    async def ingest(batch: list[tuple[int, Any]], app: Application) -> None:
        report = await app.ingestion.ingest(
            operator, f"platforms/{platform_code}", [record_draft(r) for _, r in batch]
        )
        for (line, _), result in zip(batch, report.results, strict=True):
            totals[result.outcome] += 1
            for violation in result.violations:
                problems.append(f"  line {line}: {violation.field}: {violation.description}")

    async def run(app: Application) -> None:
        batch: list[tuple[int, Any]] = []
        with (
            progress("row", quiet=quiet, total=count_lines(path)) as bar,
            path.open(encoding="utf-8") as stream,
        ):
            for line_number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    record = json_format.Parse(line, platform_data_pb2.PlatformRecord())
                except json_format.ParseError as error:
                    totals[RecordOutcome.REJECTED] += 1
                    problems.append(f"  line {line_number}: {error}")
                    bar.update(1)
                    continue
                batch.append((line_number, record))
                if len(batch) == 1000:
                    await ingest(batch, app)
                    bar.update(len(batch))
                    batch = []
            if batch:
                await ingest(batch, app)
                bar.update(len(batch))

    run_with_app(flags, run)
    click.echo(
        f"{totals[RecordOutcome.ACCEPTED]} accepted, {totals[RecordOutcome.DUPLICATE]} "
        f"duplicates, {totals[RecordOutcome.REJECTED]} rejected"
    )
    for problem in problems:
        click.echo(problem)
