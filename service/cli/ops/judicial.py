"""integrity-ops judicial: judicial and regulatory entries."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from service.cli.ops.app_session import database_options, progress, quiet_option, run_with_app

if TYPE_CHECKING:
    from service.app.judicial_import import JudicialImportReport
    from service.bootstrap import Application


@click.group()
def judicial() -> None:
    """Judicial and regulatory entries."""


@judicial.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@quiet_option
@database_options
def judicial_import(path: Path, quiet: bool, **flags: Any) -> None:
    """Import judicial and regulatory entries (JSON Lines or .csv). Safe to run again.

    Columns: uscc, entry_id, kind (dishonest_debtor, abnormal_operations,
    serious_violation, administrative_penalty), authority, reason, listing_date,
    removal_date, expiry_date, source, case_number.
    """
    from service.adapters.registry_files import count_lines, read_registry_file

    async def run(app: Application) -> JudicialImportReport:
        with progress("row", quiet=quiet, total=count_lines(path)) as bar:
            return await app.judicial_importer.run(read_registry_file(path), bar.update)

    report = run_with_app(flags, run)
    click.echo(
        f"{report.changed} entries added or changed, {report.unchanged} unchanged, "
        f"{len(report.rejected)} rejected"
    )
    for rejected in report.rejected:
        click.echo(f"  line {rejected.line}: {rejected.reason}")
