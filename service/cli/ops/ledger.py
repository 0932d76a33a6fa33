"""integrity-ops ledger: the disclosure ledger."""

from __future__ import annotations

import sys
from typing import Any

import click

from service.cli.ops.app_session import database_options, run_with_app


@click.group()
def ledger() -> None:
    """The disclosure ledger."""


@ledger.command("verify")
@database_options
def ledger_verify(**flags: Any) -> None:
    """Recompute the ledger's hash chain; name the first entry that does not fit."""
    check = run_with_app(flags, lambda app: app.disclosures.verify(), migrate=False)
    if check.first_broken is None:
        click.echo(f"ledger intact: {check.checked} entries")
        return
    click.echo(
        f"ledger BROKEN at entry {check.first_broken}: {check.problem} "
        f"({check.checked} entries before it are intact)"
    )
    sys.exit(1)
