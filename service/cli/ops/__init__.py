"""integrity-ops: operations on the service's data (keys, migrations, callers, imports,
scorecards, levels, policies, service state, registry snapshots, re-verification
batches).

One module per command group; each is registered on `main` here. What the commands share
(settings, the clock, the database options, running against the application) is in
app_session.
"""

from __future__ import annotations

import click

from service.cli.ops.batch import batch
from service.cli.ops.callers import callers
from service.cli.ops.enterprise import enterprise
from service.cli.ops.judicial import judicial
from service.cli.ops.keys import keys
from service.cli.ops.ledger import ledger
from service.cli.ops.level import level
from service.cli.ops.migrate import migrate_command
from service.cli.ops.platform import platform
from service.cli.ops.policy import policy
from service.cli.ops.registry import registry
from service.cli.ops.scorecard import scorecard

__all__ = ["main"]


@click.group()
def main() -> None:
    """Operate the enterprise integrity service."""


for _command in (
    keys,
    migrate_command,
    callers,
    ledger,
    judicial,
    platform,
    scorecard,
    level,
    policy,
    enterprise,
    registry,
    batch,
):
    main.add_command(_command)
