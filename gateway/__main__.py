"""integrity-gateway: serve the merchant gateway (uvicorn, on uvloop where it is installed).

Configured like integrity-server: INTEGRITY_GATEWAY_* variables, flags on top, every problem
listed at start-up (exit code 2).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
import uvicorn

from gateway.app import build_app
from gateway.settings import GatewayConfigError, GatewaySettings
from service.bootstrap import SystemClock
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
    app = build_app(settings, SystemClock())
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
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
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
