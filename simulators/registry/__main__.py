"""integrity-registry-simulator: the registry simulator as one HTTP server process.

    integrity-registry-simulator --port 0 --records 2000

Prints one JSON line with its address once it accepts connections
({"event": "registry_simulator_ready", "url": "http://127.0.0.1:PORT", ...}).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import click
import structlog
import uvicorn

from service.domain.errors import InvalidArgument
from service.listen_address import bound_listener
from service.logging import configure_logging
from simulators.registry.app import build_app
from simulators.registry.behaviour import Behaviour, read_behaviour
from simulators.registry.clock import SimulatorClock
from simulators.registry.credentials import Credentials, parse_pairs
from simulators.registry.population import file_rows, schedule_random_changes, synthetic_rows
from simulators.registry.records import RecordStore
from simulators.registry.state import Simulator
from simulators.registry.wording import parse_time

PROGRAM = "integrity-registry-simulator"
DEFAULT_GOV_TOKEN = "sim-gov-token"  # noqa: S105  (a simulator's well-known test credential)
DEFAULT_PROVIDER_APP = ("sim-app", "sim-secret")


def _fail(message: str, exit_code: int = 2) -> NoReturn:
    click.echo(f"{PROGRAM}: {message}", err=True)
    sys.exit(exit_code)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8780, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--records",
    "record_count",
    default=1000,
    show_default=True,
    help="Synthetic enterprises to serve (0 with --records-file for the file alone).",
)
@click.option(
    "--records-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A registry snapshot file (JSON Lines or CSV, the format ops import).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the synthetic data and draws.")
@click.option("--start", "start_time", help="The simulator clock's start (RFC 3339); default: now.")
@click.option(
    "--settings-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Behaviour and credentials as JSON (see the README).",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="SHAPE.FIELD=JSON",
    help="One behaviour setting, e.g. --set gov.publication_lag_seconds=86400.",
)
@click.option(
    "--gov-token",
    multiple=True,
    metavar="CLIENT=TOKEN",
    help="A bearer token the government shape accepts, and the client it names.",
)
@click.option(
    "--provider-app",
    multiple=True,
    metavar="APP_ID=SECRET",
    help="An app id the provider shape accepts, with its signing secret.",
)
@click.option(
    "--scheduled-changes",
    default=0,
    show_default=True,
    help="Changes (status, term, legal representative) to schedule at random.",
)
@click.option(
    "--changes-within-days",
    default=30.0,
    show_default=True,
    help="The scheduled changes fall within this many days from the start.",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def main(**options: Any) -> None:
    """Serve a government registry and an enterprise-data provider over HTTP, as
    docs/registry-wire.md describes, for tests, the demo and benchmarks."""
    configure_logging(options["log_level"])
    simulator = _simulator(options)
    _serve(simulator, options["host"], options["port"], access_log=options["access_log"])


def _simulator(options: Mapping[str, Any]) -> Simulator:
    clock = SimulatorClock(_start(options["start_time"]))
    file_settings = _settings_file(options["settings_file"])
    credentials = _credentials(options, file_settings.pop("credentials", None))
    behaviour = _behaviour(file_settings, options["assignments"])
    now = clock.now()
    store = RecordStore(captured_at=now)
    count, changes = options["record_count"], options["scheduled_changes"]
    # Extra synthetic rows lend their legal representatives to the scheduled changes.
    generated = synthetic_rows(count + changes, options["seed"], now) if count or changes else []
    store.load(generated[:count])
    if options["records_file"] is not None:
        rows, refused = file_rows(options["records_file"], now)
        for problem in refused:
            click.echo(f"{PROGRAM}: {options['records_file']}: {problem}", err=True)
        store.load(rows)
    schedule_random_changes(
        store,
        changes,
        now,
        dt.timedelta(days=options["changes_within_days"]),
        (row["legal_representative"] for row in generated[count:]),
        options["seed"],
    )
    return Simulator(clock, store, behaviour, credentials, seed=options["seed"])


def _start(raw: str | None) -> dt.datetime | None:
    if raw is None:
        return None
    when = parse_time(raw)
    if when is None:
        _fail("--start must be an RFC 3339 time with an offset")
    return when


def _settings_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as problem:
        _fail(f"--settings-file {path}: not readable JSON ({problem.__class__.__name__})")
    if not isinstance(document, dict):
        _fail(f"--settings-file {path}: must be a JSON object")
    return document


def _credentials(options: Mapping[str, Any], from_file: Any) -> Credentials:
    tokens: dict[str, str] = {}
    apps: dict[str, str] = {}
    if from_file is not None:
        if not isinstance(from_file, dict) or set(from_file) - {"gov_tokens", "provider_apps"}:
            _fail(
                'settings "credentials" takes {"gov_tokens": {client: token}, '
                '"provider_apps": {app id: secret}}'
            )
        tokens = {token: client for client, token in dict(from_file.get("gov_tokens", {})).items()}
        apps = dict(from_file.get("provider_apps", {}))
    try:
        tokens.update({t: c for c, t in parse_pairs(options["gov_token"], "--gov-token").items()})
        apps.update(parse_pairs(options["provider_app"], "--provider-app"))
    except ValueError as problem:
        _fail(str(problem))
    if not tokens:
        tokens = {DEFAULT_GOV_TOKEN: "default"}
    if not apps:
        apps = dict([DEFAULT_PROVIDER_APP])
    return Credentials(gov_tokens=tokens, provider_apps=apps)


def _behaviour(document: dict[str, Any], assignments: tuple[str, ...]) -> Behaviour:
    patch: dict[str, dict[str, Any]] = {}
    for assignment in assignments:
        path, sep, raw = assignment.partition("=")
        shape, dot, name = path.partition(".")
        if not sep or not dot:
            _fail(f"--set {assignment}: write SHAPE.FIELD=JSON")
        try:
            patch.setdefault(shape, {})[name] = json.loads(raw)
        except ValueError:
            _fail(f"--set {assignment}: the value is not JSON")
    try:
        return read_behaviour(document).patched(patch)
    except InvalidArgument as problem:
        for violation in problem.violations:
            click.echo(f"{PROGRAM}: settings: {violation.field}: {violation.description}", err=True)
        sys.exit(2)


class _Server(uvicorn.Server):
    """Says so, in one line, once it accepts connections."""

    def __init__(self, config: uvicorn.Config, url: str, records: int) -> None:
        super().__init__(config)
        self._url, self._records = url, records

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            structlog.get_logger(PROGRAM).info(
                "registry_simulator_ready",
                url=self._url,
                port=int(self._url.rsplit(":", 1)[1]),
                records=self._records,
            )
            sys.stdout.flush()


def _serve(simulator: Simulator, host: str, port: int, *, access_log: bool) -> None:
    try:
        listener = bound_listener(host, port)
    except OSError as problem:
        _fail(f"cannot listen on {host}:{port}: {problem.strerror}", 1)
    bound = listener.getsockname()[1]
    shown_host = f"[{host}]" if listener.family == socket.AF_INET6 else host
    if access_log:
        handler = logging.StreamHandler(sys.stdout)
        logging.getLogger("uvicorn.access").addHandler(handler)
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    config = uvicorn.Config(
        build_app(simulator),
        http="httptools",
        lifespan="off",
        access_log=access_log,
        log_config=None,
        # Held or slow requests must not keep a stopping simulator alive for long.
        timeout_graceful_shutdown=2,
        backlog=4096,
    )
    server = _Server(config, f"http://{shown_host}:{bound}", len(simulator.store))
    _run(server.serve(sockets=[listener]))


def _run(coroutine: Any) -> None:
    try:
        import uvloop

        uvloop.run(coroutine)
    except ImportError:
        asyncio.run(coroutine)


if __name__ == "__main__":
    main()
