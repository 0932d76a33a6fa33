"""integrity-ops enterprise: an enterprise's service state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from service.cli.ops.app_session import database_options, run_with_app

if TYPE_CHECKING:
    from service.bootstrap import Application


@click.group()
def enterprise() -> None:
    """Service state of an enterprise: suspend, restore."""


async def _set_service_state(app: Application, uscc: str, *, suspended: bool, reason: str) -> None:
    from service.domain.archive import service_state_fact
    from service.domain.errors import InvalidArgument, InvalidIdentifier
    from service.domain.identifiers.uscc import parse_uscc

    try:
        parse_uscc(uscc)
    except InvalidIdentifier as problem:
        raise InvalidArgument([problem.at("uscc")]) from problem
    fact = service_state_fact(uscc, suspended=suspended, reason=reason)
    changed = await app.fact_writer.write([fact], source="ops")
    await app.levels.recompute(changed or [uscc])


@enterprise.command("suspend")
@click.argument("uscc")
@click.option(
    "--reason", required=True, help="why, as the agreement lists (violation, risk control, ...)"
)
@database_options
def enterprise_suspend(uscc: str, reason: str, **flags: Any) -> None:
    """Suspend the service for an enterprise: its eligibility checks are denied."""
    run_with_app(flags, lambda app: _set_service_state(app, uscc, suspended=True, reason=reason))
    click.echo(f"{uscc} suspended")


@enterprise.command("restore")
@click.argument("uscc")
@database_options
def enterprise_restore(uscc: str, **flags: Any) -> None:
    """Restore the service for a suspended enterprise."""
    run_with_app(flags, lambda app: _set_service_state(app, uscc, suspended=False, reason=""))
    click.echo(f"{uscc} restored")
