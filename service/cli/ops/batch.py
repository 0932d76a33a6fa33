"""integrity-ops batch: re-verification batches, started, steered and read from any machine.

The items are worked by integrity-worker processes (or by `batch follow --work`); these
commands only read and write the batch in the database.
"""

from __future__ import annotations

import asyncio
import csv
import getpass
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from service.cli.ops.app_session import (
    database_options,
    progress,
    quiet_option,
    run_with_app,
)
from service.domain import batches as selections
from service.domain.batches import BatchReport, BatchStatus, ChangeSource, ItemResult, Selection

if TYPE_CHECKING:
    from service.bootstrap import Application

FOLLOW_POLL_SECONDS = 1.0
CSV_COLUMNS = (
    "uscc",
    "state",
    "outcome_before",
    "outcome_after",
    "reasons",
    "level_class_before",
    "level_class_after",
    "changed",
    "attempts",
    "error",
    "finish_time",
    "registry_unanswered",
)


@click.group()
def batch() -> None:
    """Re-verification batches."""


_SELECTION_OPTIONS = (
    "expiring_within",
    "changed_since",
    "from_feed",
    "not_verified_within",
    "file",
    "judicial_since",
)


def _selection(
    expiring_within: int | None,
    changed_since: str | None,
    from_feed: bool,
    not_verified_within: int | None,
    file: Path | None,
    judicial_since: str | None,
) -> Selection:
    chosen = [
        name
        for name, value in (
            ("--expiring-within", expiring_within),
            ("--changed-since", changed_since),
            ("--not-verified-within", not_verified_within),
            ("--file", file),
            ("--judicial-since", judicial_since),
        )
        if value is not None
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --expiring-within, --changed-since, --not-verified-within, "
            "--file, --judicial-since"
        )
    if from_feed and changed_since is None:
        raise click.UsageError("--from-feed goes with --changed-since")
    if expiring_within is not None:
        return selections.expiring_within(expiring_within)
    if not_verified_within is not None:
        return selections.not_verified_within(not_verified_within)
    if changed_since is not None:
        source = ChangeSource.FEED if from_feed else ChangeSource.SNAPSHOT
        return selections.changed_since(
            selections.parse_since(changed_since, "changed_since"), source
        )
    if judicial_since is not None:
        return selections.judicial_since(selections.parse_since(judicial_since, "judicial_since"))
    assert file is not None
    try:
        with file.open(encoding="utf-8") as lines:
            return selections.named_in_file(str(file), lines)
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{file} is not UTF-8 text: no batch created") from error


@batch.command("start")
@click.option("--expiring-within", type=int, metavar="DAYS", help="licence terms ending by then")
@click.option("--changed-since", metavar="TIME", help="registry records changed since then")
@click.option("--from-feed", is_flag=True, help="ask the registry's change feed, not the snapshot")
@click.option("--not-verified-within", type=int, metavar="DAYS", help="no verification since")
@click.option(
    "--file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="one USCC a line; a file with any bad line creates nothing",
)
@click.option("--judicial-since", metavar="TIME", help="judicial entries imported since then")
@click.option("--created-by", help="who starts it [default: the login name]")
@database_options
def batch_start(created_by: str | None, **options: Any) -> None:
    """Start a batch re-verifying the enterprises selected; prints its id."""
    chosen = {name: options.pop(name) for name in _SELECTION_OPTIONS}

    async def work(app: Application) -> Any:
        selection = _selection(**chosen)
        return await app.batches.start(selection, created_by=created_by or _login_name())

    started = run_with_app(options, work)
    click.echo(started.id)
    click.echo(f"{started.item_count} enterprises: {started.summary}", err=True)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name in some containers
        return "ops"


@batch.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@database_options
def batch_list(limit: int, **flags: Any) -> None:
    """The newest batches."""
    for item in run_with_app(flags, lambda app: app.batches.recent(limit), migrate=False):
        click.echo(
            f"{item.id} {item.state.value:9} {item.create_time:%Y-%m-%d %H:%M} "
            f"{item.item_count:>7} {item.created_by}: {item.summary}"
        )


def _status_lines(status: BatchStatus) -> list[str]:
    batch_ = status.batch
    lines = [
        f"batch {batch_.id}: {batch_.state.value}, {batch_.item_count} enterprises",
        f"  {batch_.summary}; started {batch_.create_time.isoformat()} by {batch_.created_by}",
    ]
    if batch_.finish_time:
        lines.append(f"  ended {batch_.finish_time.isoformat()}")
    lines.append("  items: " + _counts({k.value: v for k, v in status.by_state.items()}))
    if status.next_attempt_time:
        lines.append(
            f"  waiting for the registry; next attempt {status.next_attempt_time.isoformat()}"
        )
    if status.by_outcome:
        lines.append("  outcomes: " + _counts(status.by_outcome))
    return lines


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


@batch.command("status")
@click.argument("batch_id")
@database_options
def batch_status(batch_id: str, **flags: Any) -> None:
    """Items by state (waiting: for the registry; unavailable: not re-verified), and
    done items by outcome."""
    status = run_with_app(flags, lambda app: app.batches.status(batch_id), migrate=False)
    for line in _status_lines(status):
        click.echo(line)


def _steer(verb: str) -> click.Command:
    @click.argument("batch_id")
    @database_options
    def command(batch_id: str, **flags: Any) -> None:
        moved = run_with_app(flags, lambda app: getattr(app.batches, verb)(batch_id))
        click.echo(f"batch {moved.id}: {moved.state.value}")

    command.__doc__ = {
        "pause": "Hand out no more items; those in flight finish.",
        "resume": "Hand out items again.",
        "cancel": "Cancel the queued items; those in flight finish.",
    }[verb]
    return batch.command(verb)(command)


for _verb in ("pause", "resume", "cancel"):
    _steer(_verb)


@batch.command("follow")
@click.argument("batch_id")
@click.option("--work", is_flag=True, help="work the items in this process too")
@quiet_option
@database_options
def batch_follow(batch_id: str, work: bool, quiet: bool, **flags: Any) -> None:
    """A progress bar (rate, time left) until the batch ends."""

    async def follow(app: Application) -> BatchStatus:
        status = await app.batches.status(batch_id)
        worker = app.batch_worker() if work else None
        working = asyncio.create_task(worker.run()) if worker else None
        try:
            with progress("enterprise", quiet=quiet, total=status.batch.item_count) as bar:
                bar.update(status.worked)
                while not status.ended:
                    await asyncio.sleep(FOLLOW_POLL_SECONDS)
                    status = await app.batches.status(batch_id)
                    bar.set_postfix_str(status.batch.state.value)
                    bar.update(status.worked - bar.n)
        finally:
            if worker and working:
                worker.stop()
                await working
        return status

    # Following only reads; working items writes their results.
    for line in _status_lines(run_with_app(flags, follow, migrate=work)):
        click.echo(line)


def _csv_row(result: ItemResult) -> list[str]:
    return [
        result.uscc,
        result.state.value,
        result.outcome_before or "",
        result.outcome_after or "",
        ";".join(result.reasons),
        result.level_class_before or "",
        result.level_class_after or "",
        "yes" if result.changed else "no",
        str(result.attempts),
        result.error or "",
        result.finish_time.isoformat() if result.finish_time else "",
        str(result.unanswered),
    ]


def _report_lines(report: BatchReport) -> list[str]:
    lines = _status_lines(report.status)
    if report.by_reason:
        lines.append("  reasons: " + _counts(dict(report.by_reason)))
    lines.append(f"  changed: {len(report.changed)}")
    for item in report.changed:
        lines.append(
            f"    {item.uscc} {item.outcome_before or '-'} -> {item.outcome_after or '-'}, "
            f"level {item.level_class_before or '-'} -> {item.level_class_after or '-'}"
            + (f" ({', '.join(item.reasons)})" if item.reasons else "")
        )
    if report.failed:
        lines.append(f"  failed: {len(report.failed)}")
        lines.extend(f"    {item.uscc}: {item.error}" for item in report.failed)
    if report.unavailable:
        # Not re-verified: their decisions stand as they were; a new batch asks again.
        lines.append(f"  registry unavailable, not re-verified: {len(report.unavailable)}")
        lines.extend(
            f"    {item.uscc}: {item.error} ({item.unanswered} tries)"
            for item in report.unavailable
        )
    return lines


@batch.command("report")
@click.argument("batch_id")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="also write every item whose re-check ended (done, failed, unavailable) to this CSV",
)
@database_options
def batch_report(batch_id: str, csv_path: Path | None, **flags: Any) -> None:
    """Counts by outcome and reason; the enterprises whose outcome or level class changed."""

    async def work(app: Application) -> BatchReport:
        report = await app.batches.report(batch_id)
        if csv_path is not None:
            with csv_path.open("w", encoding="utf-8", newline="") as stream:
                writer = csv.writer(stream)
                writer.writerow(CSV_COLUMNS)
                async for result in app.batches.results(batch_id):
                    writer.writerow(_csv_row(result))
        return report

    for line in _report_lines(run_with_app(flags, work, migrate=False)):
        click.echo(line)
