"""integrity-ops retention: closed accounts, legal holds and the two-year purge."""

from __future__ import annotations

from typing import Any

import click

from service.app.resource_names import enterprise_name
from service.cli.ops.app_session import database_options, run_with_app
from service.domain.retention import LegalHold


@click.group()
def retention() -> None:
    """Closed accounts are kept two years, then purged but for what legal holds keep."""


def _hold_line(hold: LegalHold) -> str:
    state = "active" if hold.active else f"released {hold.release_time:%Y-%m-%d %H:%M} UTC"
    return f"{hold.id}  {hold.uscc}  {hold.item}  {state}  {hold.reason}"


@retention.command("close")
@click.argument("uscc")
@click.option("--reason", required=True, help="Why the account closed (the merchant asked, ...).")
@database_options
def retention_close(uscc: str, reason: str, **flags: Any) -> None:
    """The enterprise's account is closed: its data is purged two years later."""
    due = run_with_app(
        flags, lambda app: app.retention.close(enterprise_name(uscc.upper()), reason)
    )
    click.echo(f"{uscc.upper()} closed; purged from {due:%Y-%m-%d %H:%M} UTC")


@retention.command("reopen")
@click.argument("uscc")
@database_options
def retention_reopen(uscc: str, **flags: Any) -> None:
    """The account is reactivated within the retention: nothing of it is purged."""
    run_with_app(flags, lambda app: app.retention.reopen(enterprise_name(uscc.upper())))
    click.echo(f"{uscc.upper()} reopened")


@retention.command("hold")
@click.argument("uscc")
@click.option("--item", required=True,
              help="What is kept: *, personal_data, integrity_level, conduct:<platform>:<id>, "
              "certification:<platform>:<id> or verification:<id>.")  # fmt: skip
@click.option("--reason", required=True, help="The court order's or the audit's reference.")
@database_options
def retention_hold(uscc: str, item: str, reason: str, **flags: Any) -> None:
    """Place a legal hold: the purge keeps the item until the hold is released."""
    hold = run_with_app(
        flags, lambda app: app.retention.place_hold(enterprise_name(uscc.upper()), item, reason)
    )
    click.echo(_hold_line(hold))


@retention.command("holds")
@click.argument("uscc")
@database_options
def retention_holds(uscc: str, **flags: Any) -> None:
    """An enterprise's legal holds, active and released."""
    holds = run_with_app(
        flags, lambda app: app.retention.holds(enterprise_name(uscc.upper())), migrate=False
    )
    for hold in holds:
        click.echo(_hold_line(hold))
    click.echo(f"{len(holds)} holds")


@retention.command("release")
@click.argument("hold_id")
@database_options
def retention_release(hold_id: str, **flags: Any) -> None:
    """Release a hold; a purged account's purge then takes what it kept."""
    hold = run_with_app(flags, lambda app: app.retention.release_hold(hold_id))
    click.echo(_hold_line(hold))


@retention.command("purge")
@database_options
def retention_purge(**flags: Any) -> None:
    """Purge the accounts closed two years ago or more (the server does it hourly)."""
    purged = run_with_app(flags, lambda app: app.retention.purge_due(1000))
    for done in purged:
        kept = ", ".join(sorted(done.kept)) or "nothing"
        click.echo(f"{done.uscc}  {done.rows} records deleted  kept: {kept}")
    click.echo(f"{len(purged)} accounts purged")
