"""integrity-ops data-requests: merchants' data-subject requests, as ops answer them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from service.app.platform_import import OPERATOR
from service.app.resource_names import data_request_name, enterprise_name
from service.cli.ops.app_session import database_options, run_with_app
from service.domain.data_requests import Answer, DataRequest


@click.group("data-requests")
def data_requests() -> None:
    """Merchants' requests to correct or delete their data, and withdrawals (72 hours)."""


def _line(request: DataRequest) -> str:
    due = f"due {request.deadline:%Y-%m-%d %H:%M} UTC"
    who = f" ({request.assignee})" if request.assignee else ""
    return (
        f"{data_request_name(request.uscc, request.id)}  {request.kind.value}  "
        f"{request.state.value}{who}  {due}  {request.statement[:60]}"
    )


@data_requests.command("pending")
@click.option(
    "--due-within-hours",
    type=click.IntRange(0, 8760),
    default=0,
    help="Only those due within this many hours (default: all still to be answered).",
)
@database_options
def data_requests_pending(due_within_hours: int, **flags: Any) -> None:
    """The requests still to be answered, the nearest deadline first."""
    window = dt.timedelta(hours=due_within_hours) if due_within_hours else None
    found = run_with_app(flags, lambda app: app.data_rights.pending(window, 1000), migrate=False)
    for request in found:
        click.echo(_line(request))
    click.echo(f"{len(found)} requests")


@data_requests.command("list")
@click.argument("uscc")
@database_options
def data_requests_list(uscc: str, **flags: Any) -> None:
    """An enterprise's requests, newest first, with how each was answered."""
    found = run_with_app(
        flags,
        lambda app: app.data_rights.of_enterprise(OPERATOR, None, enterprise_name(uscc.upper())),
        migrate=False,
    )
    for request in found:
        click.echo(_line(request))
        if request.answer:
            click.echo(f"    {request.state.value}: {request.answer}")


@data_requests.command("take")
@click.argument("name")
@click.option("--assignee", required=True, help="Who deals with it.")
@database_options
def data_requests_take(name: str, assignee: str, **flags: Any) -> None:
    """Take a request (enterprises/{uscc}/dataRequests/{id}) in hand."""
    request = run_with_app(flags, lambda app: app.data_rights.take(name, assignee))
    click.echo(_line(request))


@data_requests.command("resolve")
@click.argument("name")
@click.option("--completed", "answer", flag_value=Answer.COMPLETED.value,
              help="Done as asked (a deletion destroys the person's data).")  # fmt: skip
@click.option("--refused", "answer", flag_value=Answer.REFUSED.value,
              help="Not done; the answer says why.")  # fmt: skip
@click.option("--answer", "text", required=True, help="What the merchant is shown.")
@database_options
def data_requests_resolve(name: str, answer: str | None, text: str, **flags: Any) -> None:
    """Answer a request in hand: --completed or --refused, with the answer."""
    if answer is None:
        raise click.UsageError("say --completed or --refused")
    request = run_with_app(flags, lambda app: app.data_rights.resolve(name, Answer(answer), text))
    click.echo(_line(request))


@data_requests.command("finish")
@database_options
def data_requests_finish(**flags: Any) -> None:
    """Carry through withdrawals a stopped process left in progress."""
    finished = run_with_app(flags, lambda app: app.data_rights.finish_interrupted())
    click.echo(f"{finished} withdrawals carried through")
