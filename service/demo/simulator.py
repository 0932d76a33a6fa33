"""The registry simulator as the demo runs it: its own process on a free port, holding the
demo registry's enterprises, with credentials made for this run, steered over /_sim/
(docs/registry-wire.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.demo.processes import running

BIN = Path(sys.executable).parent
GOV_CLIENT = "demo"
PROVIDER_APP_ID = "demo-app"


@dataclass(frozen=True)
class SimulatorCredentials:
    gov_token: str
    provider_secret: str

    @classmethod
    def new(cls) -> SimulatorCredentials:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24))

    def server_env(self, url: str) -> dict[str, str]:
        """integrity-server's settings for both of the simulator's shapes."""
        return {
            "INTEGRITY_REGISTRY_SOURCES": "gov,provider",
            "INTEGRITY_GOV_REGISTRY_URL": url,
            "INTEGRITY_GOV_REGISTRY_TOKEN": self.gov_token,
            "INTEGRITY_PROVIDER_URL": url,
            "INTEGRITY_PROVIDER_APP_ID": PROVIDER_APP_ID,
            "INTEGRITY_PROVIDER_SECRET": self.provider_secret,
        }


class SimulatorControl:
    """The simulator's /_sim/ endpoints the demo uses."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=30.0)

    def close(self) -> None:
        self._http.close()

    def _ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self._ok(self._http.get("/_sim/clock"))["now"])

    def publish_at(self, row: Mapping[str, Any], when: dt.datetime) -> None:
        """Hold ``row`` unpublished in both shapes until ``when`` on the simulator clock."""
        body = {"record": dict(row), "publish_at": when.isoformat()}
        self._ok(self._http.put(f"/_sim/records/{row['uscc']}", json=body))

    def schedule_change(self, uscc: str, change: Mapping[str, Any]) -> None:
        """A change the registry makes now ({"status": ...} or {"term": {...}})."""
        self._ok(self._http.post(f"/_sim/records/{uscc}/changes", json=dict(change)))

    def stats(self) -> dict[str, Any]:
        return dict(self._ok(self._http.get("/_sim/stats")))


@contextlib.contextmanager
def running_simulator(
    demo: Path, registry: Path, credentials: SimulatorCredentials, env: Mapping[str, str]
) -> Iterator[SimulatorControl]:
    """The simulator serving ``registry``'s enterprises until the block ends."""
    settings = demo / "simulator-settings.json"
    settings.write_text(
        json.dumps(
            {
                "credentials": {
                    "gov_tokens": {GOV_CLIENT: credentials.gov_token},
                    "provider_apps": {PROVIDER_APP_ID: credentials.provider_secret},
                }
            }
        ),
        encoding="utf-8",
    )
    settings.chmod(0o600)
    command = [
        str(BIN / "integrity-registry-simulator"), "--port", "0", "--records", "0",
        "--records-file", str(registry), "--settings-file", str(settings),
    ]  # fmt: skip
    with running(
        command,
        env=env,
        log=demo / "simulator.log",
        ready=lambda event: event.get("event") == "registry_simulator_ready",
    ) as ready:
        control = SimulatorControl(str(ready["url"]))
        try:
            yield control
        finally:
            control.close()
