"""integrity-server: the gRPC server, configured from INTEGRITY_* variables and flags.

A server that cannot start says why in one line on stderr and exits non-zero: 2 for
settings that are wrong as written (one line per problem), 1 for what the settings point
at and start-up found unusable (the database, the listen address, the TLS files).
"""

from __future__ import annotations

import os

import click

from service.cli import event_loop, heap
from service.cli.operator_errors import (
    CONFIG_ERROR_EXIT_CODE,
    OPERATOR_ERROR_EXIT_CODE,
    stop_command,
)
from service.cpu_policy import apply_cpu_policy
from service.logging import configure_logging
from service.settings import ConfigError, Settings

PROGRAM = "integrity-server"


@click.command()
@click.option("--listen", "listen_address", help="host:port to bind [INTEGRITY_LISTEN]")
@click.option("--database-url", help="sqlite:///path or postgresql://... [INTEGRITY_DATABASE_URL]")
@click.option("--registry-url", help="registry snapshot database [INTEGRITY_REGISTRY_URL]")
@click.option("--keys-file", help="PII keys JSON file [INTEGRITY_KEYS_FILE]")
@click.option("--log-level", help="debug, info, warning, error [INTEGRITY_LOG_LEVEL]")
@click.option("--shutdown-grace", "shutdown_grace_seconds", help="seconds to drain on SIGTERM")
@click.option("--tls-cert-file", help="PEM certificate chain [INTEGRITY_TLS_CERT_FILE]")
@click.option("--tls-key-file", help="PEM private key [INTEGRITY_TLS_KEY_FILE]")
@click.option(
    "--tls-client-ca-file", help="require client certificates [INTEGRITY_TLS_CLIENT_CA_FILE]"
)
def main(**flags: str | None) -> None:
    """Serve the enterprise integrity gRPC API."""
    try:
        settings = Settings.load(os.environ, serving=True, **flags)
    except ConfigError as error:
        stop_command(PROGRAM, error.problems, CONFIG_ERROR_EXIT_CODE)
    configure_logging(settings.log_level)
    # Before anything starts a thread: threads take their creator's policy. Logging
    # first, so that a platform refusing the policy is told of in the server's log.
    apply_cpu_policy(settings.cpu_policy)
    from service.api.server import StartupError, serve

    try:
        event_loop.run(serve(settings, on_ready=lambda _port: heap.settle_after_start()))
    except StartupError as error:
        stop_command(PROGRAM, [str(error)], OPERATOR_ERROR_EXIT_CODE)


if __name__ == "__main__":
    main()
