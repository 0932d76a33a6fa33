"""integrity-ops scorecard: scorecard versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from service.cli.ops.app_session import database_options, run_with_app


@click.group()
def scorecard() -> None:
    """Scorecard versions: load, shadow, compare, activate."""


@scorecard.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--shadow", is_flag=True, help="run beside the active version without replacing it")
@database_options
def scorecard_load(path: Path, shadow: bool, **flags: Any) -> None:
    """Check a scorecard file and load it as the active (or shadow) version."""
    document = json.loads(path.read_text(encoding="utf-8"))
    card = run_with_app(flags, lambda app: app.levels.load_scorecard(document, shadow=shadow))
    click.echo(f"scorecard {card.version} loaded as {'shadow' if shadow else 'active'}")


@scorecard.command("activate")
@click.argument("version")
@database_options
def scorecard_activate(version: str, **flags: Any) -> None:
    """Make a loaded version active; the previous active version is retired."""
    run_with_app(flags, lambda app: app.levels.activate(version))
    click.echo(f"scorecard {version} is active")


@scorecard.command("compare")
@database_options
def scorecard_compare(**flags: Any) -> None:
    """Class distributions of the active and shadow versions, side by side."""
    comparison = run_with_app(flags, lambda app: app.levels.compare(), migrate=False)
    classes = list(dict.fromkeys([*comparison.active, *comparison.shadow]))
    click.echo(
        f"{'class':20} {comparison.active_version:>12} {comparison.shadow_version or '-':>12}"
    )
    for name in classes:
        click.echo(
            f"{name:20} {comparison.active.get(name, 0):>12} {comparison.shadow.get(name, 0):>12}"
        )
