"""The registry simulator in its own process, for tests: started on a free port, waited
for (its ready line, then /_sim/health, with a deadline), controlled over HTTP, stopped.

    def test_something(registry_simulator: RegistrySimulator) -> None:
        truth = registry_simulator.control.record(uscc)["record"]
        response = httpx.get(registry_simulator.url + f"/v1/enterprises/{uscc}",
                             headers=registry_simulator.gov_headers())

``running_simulator(...)`` starts one with other options (flags, settings, credentials).
The simulator's clock starts at the test clock's "now" and both run at the real rate; a
test that moves one moves the other (``move_clocks``), or the provider's timestamp check
(300 s) refuses what the service signs.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.demo.synthetic import generate_registry_records
from service.domain.licence import china_today
from service.settings import PiiKeys, Settings
from simulators.registry.credentials import provider_signature
from tests.clock import TestClock

SIMULATOR = str(Path(sys.executable).parent / "integrity-registry-simulator")
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
GOV_CLIENT, GOV_TOKEN = "test", "test-gov-token"
PROVIDER_APP_ID, PROVIDER_SECRET = "test-app", "test-secret"


class SimulatorControl:
    """The /_sim/ endpoints, over a blocking httpx client."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30.0)

    def close(self) -> None:
        self.http.close()

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise AssertionError(f"{response.request.url}: {response.status_code} {response.text}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return dict(self._ok(self.http.get("/_sim/health")))

    def stats(self) -> dict[str, Any]:
        return dict(self._ok(self.http.get("/_sim/stats")))

    def reset_stats(self) -> dict[str, Any]:
        return dict(self._ok(self.http.delete("/_sim/stats")))

    def codes(self, offset: int = 0, limit: int = 1000) -> list[str]:
        """The codes the simulator holds, in load order."""
        page = self._ok(self.http.get("/_sim/records", params={"offset": offset, "limit": limit}))
        return list(page["uscc"])

    def code(self, index: int = 0) -> str:
        """The code of the index-th enterprise held."""
        return self.codes(offset=index, limit=1)[0]

    def record(self, uscc: str) -> dict[str, Any]:
        """The truth: {"record": row (with the ID number), "gov": ..., "provider": ..., ...}."""
        return dict(self._ok(self.http.get(f"/_sim/records/{uscc}")))

    def put_record(
        self,
        record: Mapping[str, Any],
        *,
        gov: Mapping[str, Any] | None = None,
        provider: Mapping[str, Any] | None = None,
        publish_at: dt.datetime | Mapping[str, dt.datetime] | None = None,
        absent_from: Sequence[str] = (),
        provider_returns_id_number: bool | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"record": dict(record), "absent_from": list(absent_from)}
        if gov is not None:
            body["gov"] = dict(gov)
        if provider is not None:
            body["provider"] = dict(provider)
        if isinstance(publish_at, dt.datetime):
            body["publish_at"] = publish_at.isoformat()
        elif publish_at is not None:
            body["publish_at"] = {shape: when.isoformat() for shape, when in publish_at.items()}
        if provider_returns_id_number is not None:
            body["provider_returns_id_number"] = provider_returns_id_number
        return dict(self._ok(self.http.put(f"/_sim/records/{record['uscc']}", json=body)))

    def schedule_change(self, uscc: str, **change: Any) -> dict[str, Any]:
        """status="cancelled", term={"start": ..., "end": ...},
        legal_representative={"name": ..., "id_number": ...}, at=datetime (default now)."""
        if isinstance(change.get("at"), dt.datetime):
            change["at"] = change["at"].isoformat()
        return dict(self._ok(self.http.post(f"/_sim/records/{uscc}/changes", json=change)))

    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self._ok(self.http.get("/_sim/clock"))["now"])

    def advance_clock(self, delta: dt.timedelta) -> dt.datetime:
        body = {"advance_seconds": delta.total_seconds()}
        return dt.datetime.fromisoformat(self._ok(self.http.post("/_sim/clock", json=body))["now"])

    def set_clock(self, when: dt.datetime) -> dt.datetime:
        body = {"now": when.isoformat()}
        return dt.datetime.fromisoformat(self._ok(self.http.post("/_sim/clock", json=body))["now"])

    def settings(self) -> dict[str, Any]:
        return dict(self._ok(self.http.get("/_sim/settings")))

    def change_settings(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """{"gov": {"error_rate": 0.5}}: the fields named are replaced whole."""
        return dict(self._ok(self.http.post("/_sim/settings", json=dict(patch))))

    def wait_for(self, condition: Any, timeout: float = 30.0) -> dict[str, Any]:
        """Poll /_sim/stats until condition(stats) holds, or fail at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if condition(stats):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"simulator stats never met the condition: {stats}")


class RegistrySimulator:
    """A running integrity-registry-simulator process."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        url: str,
        output: list[str],
        reader: threading.Thread,
    ) -> None:
        self.process = process
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self._output = output
        self._reader = reader
        self.control = SimulatorControl(url)

    def get_enterprise(self, uscc: str, token: str = GOV_TOKEN) -> httpx.Response:
        """GET /v1/enterprises/{uscc} with a bearer token."""
        return httpx.get(f"{self.url}/v1/enterprises/{uscc}", headers=self.gov_headers(token))

    def get_changes(self, since: dt.datetime, **params: Any) -> httpx.Response:
        """GET /v1/changes?since=...&cursor=...&limit=..."""
        return httpx.get(
            f"{self.url}/v1/changes",
            params={"since": since.isoformat(), **params},
            headers=self.gov_headers(),
        )

    def verify(self, body: Mapping[str, Any] | list[Any], **sign: Any) -> httpx.Response:
        """POST /open/v2/enterprise/verify, signed (see provider_headers for ``sign``)."""
        raw = json.dumps(body, ensure_ascii=False).encode()
        return httpx.post(
            f"{self.url}/open/v2/enterprise/verify",
            content=raw,
            headers=self.provider_headers(raw, **sign),
        )

    def unregistered_row(self, seed: int) -> dict[str, Any]:
        """A synthetic registry row of an enterprise the simulator does not hold."""
        today = china_today(self.control.now())
        held = set(self.control.codes(limit=100_000))
        rows = generate_registry_records(5, seed, as_of=today)
        return dict(next(row for row in rows if row["uscc"] not in held))

    def move_clocks(self, clock: TestClock, delta: dt.timedelta) -> None:
        """Move the simulator's clock and the test's together, so that what the service
        signs with its clock stays within the provider's timestamp tolerance."""
        self.control.advance_clock(delta)
        clock.advance(delta)

    def gov_headers(self, token: str = GOV_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def provider_headers(
        self,
        body: bytes,
        *,
        app_id: str = PROVIDER_APP_ID,
        secret: str = PROVIDER_SECRET,
        timestamp: int | None = None,
    ) -> dict[str, str]:
        """Signed headers for a provider request; the timestamp defaults to the simulator's
        clock, so a test that moved that clock still signs in time."""
        stamp = str(int(self.control.now().timestamp()) if timestamp is None else timestamp)
        return {
            "X-App-Id": app_id,
            "X-Timestamp": stamp,
            "X-Signature": provider_signature(secret, app_id, stamp, body),
            "Content-Type": "application/json",
        }

    def output(self) -> str:
        """Everything the process wrote (stdout and stderr) so far."""
        return "\n".join(self._output)

    def stop(self) -> str:
        """Stop the process (SIGTERM, then SIGKILL past the deadline); all its output."""
        self.control.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self._reader.join(STOP_TIMEOUT)
        return self.output()


def provider_code(response: httpx.Response) -> tuple[int, str]:
    """A provider answer's HTTP status and business code."""
    return response.status_code, str(response.json()["code"])


def service_settings(
    simulator: RegistrySimulator,
    database_url: str,
    pii_keys: PiiKeys,
    sources: tuple[str, ...] = ("gov", "provider"),
) -> Settings:
    """The service asking the simulator's government registry and/or data provider."""
    return Settings(
        pii_keys=pii_keys,
        database_url=database_url,
        listen_address="127.0.0.1:0",
        registry_timeout_seconds=5,
        registry_sources=sources,
        gov_registry_url=simulator.url,
        gov_registry_token=GOV_TOKEN,
        provider_url=simulator.url,
        provider_app_id=PROVIDER_APP_ID,
        provider_secret=PROVIDER_SECRET,
    )


def simulator_args(
    *,
    start: dt.datetime,
    records: int = 50,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    args = [
        "--port", "0",
        "--records", str(records),
        "--seed", str(seed),
        "--start", start.isoformat(),
        "--gov-token", f"{GOV_CLIENT}={GOV_TOKEN}",
        "--provider-app", f"{PROVIDER_APP_ID}={PROVIDER_SECRET}",
    ]  # fmt: skip
    for shape, fields in (settings or {}).items():
        for name, value in fields.items():
            args += ["--set", f"{shape}.{name}={json.dumps(value)}"]
    return args + list(extra)


def start_simulator(args: Sequence[str]) -> RegistrySimulator:
    """Start the process and return once its ready line is out and /_sim/health answers."""
    process = subprocess.Popen(
        [SIMULATOR, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )
    output: list[str] = []
    ready = threading.Event()
    url: list[str] = []

    def read() -> None:
        # Read to the end so the pipe never fills and blocks the simulator.
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip("\n"))
            if not ready.is_set() and line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == "registry_simulator_ready":
                    url.append(event["url"])
                    ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not ready.wait(STARTUP_TIMEOUT) or not url:
        process.kill()
        process.wait(STOP_TIMEOUT)
        raise AssertionError("the registry simulator did not start:\n" + "\n".join(output))
    simulator = RegistrySimulator(process, url[0], output, reader)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            simulator.control.health()
            return simulator
        except httpx.TransportError:
            if time.monotonic() > deadline:
                simulator.stop()
                raise


@contextmanager
def running_simulator(
    *,
    start: dt.datetime,
    records: int = 50,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    extra: Sequence[str] = (),
) -> Iterator[RegistrySimulator]:
    simulator = start_simulator(
        simulator_args(start=start, records=records, seed=seed, settings=settings, extra=extra)
    )
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def registry_simulator(clock: TestClock) -> Iterator[RegistrySimulator]:
    """A simulator of 50 synthetic enterprises whose clock starts at the test's "now"."""
    with running_simulator(start=clock.now()) as simulator:
        yield simulator
