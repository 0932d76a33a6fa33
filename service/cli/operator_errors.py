"""The failures an operator can act on, each said in one line naming what failed and the
setting or path to look at, for a command to print in place of a traceback.

A command stops on these with exit code 1, like integrity-server for what start-up found
unusable (settings wrong as written are ConfigError, exit code 2). The lines carry no
URL (it may hold a password) and no data of the service: only the driver's or the
system's reason.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import NoReturn

import click

from service.adapters.storage.outages import driver_reason, is_storage_outage
from service.app.ports import ChangeFeedUnavailable
from service.settings import Settings, env_name

CONFIG_ERROR_EXIT_CODE = 2
OPERATOR_ERROR_EXIT_CODE = 1


def stop_command(program: str, lines: list[str], exit_code: int) -> NoReturn:
    """End the command: each line on stderr after the program's name, and no traceback."""
    for line in lines:
        click.echo(f"{program}: {line}", err=True)
    sys.exit(exit_code)


@contextlib.contextmanager
def stop_on_operator_problem(program: str, settings: Settings | None) -> Iterator[None]:
    """Within it, an error ops can act on ends the command with its line (exit code 1);
    anything else goes on up."""
    try:
        yield
    except Exception as error:
        problem = operator_problem(error, settings)
        if problem is None:
            raise
        stop_command(program, [problem], OPERATOR_ERROR_EXIT_CODE)


def operator_problem(error: BaseException, settings: Settings | None) -> str | None:
    """The line to print for an error ops can act on; None for anything else (a bug).
    Without the settings (a command that failed before it had them) the database is named
    by its main setting alone."""
    for leaf in _leaves(error):
        problem = _problem(leaf, settings)
        if problem is not None:
            return problem
    return None


def _problem(error: BaseException, settings: Settings | None) -> str | None:
    if isinstance(error, ChangeFeedUnavailable):
        return (
            f"{env_name('registry_changes_url')}: the registry change feed cannot be read ({error})"
        )
    if isinstance(error, OSError) and error.filename is not None:
        # A file named by ops (a flag or a setting), not a database connection.
        return f"{error.filename}: {error.strerror or type(error).__name__}"
    if is_storage_outage(error):
        reason = driver_reason(error)
        return f"{_database_settings(settings)}: the database cannot be opened ({reason})"
    return None


def _database_settings(settings: Settings | None) -> str:
    named = env_name("database_url")
    if settings and settings.effective_registry_url != settings.database_url:
        named += f" or {env_name('registry_url')}"
    return named


def _leaves(error: BaseException) -> Iterator[BaseException]:
    """The error itself, or each error a task group gathered."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error
