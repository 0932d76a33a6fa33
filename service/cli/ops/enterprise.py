"""integrity-ops enterprise: an enterprise's service state."""

from __future__ import annotations

from typing import Any

import click

from service.cli.ops.app_session import database_options, run_with_app


@click.group()
def enterprise() -> None:
    """Service state of an enterprise: suspend, restore."""


@enterprise.command("suspend")
@click.argument("uscc")
@click.option(
    "--reason", required=True, help="why, as the agreement lists (violation, risk control, ...)"
)
@database_options
def enterprise_suspend(uscc: str, reason: str, **flags: Any) -> None:
    """Suspend the service for an enterprise: its eligibility checks are denied."""
    run_with_app(flags, lambda app: app.service_states.suspend(uscc, reason=reason))
    click.echo(f"{uscc} suspended")


@enterprise.command("restore")
@click.argument("uscc")
@database_options
def enterprise_restore(uscc: str, **flags: Any) -> None:
    """Restore the service for a suspended enterprise."""
    run_with_app(flags, lambda app: app.service_states.restore(uscc))
    click.echo(f"{uscc} restored")
