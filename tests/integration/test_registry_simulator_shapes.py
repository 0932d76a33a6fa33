"""The registry simulator's two shapes over real HTTP, in its own process, as
docs/registry-wire.md describes them: answers, credentials, codes, disagreeing sources."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx

from service.demo.synthetic import generate_registry_records
from service.domain.identifiers.resident_id import make_resident_id
from service.domain.licence import china_today
from tests.clock import TestClock
from tests.registry_simulator import RegistrySimulator, provider_code, running_simulator

NEW_ID = make_resident_id("110101", dt.date(1990, 3, 7), 1)
OTHER_ID = make_resident_id("110101", dt.date(1990, 3, 7), 2)

# -- the government shape ------------------------------------------------------


def test_gov_serves_the_record_in_the_registry_shape(registry_simulator: RegistrySimulator) -> None:
    uscc = registry_simulator.control.code()
    truth = registry_simulator.control.record(uscc)["record"]
    response = registry_simulator.get_enterprise(uscc)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert set(document) == {
        "uscc", "name", "enterpriseType", "legalRepresentative", "registeredCapital",
        "capitalCurrency", "establishmentDate", "term", "registrationAuthority", "approvalDate",
        "status", "address", "businessScope", "shareholders", "changes", "publishedAt",
    }  # fmt: skip
    assert document["uscc"] == uscc
    assert document["name"] == truth["name"]
    assert document["legalRepresentative"] == truth["legal_representative"]["name"]
    assert document["term"] == {
        "start": truth["term_start"],
        "end": truth["term_end"],
        "openEnded": truth["term_end"] is None,
    }
    assert document["publishedAt"].endswith("Z")
    # Registries publish the legal representative's name, never the ID number.
    id_number = truth["legal_representative"]["id_number"]
    assert id_number is None or id_number not in response.text


def test_gov_words_statuses_as_the_registry_does(registry_simulator: RegistrySimulator) -> None:
    uscc = registry_simulator.control.code()
    row = registry_simulator.control.record(uscc)["record"]
    wording = {}
    for code in ("in_business", "revoked", "cancelled"):
        registry_simulator.control.put_record({**row, "status": code})
        wording[code] = registry_simulator.get_enterprise(uscc).json()["status"]
    registry_simulator.control.put_record({**row, "status": "吊销"})
    assert (
        registry_simulator.get_enterprise(uscc).json()["status"] == "吊销"
    )  # as written in the data
    assert wording == {
        "in_business": "存续（在营、开业、在册）",
        "revoked": "吊销，未注销",
        "cancelled": "注销",
    }


def test_gov_refuses_a_missing_or_unknown_token(registry_simulator: RegistrySimulator) -> None:
    uscc = registry_simulator.control.code()
    no_token = httpx.get(f"{registry_simulator.url}/v1/enterprises/{uscc}")
    wrong = registry_simulator.get_enterprise(uscc, token="not-a-token")
    basic = httpx.get(
        f"{registry_simulator.url}/v1/enterprises/{uscc}", headers={"Authorization": "Basic eDp5"}
    )
    for response in (no_token, wrong, basic):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorised"
    assert registry_simulator.get_enterprise(uscc).status_code == 200


def test_gov_says_not_found_for_what_it_has_not_published(
    registry_simulator: RegistrySimulator,
) -> None:
    unknown = registry_simulator.unregistered_row(seed=7)["uscc"]
    for code in (unknown, "not-a-code"):
        response = registry_simulator.get_enterprise(code)
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "message": "no published record"}


# -- the provider shape ----------------------------------------------------------


def test_provider_answers_per_field(registry_simulator: RegistrySimulator) -> None:
    uscc = registry_simulator.control.code()
    truth = registry_simulator.control.record(uscc)["record"]
    person = truth["legal_representative"]
    registry_simulator.control.put_record(
        {**truth, "legal_representative": {**person, "id_number": person["id_number"] or NEW_ID}},
        provider_returns_id_number=True,
    )
    person = registry_simulator.control.record(uscc)["record"]["legal_representative"]
    response = registry_simulator.verify(
        {
            "creditCode": uscc.lower(),
            "companyName": truth["name"].replace("(", "（").replace(")", "）"),
            "legalPerson": person["name"],
            "legalPersonIdNo": OTHER_ID,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "0000" and body["msg"] == "success" and body["requestId"]
    data = body["data"]
    assert data["creditCode"] == uscc
    assert data["verifyResult"] == {"companyName": "1", "legalPerson": "1", "legalPersonIdNo": "0"}
    assert data["legalPersonIdNo"] == person["id_number"]
    assert data["regStatus"] and data["regAddress"] == truth["address"]
    assert data["termEnd"] == (truth["term_end"] or "长期")
    # China Standard Time, the provider's own clock.
    dt.datetime.strptime(data["updateTime"], "%Y-%m-%d %H:%M:%S")

    unsure = registry_simulator.verify({"creditCode": uscc, "companyName": "别的公司"}).json()[
        "data"
    ]
    assert unsure["verifyResult"] == {
        "companyName": "0",
        "legalPerson": "-1",
        "legalPersonIdNo": "-1",
    }


def test_provider_returns_id_numbers_for_the_configured_fraction_only(clock: TestClock) -> None:
    with running_simulator(
        start=clock.now(), settings={"provider": {"id_number_fraction": 0}}
    ) as simulator:
        codes = simulator.control.codes()
        answers = [simulator.verify({"creditCode": code}).json()["data"] for code in codes]
        assert all(answer["legalPersonIdNo"] is None for answer in answers)
        simulator.control.change_settings({"provider": {"id_number_fraction": 1}})
        held = [
            simulator.control.record(code)["record"]["legal_representative"]["id_number"]
            for code in codes
        ]
        returned = [
            simulator.verify({"creditCode": code}).json()["data"]["legalPersonIdNo"]
            for code in codes
        ]
        assert returned == held
        assert any(returned)
        simulator.control.change_settings({"provider": {"id_number_fraction": 0.5}})
        some = [
            simulator.verify({"creditCode": code}).json()["data"]["legalPersonIdNo"]
            for code in codes
        ]
        assert 0 < sum(1 for value in some if value) < sum(1 for value in held if value)


def test_provider_business_codes(registry_simulator: RegistrySimulator) -> None:
    unknown = registry_simulator.unregistered_row(seed=7)["uscc"]
    assert provider_code(registry_simulator.verify({"creditCode": unknown})) == (200, "2001")
    for malformed in (
        {"creditCode": "91330106MA2XXXXXX"},
        {"companyName": "x"},
        {"creditCode": 5},
        [1],
    ):
        response = registry_simulator.verify(malformed)
        assert provider_code(response) == (200, "1003")
        assert response.json()["data"] is None
    raw = b"{not json"
    not_json = httpx.post(
        registry_simulator.url + "/open/v2/enterprise/verify",
        content=raw,
        headers=registry_simulator.provider_headers(raw),
    )
    assert provider_code(not_json) == (200, "1003")
    huge = registry_simulator.verify({"creditCode": unknown, "companyName": "大" * 70_000})
    assert provider_code(huge) == (200, "1003")
    assert registry_simulator.control.stats()["shapes"]["provider"]["codes"] == {
        "1003": 6,
        "2001": 1,
    }


def test_provider_checks_app_id_signature_and_timestamp(
    registry_simulator: RegistrySimulator,
) -> None:
    uscc = registry_simulator.control.code()
    now = int(registry_simulator.control.now().timestamp())
    body = {"creditCode": uscc}
    assert provider_code(registry_simulator.verify(body)) == (200, "0000")
    assert provider_code(registry_simulator.verify(body, timestamp=now - 200)) == (200, "0000")
    refused = [
        registry_simulator.verify(body, secret="wrong-secret"),
        registry_simulator.verify(body, app_id="unknown-app"),
        registry_simulator.verify(body, timestamp=now - 400),
        registry_simulator.verify(body, timestamp=now + 400),
    ]
    raw = json.dumps(body).encode()
    signed_other_body = registry_simulator.provider_headers(b'{"creditCode": "x"}')
    refused.append(
        httpx.post(
            registry_simulator.url + "/open/v2/enterprise/verify",
            content=raw,
            headers=signed_other_body,
        )
    )
    refused.append(httpx.post(registry_simulator.url + "/open/v2/enterprise/verify", content=raw))
    for response in refused:
        assert provider_code(response) == (401, "1001")
    # The tolerance is a setting: a test whose own clock is far from the simulator's widens it.
    registry_simulator.control.change_settings({"provider": {"timestamp_tolerance_seconds": 1000}})
    assert provider_code(registry_simulator.verify(body, timestamp=now - 400)) == (200, "0000")


# -- disagreeing sources, records from a file ---------------------------------------------


def test_per_shape_overrides_make_the_sources_disagree(
    registry_simulator: RegistrySimulator,
) -> None:
    uscc = registry_simulator.control.code()
    control = registry_simulator.control
    row = control.record(uscc)["record"]
    control.put_record(row, provider={"name": "另一家有限公司", "status": "revoked"})
    assert registry_simulator.get_enterprise(uscc).json()["name"] == row["name"]
    data = registry_simulator.verify({"creditCode": uscc, "companyName": row["name"]}).json()[
        "data"
    ]
    assert data["companyName"] == "另一家有限公司" and data["regStatus"] == "吊销"
    assert data["verifyResult"]["companyName"] == "0"
    control.put_record(row, absent_from=["gov"])
    assert registry_simulator.get_enterprise(uscc).status_code == 404
    assert provider_code(registry_simulator.verify({"creditCode": uscc})) == (200, "0000")


def test_records_that_cannot_be_served_are_refused(registry_simulator: RegistrySimulator) -> None:
    uscc = registry_simulator.control.code()
    control = registry_simulator.control
    row = control.record(uscc)["record"]
    attempts = [
        {"record": {**row, "status": "发光"}},
        {"record": {**row, "uscc": registry_simulator.control.code(1)}},
        {"record": row, "provider": {"establishment_date": "yesterday"}},
        {"record": row, "colour": "blue"},
        {"record": row, "publish_at": "tomorrow"},
    ]
    for body in attempts:
        response = control.http.put(f"/_sim/records/{uscc}", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == "bad_request"
    change = control.http.post(f"/_sim/records/{uscc}/changes", json={"status": "发光"})
    assert change.status_code == 400
    assert control.http.post("/_sim/clock", json={"advance_seconds": "soon"}).status_code == 400
    assert control.record(uscc)["record"] == row


def test_serves_a_registry_snapshot_file(clock: TestClock, tmp_path: Path) -> None:
    rows = list(generate_registry_records(3, 5, as_of=china_today(clock.now())))
    broken = {**rows[2], "establishment_date": "someday"}
    path = tmp_path / "snapshot.jsonl"
    path.write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in [*rows[:2], broken]) + "\n"
    )
    with running_simulator(
        start=clock.now(), records=0, extra=("--records-file", str(path))
    ) as simulator:
        assert simulator.control.codes() == [rows[0]["uscc"], rows[1]["uscc"]]
        assert simulator.get_enterprise(rows[1]["uscc"]).json()["name"] == rows[1]["name"]
        output = simulator.stop()
    assert "line 3: establishment_date is not a date" in output
