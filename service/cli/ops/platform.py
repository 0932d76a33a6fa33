"""integrity-ops platform: platform data for the business integrity archive."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from service.cli.ops.app_session import database_options, progress, quiet_option, run_with_app

if TYPE_CHECKING:
    from service.app.platform_import import PlatformImportReport
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
    from service.adapters.platform_files import read_platform_file
    from service.adapters.registry_files import count_lines
    from service.app.ingestion import RecordOutcome

    async def run(app: Application) -> PlatformImportReport:
        with progress("row", quiet=quiet, total=count_lines(path)) as bar:
            rows = read_platform_file(path)
            return await app.platform_importer.run(platform_code, rows, bar.update)

    report = run_with_app(flags, run)
    counts = report.counts
    click.echo(
        f"{counts[RecordOutcome.ACCEPTED]} accepted, {counts[RecordOutcome.DUPLICATE]} "
        f"duplicates, {counts[RecordOutcome.REJECTED]} rejected"
    )
    for problem in report.problems:
        click.echo(f"  line {problem.line}: {problem.reason}")
