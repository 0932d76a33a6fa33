"""integrity-ops: operations on the service's data (keys, migrations, callers, imports,
scorecards, levels, policies, service state, registry snapshots, re-verification
batches).

One module per command group; each is registered on `main` here. What the commands share
(settings, the clock, the database options, running against the application) is in
app_session.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from service.cli.operator_errors import stop_on_operator_problem
from service.cli.ops.app_session import PROGRAM
from service.cli.ops.batch import batch
from service.cli.ops.callers import callers
from service.cli.ops.data_request import data_requests
from service.cli.ops.dispute import disputes
from service.cli.ops.enterprise import enterprise
from service.cli.ops.judicial import judicial
from service.cli.ops.keys import keys
from service.cli.ops.ledger import ledger
from service.cli.ops.level import level
from service.cli.ops.migrate import migrate_command
from service.cli.ops.platform import platform
from service.cli.ops.policy import policy
from service.cli.ops.registry import registry
from service.cli.ops.retention import retention
from service.cli.ops.scorecard import scorecard

__all__ = ["main"]


class _OpsGroup(click.Group):
    """Every command's files and databases: a problem ops can act on (a file that cannot
    be read or written, a database that cannot be opened) ends it in one line."""

    def invoke(self, ctx: click.Context) -> Any:
        with stop_on_operator_problem(PROGRAM, None):
            return super().invoke(ctx)


@click.group(cls=_OpsGroup)
def main() -> None:
    """Operate the enterprise integrity service."""


for _command in (
    keys,
    migrate_command,
    callers,
    ledger,
    disputes,
    data_requests,
    retention,
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


def console() -> None:
    """The integrity-ops console script: logs to stderr (see app_session.run_with_app)."""
    main(obj={"log_stream": sys.stderr})
