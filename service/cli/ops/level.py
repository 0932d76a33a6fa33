"""integrity-ops level: integrity levels."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from service.cli.ops.app_session import database_options, progress, quiet_option, run_with_app

if TYPE_CHECKING:
    from service.bootstrap import Application


@click.group()
def level() -> None:
    """Integrity levels."""


@level.command("recompute")
@click.argument("usccs", nargs=-1)
@quiet_option
@database_options
def level_recompute(usccs: tuple[str, ...], quiet: bool, **flags: Any) -> None:
    """Recompute the given enterprises' levels, or every enterprise's when none are given."""
    started = time.perf_counter()

    async def work(app: Application) -> int:
        if usccs:
            await app.levels.recompute(usccs)
            return len(usccs)
        with progress("enterprise", quiet=quiet) as bar:
            return int(await app.levels.recompute_all(bar.update))

    count = run_with_app(flags, work)
    click.echo(f"recomputed {count} enterprises in {time.perf_counter() - started:.1f}s")


@level.command("history")
@click.argument("uscc")
@database_options
def level_history(uscc: str, **flags: Any) -> None:
    """Every level an enterprise has had, newest first."""
    for item in run_with_app(flags, lambda app: app.levels.history(uscc), migrate=False):
        click.echo(
            f"{item.compute_time:%Y-%m-%d %H:%M:%S} {item.level_class:18} {item.score:>4} "
            f"{item.scorecard_version} {item.inputs_digest[:12]} {item.cap_reason}"
        )
