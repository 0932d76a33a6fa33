"""integrity-worker: works re-verification batches, configured like the server.

Run as many as the registry's contracted rate allows, on any machines that reach the
database; they share the items through leases. SIGTERM (or SIGINT) stops claiming, lets
the items in flight finish, and exits 0; a worker killed outright loses nothing, since its
items return to the queue when their leases lapse.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import time
from typing import Any

import click
import structlog

from service.cli import event_loop, heap
from service.cli.operator_errors import (
    CONFIG_ERROR_EXIT_CODE,
    stop_command,
    stop_on_operator_problem,
)
from service.logging import configure_logging
from service.settings import ConfigError, Settings

PROGRAM = "integrity-worker"
log = structlog.get_logger("integrity.worker")


class TestStartedClock:
    """For tests only (--test-clock-start): "now" starts at a given time and moves at the
    monotonic clock's rate, so a test can run workers on its own clock, e.g. past the
    leases of a worker it killed."""

    __test__ = False

    def __init__(self, start: dt.datetime) -> None:
        self._start = start
        self._started_at = time.monotonic()

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=time.monotonic() - self._started_at)


async def _work(settings: Settings, clock: TestStartedClock | None, until_idle: bool) -> int:
    from service.bootstrap import bootstrap

    app = await bootstrap(settings, clock=clock)
    try:
        worker = app.batch_worker()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, worker.stop)
        heap.settle_after_start()
        log.info("worker_started", holder=worker.holder, concurrency=settings.batch_concurrency)
        worked = await worker.run(until_idle=until_idle)
        log.info("worker_stopped", holder=worker.holder, worked=worked)
        return worked
    finally:
        await app.close()


@click.command()
@click.option("--database-url", help="sqlite:///path or postgresql://... [INTEGRITY_DATABASE_URL]")
@click.option("--registry-url", help="registry snapshot database [INTEGRITY_REGISTRY_URL]")
@click.option("--keys-file", help="PII keys JSON file [INTEGRITY_KEYS_FILE]")
@click.option("--log-level", help="debug, info, warning, error [INTEGRITY_LOG_LEVEL]")
@click.option(
    "--concurrency", "batch_concurrency", help="items at once [INTEGRITY_BATCH_CONCURRENCY]"
)
@click.option("--until-idle", is_flag=True, help="exit once no batch has an item to hand out")
@click.option("--test-clock-start", hidden=True, help="tests only: the clock's start (ISO 8601)")
def main(until_idle: bool, test_clock_start: str | None, **flags: Any) -> None:
    """Work re-verification batches until stopped."""
    try:
        settings = Settings.load(os.environ, **flags)
    except ConfigError as error:
        stop_command(PROGRAM, error.problems, CONFIG_ERROR_EXIT_CODE)
    configure_logging(settings.log_level)
    clock = None
    if test_clock_start:
        clock = TestStartedClock(dt.datetime.fromisoformat(test_clock_start))
        log.warning("test_clock_in_use", start=test_clock_start)
    with stop_on_operator_problem(PROGRAM, settings):
        event_loop.run(_work(settings, clock, until_idle))


if __name__ == "__main__":
    main()
