"""The registry simulator as a process: what it logs, settings files, refusing to start."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

from service.domain.identifiers.resident_id import make_resident_id
from tests.clock import TestClock
from tests.registry_simulator import SIMULATOR, RegistrySimulator, provider_code, running_simulator

NEW_ID = make_resident_id("110101", dt.date(1990, 3, 7), 1)
OTHER_ID = make_resident_id("110101", dt.date(1990, 3, 7), 2)


def test_never_logs_names_or_id_numbers(clock: TestClock) -> None:
    with running_simulator(
        start=clock.now(), extra=("--access-log", "--log-level", "debug")
    ) as simulator:
        uscc = simulator.control.code()
        row = simulator.control.record(uscc)["record"]
        person = row["legal_representative"]
        new_row = simulator.unregistered_row(seed=21)
        simulator.control.put_record(
            new_row, gov={"legal_representative": {"name": "覆盖名", "id_number": None}}
        )
        simulator.control.schedule_change(
            uscc, legal_representative={"name": "新代表", "id_number": NEW_ID}
        )
        simulator.get_enterprise(uscc)
        simulator.get_enterprise(new_row["uscc"])
        simulator.verify(
            {"creditCode": uscc, "legalPerson": person["name"], "legalPersonIdNo": OTHER_ID},
        )
        simulator.verify(
            {"creditCode": "bad", "legalPerson": "某某某", "legalPersonIdNo": OTHER_ID}
        )
        simulator.control.http.put(
            f"/_sim/records/{uscc}", json={"record": {**row, "status": "发光"}}
        )
        output = simulator.stop()
    assert "GET /v1/enterprises/" in output  # the access log was on
    secrets = [person["name"], "覆盖名", "新代表", "某某某", new_row["legal_representative"]["name"],
               NEW_ID, OTHER_ID]  # fmt: skip
    secrets += [
        value
        for value in (person["id_number"], new_row["legal_representative"]["id_number"])
        if value
    ]
    for secret in secrets:
        assert secret not in output


def test_takes_settings_and_credentials_from_a_file(clock: TestClock, tmp_path: Path) -> None:
    settings = {
        "gov": {"publication_lag_seconds": 600},
        "provider": {"limits": {"concurrency": 4}},
        "credentials": {
            "gov_tokens": {"filed": "filed-token"},
            "provider_apps": {"filed-app": "filed-secret"},
        },
    }
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    with running_simulator(start=clock.now(), extra=("--settings-file", str(path))) as simulator:
        assert simulator.control.settings()["gov"]["publication_lag_seconds"] == 600
        assert simulator.control.settings()["provider"]["limits"] == {
            "concurrency": 4,
            "retry_after_seconds": 1,
        }
        uscc = simulator.control.code()
        assert simulator.get_enterprise(uscc, token="filed-token").status_code == 200
        assert provider_code(
            simulator.verify({"creditCode": uscc}, app_id="filed-app", secret="filed-secret")
        ) == (200, "0000")
        assert "gov:filed" in simulator.control.stats()["clients"]


def _failed_start(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIMULATOR, "--records", "1", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_refuses_to_start_on_settings_it_cannot_read() -> None:
    bad = _failed_start("--port", "0", "--set", "gov.error_rate=2", "--set", "provider.colour=1")
    assert bad.returncode == 2
    assert "gov.error_rate" in bad.stderr and "provider.colour" in bad.stderr
    assert _failed_start("--port", "0", "--start", "yesterday").returncode == 2
    assert _failed_start("--port", "0", "--gov-token", "no-name").returncode == 2


def test_refuses_to_start_on_a_port_in_use(registry_simulator: RegistrySimulator) -> None:
    taken = _failed_start("--port", str(registry_simulator.port))
    assert taken.returncode == 1
    assert f"cannot listen on 127.0.0.1:{registry_simulator.port}" in taken.stderr
