"""The registry simulator over real HTTP, in its own process: both shapes as
docs/registry-wire.md describes them, and the behaviour a test can set."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.registry_simulator import RegistrySimulator


def _some_uscc(simulator: RegistrySimulator) -> str:
    return simulator.control.codes(limit=1)[0]


def _provider(simulator: RegistrySimulator, body: dict[str, Any], **sign: Any) -> httpx.Response:
    raw = json.dumps(body).encode()
    return httpx.post(
        simulator.url + "/open/v2/enterprise/verify",
        content=raw,
        headers=simulator.provider_headers(raw, **sign),
    )


def test_gov_serves_the_published_record(registry_simulator: RegistrySimulator) -> None:
    uscc = _some_uscc(registry_simulator)
    truth = registry_simulator.control.record(uscc)["record"]
    response = httpx.get(
        registry_simulator.url + f"/v1/enterprises/{uscc}", headers=registry_simulator.gov_headers()
    )
    assert response.status_code == 200
    document = response.json()
    assert document["uscc"] == uscc
    assert document["name"] == truth["name"]
    assert document["legalRepresentative"] == truth["legal_representative"]["name"]
    assert (
        "legalPersonIdNo" not in document
        and truth["legal_representative"]["id_number"] not in response.text
    )


def test_provider_verifies_what_was_submitted(registry_simulator: RegistrySimulator) -> None:
    uscc = _some_uscc(registry_simulator)
    truth = registry_simulator.control.record(uscc)["record"]
    response = _provider(
        registry_simulator,
        {"creditCode": uscc, "companyName": truth["name"], "legalPerson": "别人"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "0000"
    assert body["data"]["verifyResult"] == {
        "companyName": "1",
        "legalPerson": "0",
        "legalPersonIdNo": "-1",
    }
