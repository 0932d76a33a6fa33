"""integrity-server: the gRPC server, configured from INTEGRITY_* variables and flags."""

from __future__ import annotations

import asyncio
import os
import sys

import click

from service.cpu_policy import apply_cpu_policy
from service.logging import configure_logging
from service.settings import ConfigError, Settings


def _run(coroutine_factory: object) -> None:
    try:
        import uvloop

        uvloop.run(coroutine_factory)  # type: ignore[arg-type]
    except ImportError:
        asyncio.run(coroutine_factory)  # type: ignore[arg-type]


@click.command()
@click.option("--listen", "listen_address", help="host:port to bind [INTEGRITY_LISTEN]")
@click.option("--database-url", help="sqlite:///path or postgresql://... [INTEGRITY_DATABASE_URL]")
@click.option("--registry-url", help="registry snapshot database [INTEGRITY_REGISTRY_URL]")
@click.option("--keys-file", help="PII keys JSON file [INTEGRITY_KEYS_FILE]")
@click.option("--log-level", help="debug, info, warning, error [INTEGRITY_LOG_LEVEL]")
@click.option("--shutdown-grace", "shutdown_grace_seconds", help="seconds to drain on SIGTERM")
def main(**flags: str | None) -> None:
    """Serve the enterprise integrity gRPC API."""
    try:
        settings = Settings.load(os.environ, **flags)
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    configure_logging(settings.log_level)
    # Before anything starts a thread: threads take their creator's policy. Logging
    # first, so that a platform refusing the policy is told of in the server's log.
    apply_cpu_policy(settings.cpu_policy)
    from service.api.server import serve

    _run(serve(settings))


if __name__ == "__main__":
    main()
