"""What every integrity-ops command shares: settings, the clock, the database options, and
one way to run a coroutine against the application.

Each command runs one coroutine, like the server, against the same settings.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from tqdm import tqdm

from service.cli.operator_errors import (
    CONFIG_ERROR_EXIT_CODE,
    stop_command,
    stop_on_operator_problem,
)
from service.domain.errors import ServiceError
from service.logging import configure_logging
from service.settings import ConfigError, Settings

if TYPE_CHECKING:
    from service.app.ports import Clock
    from service.bootstrap import Application

PROGRAM = "integrity-ops"
Result = TypeVar("Result")
Command = TypeVar("Command", bound=Callable[..., Any])


def load_settings(**flags: Any) -> Settings:
    """The settings from the environment and the command's flags; a bad one ends the command."""
    try:
        return Settings.load(os.environ, **flags)
    except ConfigError as error:
        stop_command(PROGRAM, error.problems, CONFIG_ERROR_EXIT_CODE)


def _handed(name: str) -> Any:
    """What whoever invoked the command handed in as click's context object, by name."""
    context = click.get_current_context(silent=True)
    handed = context.find_root().obj if context is not None else None
    return handed.get(name) if isinstance(handed, dict) else None


def command_clock() -> Clock | None:
    """The clock commands run on: the system's, unless whoever invoked the command handed one
    in as click's context object (``{"clock": ...}``), as the tests do to fix "now"."""
    clock: Clock | None = _handed("clock")
    return clock


_DATABASE_OPTIONS = (
    click.option("--database-url", help="[INTEGRITY_DATABASE_URL]"),
    click.option("--registry-url", help="[INTEGRITY_REGISTRY_URL]"),
    click.option("--keys-file", help="[INTEGRITY_KEYS_FILE]"),
)


def database_options(command: Command) -> Command:
    """The options naming the databases and keys a command works on (each also a setting)."""
    for option in reversed(_DATABASE_OPTIONS):
        command = option(command)
    return command


def run_with_app(
    flags: dict[str, Any],
    work: Callable[[Application], Awaitable[Result]],
    *,
    migrate: bool = True,
) -> Result:
    """Run one coroutine against a bootstrapped application and close it; a service error
    ends the command with its message (and each bad field), and an operator's problem (the
    database, a file, the change feed: see operator_errors) with its one line, instead of a
    traceback.

    migrate=False for commands that only read: they never change a database, so one that
    is not migrated (or at an older revision) ends the command, telling ops to migrate.
    """
    from service.bootstrap import bootstrap

    settings = load_settings(**flags)
    # The console script hands in stderr: its logs go there as JSON with personal data
    # redacted, like the server's, and stdout keeps the command's report. Tests invoking
    # commands in-process keep the logging they configured.
    log_stream = _handed("log_stream")
    if log_stream is not None:
        configure_logging(settings.log_level, log_stream)

    async def run() -> Result:
        app = await bootstrap(settings, clock=command_clock(), run_migrations=migrate)
        try:
            if not migrate:
                await app.require_current_schema()
            return await work(app)
        finally:
            await app.close()

    with stop_on_operator_problem(PROGRAM, settings):
        try:
            return asyncio.run(run())
        except ServiceError as error:
            details = getattr(error, "violations", ())
            lines = [error.message] + [f"  {v.field}: {v.description}" for v in details]
            raise click.ClickException("\n".join(lines)) from error


quiet_option = click.option("--quiet", is_flag=True, help="no progress bar")


def progress(unit: str, *, quiet: bool, total: int | None = None) -> tqdm[Any]:
    """A progress bar on stderr (stdout carries the command's report)."""
    return tqdm(total=total, unit=unit, disable=quiet, file=sys.stderr)
