"""integrity-gateway: serve the merchant gateway (uvicorn, on uvloop where it is installed).

Configured like integrity-server: INTEGRITY_GATEWAY_* variables, flags on top, every problem
listed at start-up (exit code 2).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import click
import structlog
import uvicorn

from gateway.app import build_app
from gateway.settings import GatewayConfigError, GatewaySettings
from service.bootstrap import SystemClock
from service.listen_address import bound_listener
from service.logging import configure_logging


@click.command()
@click.option("--listen", "listen_address", help="[INTEGRITY_GATEWAY_LISTEN] host:port")
@click.option("--upstream", help="[INTEGRITY_GATEWAY_UPSTREAM] integrity-server's host:port")
@click.option("--token-file", help="[INTEGRITY_GATEWAY_TOKEN_FILE] the gateway's credential")
@click.option("--issuers-file", help="[INTEGRITY_GATEWAY_ISSUERS_FILE] platforms' token issuers")
@click.option("--log-level", help="[INTEGRITY_GATEWAY_LOG_LEVEL]")
def main(**flags: Any) -> None:
    """Serve the merchant gateway's HTTP API in front of integrity-server."""
    try:
        settings = GatewaySettings.load(os.environ, **flags)
    except GatewayConfigError as error:
        print("integrity-gateway: invalid configuration:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.log_level)
    host, port = settings.host_and_port
    try:
        listener = bound_listener(host, port)
    except OSError as problem:
        print(
            f"integrity-gateway: cannot listen on {host}:{port}: {problem.strerror}",
            file=sys.stderr,
        )
        sys.exit(1)
    config = uvicorn.Config(
        build_app(settings, SystemClock()),
        http="httptools",
        loop="uvloop",
        log_config=None,
        access_log=False,
        proxy_headers=False,  # forwarded headers are the gateway's own business (addresses.py)
        server_header=False,
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
        timeout_graceful_shutdown=10,
    )
    _Server(config, listener.getsockname()[1], tls=settings.tls_cert_file is not None).run(
        sockets=[listener]
    )


class _Server(uvicorn.Server):
    """Says so, in one line, once it accepts connections (a supervisor, or a test, waits
    for it)."""

    def __init__(self, config: uvicorn.Config, port: int, *, tls: bool) -> None:
        super().__init__(config)
        self._port, self._tls = port, tls

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            structlog.get_logger("integrity.gateway").info(
                "gateway_started", port=self._port, tls=self._tls
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
