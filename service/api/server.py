"""Running the gRPC server: start, report health, drain on SIGTERM, stop.

What stops start-up (a database that cannot be opened, an address that cannot be bound,
TLS files that cannot be served) is raised as StartupError: one line naming the problem
and the setting to look at, for the command to print in place of a traceback.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable

import asyncpg
import grpc
import structlog
from grpc_health.v1 import health_pb2
from sqlalchemy.exc import SQLAlchemyError

from service.adapters.storage.outages import driver_reason
from service.api.tls import server_credentials
from service.bootstrap import SERVICE_NAMES, Application, bootstrap, build_server
from service.listen_address import bind_problem
from service.settings import Settings, env_name
from service.tls_files import TlsFileError

log = structlog.get_logger("integrity.server")

# What opening the database raises when it cannot be had: asyncpg raises its own errors
# (and OSError) on connect, unwrapped; SQLite's and later statements' come through SQLAlchemy.
DATABASE_ERRORS = (OSError, SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError)


class StartupError(Exception):
    """The server cannot start; the message is one line naming the problem and the setting."""


async def _open(settings: Settings) -> Application:
    try:
        return await bootstrap(settings)
    except DATABASE_ERRORS as error:
        # The URL is not repeated: it may carry a password.
        raise StartupError(
            f"{env_name('database_url')}: the database cannot be opened ({driver_reason(error)})"
        ) from None


def _server_options(settings: Settings) -> list[tuple[str, int]]:
    # grpc turns SO_REUSEPORT on by default, so a second server on a taken address would
    # start and silently share its connections; off unless multi-process serving is meant.
    return [("grpc.so_reuseport", int(settings.reuse_port))]


def _listen(server: grpc.aio.Server, settings: Settings) -> int:
    address = settings.listen_address
    problem = bind_problem(address, reuse_port=settings.reuse_port)
    if problem is None:
        try:
            if settings.tls_files is None:
                port = server.add_insecure_port(address)
            else:
                port = server.add_secure_port(address, server_credentials(settings.tls_files))
        except TlsFileError as error:
            raise StartupError(f"{env_name(error.setting)}: {error}") from None
        except RuntimeError:  # grpc's "Failed to bind"; its reason went to its own log
            port = 0
        if port == 0:
            problem = "grpc could not bind it"
    if problem is not None:
        raise StartupError(f"{env_name('listen_address')}: cannot listen on {address}: {problem}")
    return port


async def _warm(app: Application) -> None:
    """Fill the eligibility cache in the background; a failure only leaves it cold."""
    try:
        started = time.perf_counter()
        warmed = await app.standings.warm(app.levels.enterprises(1000))
        # The warmed cache is a few hundred thousand long-lived objects that every full
        # collection would walk again; freezing moves them (and everything else alive now)
        # out of the collector's sight. They are still freed by reference counting.
        gc.freeze()
        log.info(
            "standings_warmed", enterprises=warmed, seconds=round(time.perf_counter() - started, 1)
        )
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.warning("standings_warm_failed", error_type=type(error).__name__)


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT (or `stop` is set), then drain in-flight calls."""
    app = await _open(settings)
    try:
        server, health_servicer = build_server(app, _server_options(settings))
        port = _listen(server, settings)
    except BaseException:
        await app.close()
        raise
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await app.follower.start()
    await app.revisits.start()
    await app.pending_rechecks.start()
    await app.checkpoints.start()
    await app.purger.start()
    await server.start()
    warming = asyncio.create_task(_warm(app), name="warm-standings")
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "server_started",
        port=port,
        database=app.engine.dialect.name,
        tls=settings.tls_files is not None,
        client_certificates=settings.tls_client_ca_file is not None,
        ledger_checkpoints=app.ledger_log.signing,
    )
    if on_ready is not None:
        on_ready(port)
    try:
        await stop.wait()
    finally:
        log.info("server_stopping", grace_seconds=settings.shutdown_grace_seconds)
        # Tell load balancers first, then refuse new calls and let in-flight ones finish.
        await health_servicer.enter_graceful_shutdown()
        warming.cancel()
        await server.stop(settings.shutdown_grace_seconds)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await app.close()
        log.info("server_stopped")
