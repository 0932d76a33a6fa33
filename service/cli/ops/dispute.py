"""integrity-ops disputes: merchants' disputes, as ops answer them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from service.app.platform_import import OPERATOR
from service.app.resource_names import dispute_name, enterprise_name
from service.cli.ops.app_session import database_options, run_with_app
from service.domain.disputes import Dispute, Resolution


@click.group()
def disputes() -> None:
    """Merchants' disputes of their archive, level or verifications."""


def _line(dispute: Dispute) -> str:
    due = f"due {dispute.deadline:%Y-%m-%d %H:%M} UTC"
    who = f" ({dispute.assignee})" if dispute.assignee else ""
    return (
        f"{dispute_name(dispute.uscc, dispute.id)}  {dispute.state.value}{who}  {due}  "
        f"{dispute.item}: {dispute.statement[:60]}"
    )


@disputes.command("pending")
@click.option(
    "--due-within-days",
    type=click.IntRange(0, 3660),
    default=0,
    help="Only those due within this many days (default: all still to be answered).",
)
@database_options
def disputes_pending(due_within_days: int, **flags: Any) -> None:
    """The disputes still to be answered, the nearest deadline first."""
    window = dt.timedelta(days=due_within_days) if due_within_days else None
    found = run_with_app(flags, lambda app: app.disputes.pending(window, 1000), migrate=False)
    for dispute in found:
        click.echo(_line(dispute))
    click.echo(f"{len(found)} disputes")


@disputes.command("list")
@click.argument("uscc")
@database_options
def disputes_list(uscc: str, **flags: Any) -> None:
    """An enterprise's disputes, newest first, with how each was answered."""
    found = run_with_app(
        flags,
        lambda app: app.disputes.of_enterprise(OPERATOR, None, enterprise_name(uscc.upper())),
        migrate=False,
    )
    for dispute in found:
        click.echo(_line(dispute))
        if dispute.reason:
            click.echo(f"    {dispute.state.value}: {dispute.reason}")


@disputes.command("take")
@click.argument("name")
@click.option("--assignee", required=True, help="Who reviews it.")
@database_options
def disputes_take(name: str, assignee: str, **flags: Any) -> None:
    """Take a dispute (enterprises/{uscc}/disputes/{id}) into review."""
    dispute = run_with_app(flags, lambda app: app.disputes.take(name, assignee))
    click.echo(_line(dispute))


@disputes.command("resolve")
@click.argument("name")
@click.option("--corrected", "resolution", flag_value=Resolution.CORRECTED.value,
              help="The item was wrong and has been corrected where it comes from.")  # fmt: skip
@click.option("--rejected", "resolution", flag_value=Resolution.REJECTED.value,
              help="The item stands.")  # fmt: skip
@click.option("--reason", required=True, help="What the merchant is shown.")
@database_options
def disputes_resolve(name: str, resolution: str | None, reason: str, **flags: Any) -> None:
    """Resolve a dispute in review: --corrected or --rejected, with the reason."""
    if resolution is None:
        raise click.UsageError("say --corrected or --rejected")
    dispute = run_with_app(
        flags, lambda app: app.disputes.resolve(name, Resolution(resolution), reason)
    )
    click.echo(_line(dispute))
