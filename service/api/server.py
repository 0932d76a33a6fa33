"""Running the gRPC server: start, report health, drain on SIGTERM, stop."""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable

import structlog
from grpc_health.v1 import health_pb2

from service.bootstrap import SERVICE_NAMES, Application, bootstrap, build_server
from service.settings import Settings

log = structlog.get_logger("integrity.server")


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
    app: Application = await bootstrap(settings)
    server, health_servicer = build_server(app)
    port = server.add_insecure_port(settings.listen_address)
    if port == 0:
        await app.close()
        raise OSError(f"could not bind {settings.listen_address}")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await app.follower.start()
    await app.revisits.start()
    await server.start()
    warming = asyncio.create_task(_warm(app), name="warm-standings")
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("server_started", port=port, database=app.engine.dialect.name)
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
