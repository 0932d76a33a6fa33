"""integrity-ops registry: registry snapshots, imported or generated."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from service.cli.ops.app_session import (
    command_clock,
    database_options,
    progress,
    quiet_option,
    run_with_app,
)

if TYPE_CHECKING:
    from service.app.registry_import import ImportReport
    from service.bootstrap import Application


@click.group()
def registry() -> None:
    """Registry snapshots."""


@registry.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--snapshot-time",
    help="when the registry data was captured (ISO 8601 with offset); default: the file's "
    "modification time. Rows may carry their own snapshot_time.",
)
@quiet_option
@database_options
def registry_import(path: Path, snapshot_time: str | None, quiet: bool, **flags: Any) -> None:
    """Import a registry snapshot file (JSON Lines, or .csv). Safe to run again."""
    from service.adapters.registry_files import count_lines, read_registry_file

    if snapshot_time:
        try:
            default_time = dt.datetime.fromisoformat(snapshot_time)
        except ValueError as exc:
            raise click.BadParameter("not an ISO 8601 time", param_hint="--snapshot-time") from exc
        if default_time.tzinfo is None:
            raise click.BadParameter("needs a UTC offset", param_hint="--snapshot-time")
    else:
        default_time = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    started = time.perf_counter()

    async def run(app: Application) -> ImportReport:
        await app.migrate_registry()
        with progress("row", quiet=quiet, total=count_lines(path)) as bar:
            return await app.importer.run(read_registry_file(path), default_time, bar.update)

    report = run_with_app(flags, run)
    elapsed = time.perf_counter() - started
    click.echo(
        f"read {report.read} rows in {elapsed:.1f}s: {report.inserted} inserted, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.stale} older than "
        f"held, {report.repeated} repeated, {len(report.rejected)} rejected"
    )
    for rejected in report.rejected:
        click.echo(f"  line {rejected.line}: {rejected.reason}")


@registry.command("generate")
@click.option("--count", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def registry_generate(count: int, seed: int, out: Path) -> None:
    """Write synthetic registry records (JSON Lines) for demos, tests and benchmarks."""
    from service.demo.synthetic import generate_registry_records, write_jsonl

    out.parent.mkdir(parents=True, exist_ok=True)
    clock = command_clock()
    today = (clock.now() if clock is not None else dt.datetime.now(dt.UTC)).date()
    with out.open("w", encoding="utf-8") as stream:
        written = write_jsonl(generate_registry_records(count, seed, as_of=today), stream)
    click.echo(f"wrote {written} records to {out}")
