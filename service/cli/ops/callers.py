"""integrity-ops callers: platforms, the gateway and ops, their credentials and scopes."""

from __future__ import annotations

from typing import Any

import click

from service.cli.ops.app_session import database_options, run_with_app
from service.domain.callers import CallerKind, Scope


@click.group()
def callers() -> None:
    """Platforms, the gateway and ops: their credentials and scopes."""


@callers.command("create")
@click.option("--kind", type=click.Choice([k.value for k in CallerKind]), required=True)
@click.option("--name", required=True, help="who this caller is, for people")
@click.option("--platform", help="the marketplace code, for platform callers (e.g. 1688)")
@click.option(
    "--scopes",
    help="comma-separated scopes (default: the kind's): " + ", ".join(s.value for s in Scope),
)
@database_options
def callers_create(
    kind: str, name: str, platform: str | None, scopes: str | None, **flags: Any
) -> None:
    """Create a caller and print its first credential (shown only this once)."""
    try:
        chosen = None if scopes is None else [Scope(s.strip()) for s in scopes.split(",")]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scopes") from exc
    caller, token = run_with_app(
        flags,
        lambda app: app.credentials.create_caller(
            CallerKind(kind), name, platform=platform, scopes=chosen
        ),
    )
    click.echo(
        f"caller {caller.id} ({caller.kind.value}) scopes: {','.join(sorted(caller.scopes))}"
    )
    click.echo(f"token: {token}")


@callers.command("add-credential")
@click.argument("caller_id")
@database_options
def callers_add_credential(caller_id: str, **flags: Any) -> None:
    """Issue another credential for a caller (rotate: add, deploy, then revoke the old key)."""
    token = run_with_app(flags, lambda app: app.credentials.add_credential(caller_id))
    click.echo(f"token: {token}")


@callers.command("revoke")
@click.argument("caller_or_key_id")
@database_options
def callers_revoke(caller_or_key_id: str, **flags: Any) -> None:
    """Revoke a caller with all its credentials, or one credential by its key id."""
    run_with_app(flags, lambda app: app.credentials.revoke(caller_or_key_id))
    click.echo(f"revoked {caller_or_key_id}")


@callers.command("list")
@database_options
def callers_list(**flags: Any) -> None:
    """Every caller, active or revoked."""
    for caller, active in run_with_app(
        flags, lambda app: app.credentials.list_callers(), migrate=False
    ):
        state = "active" if active else "revoked"
        platform = f" platform={caller.platform}" if caller.platform else ""
        click.echo(
            f"{caller.id} {caller.kind.value}{platform} {state} "
            f"scopes={','.join(sorted(caller.scopes))} name={caller.name}"
        )
