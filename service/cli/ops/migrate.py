"""integrity-ops migrate: bring the schema up to date."""

from __future__ import annotations

from typing import Any

import click

from service.cli.ops.app_session import database_options, run_with_app


@click.command("migrate")
@database_options
def migrate_command(**flags: Any) -> None:
    """Bring the database schema up to date (and the registry snapshot's, where it is apart)."""
    # Bootstrapping migrates the application's database and loads the packaged scorecard
    # into a new one; the registry's database must be reachable here, unlike at start-up.
    run_with_app(flags, lambda app: app.migrate_registry())
    click.echo("schema is current")
