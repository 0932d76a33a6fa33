"""The registry simulator over real HTTP, in its own process: both shapes as
docs/registry-wire.md describes them, and the behaviour a test can set."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from service.demo.synthetic import generate_registry_records
from service.domain.identifiers.resident_id import make_resident_id
from service.domain.licence import china_today
from tests.clock import TestClock
from tests.registry_simulator import RegistrySimulator, running_simulator

NEW_ID = make_resident_id("110101", dt.date(1990, 3, 7), 1)
OTHER_ID = make_resident_id("110101", dt.date(1990, 3, 7), 2)
OTHER_CLIENT, OTHER_TOKEN = "other", "other-gov-token"
OTHER_APP, OTHER_SECRET = "other-app", "other-secret"
SECOND_CLIENTS = (
    "--gov-token",
    f"{OTHER_CLIENT}={OTHER_TOKEN}",
    "--provider-app",
    f"{OTHER_APP}={OTHER_SECRET}",
)


def _uscc(simulator: RegistrySimulator, index: int = 0) -> str:
    return simulator.control.codes(limit=index + 1)[index]


def _gov(simulator: RegistrySimulator, uscc: str, token: str | None = None) -> httpx.Response:
    headers = simulator.gov_headers() if token is None else simulator.gov_headers(token)
    return httpx.get(f"{simulator.url}/v1/enterprises/{uscc}", headers=headers)


def _feed(simulator: RegistrySimulator, since: dt.datetime, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{simulator.url}/v1/changes",
        params={"since": since.isoformat(), **params},
        headers=simulator.gov_headers(),
    )


def _provider(simulator: RegistrySimulator, body: dict[str, Any], **sign: Any) -> httpx.Response:
    raw = json.dumps(body, ensure_ascii=False).encode()
    return httpx.post(
        simulator.url + "/open/v2/enterprise/verify",
        content=raw,
        headers=simulator.provider_headers(raw, **sign),
    )


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def _new_row(simulator: RegistrySimulator, seed: int) -> dict[str, Any]:
    """A synthetic enterprise the simulator does not hold yet."""
    today = china_today(simulator.control.now())
    held = set(simulator.control.codes())
    row = next(r for r in generate_registry_records(5, seed, as_of=today) if r["uscc"] not in held)
    return dict(row)


@pytest.fixture
def two_clients(clock: TestClock) -> Iterator[RegistrySimulator]:
    with running_simulator(start=clock.now(), extra=SECOND_CLIENTS) as simulator:
        yield simulator


# -- the government shape ------------------------------------------------------


def test_gov_serves_the_record_in_the_registry_shape(registry_simulator: RegistrySimulator) -> None:
    uscc = _uscc(registry_simulator)
    truth = registry_simulator.control.record(uscc)["record"]
    response = _gov(registry_simulator, uscc)
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
    uscc = _uscc(registry_simulator)
    row = registry_simulator.control.record(uscc)["record"]
    wording = {}
    for code in ("in_business", "revoked", "cancelled"):
        registry_simulator.control.put_record({**row, "status": code})
        wording[code] = _gov(registry_simulator, uscc).json()["status"]
    registry_simulator.control.put_record({**row, "status": "吊销"})
    assert _gov(registry_simulator, uscc).json()["status"] == "吊销"  # as written in the data
    assert wording == {
        "in_business": "存续（在营、开业、在册）",
        "revoked": "吊销，未注销",
        "cancelled": "注销",
    }


def test_gov_refuses_a_missing_or_unknown_token(registry_simulator: RegistrySimulator) -> None:
    uscc = _uscc(registry_simulator)
    no_token = httpx.get(f"{registry_simulator.url}/v1/enterprises/{uscc}")
    wrong = _gov(registry_simulator, uscc, token="not-a-token")
    basic = httpx.get(
        f"{registry_simulator.url}/v1/enterprises/{uscc}", headers={"Authorization": "Basic eDp5"}
    )
    for response in (no_token, wrong, basic):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorised"
    assert _gov(registry_simulator, uscc).status_code == 200


def test_gov_says_not_found_for_what_it_has_not_published(
    registry_simulator: RegistrySimulator,
) -> None:
    unknown = _new_row(registry_simulator, seed=7)["uscc"]
    for code in (unknown, "not-a-code"):
        response = _gov(registry_simulator, code)
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "message": "no published record"}


# -- the provider shape ----------------------------------------------------------


def test_provider_answers_per_field(registry_simulator: RegistrySimulator) -> None:
    uscc = _uscc(registry_simulator)
    truth = registry_simulator.control.record(uscc)["record"]
    person = truth["legal_representative"]
    registry_simulator.control.put_record(
        {**truth, "legal_representative": {**person, "id_number": person["id_number"] or NEW_ID}},
        provider_returns_id_number=True,
    )
    person = registry_simulator.control.record(uscc)["record"]["legal_representative"]
    response = _provider(
        registry_simulator,
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

    unsure = _provider(registry_simulator, {"creditCode": uscc, "companyName": "别的公司"}).json()[
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
        answers = [_provider(simulator, {"creditCode": code}).json()["data"] for code in codes]
        assert all(answer["legalPersonIdNo"] is None for answer in answers)
        simulator.control.change_settings({"provider": {"id_number_fraction": 1}})
        held = [
            simulator.control.record(code)["record"]["legal_representative"]["id_number"]
            for code in codes
        ]
        returned = [
            _provider(simulator, {"creditCode": code}).json()["data"]["legalPersonIdNo"]
            for code in codes
        ]
        assert returned == held
        assert any(returned)
        simulator.control.change_settings({"provider": {"id_number_fraction": 0.5}})
        some = [
            _provider(simulator, {"creditCode": code}).json()["data"]["legalPersonIdNo"]
            for code in codes
        ]
        assert 0 < sum(1 for value in some if value) < sum(1 for value in held if value)


def test_provider_business_codes(registry_simulator: RegistrySimulator) -> None:
    unknown = _new_row(registry_simulator, seed=7)["uscc"]
    assert _code(_provider(registry_simulator, {"creditCode": unknown})) == (200, "2001")
    for malformed in (
        {"creditCode": "91330106MA2XXXXXX"},
        {"companyName": "x"},
        {"creditCode": 5},
        [1],
    ):
        response = _provider(registry_simulator, malformed)  # type: ignore[arg-type]
        assert _code(response) == (200, "1003")
        assert response.json()["data"] is None
    raw = b"{not json"
    not_json = httpx.post(
        registry_simulator.url + "/open/v2/enterprise/verify",
        content=raw,
        headers=registry_simulator.provider_headers(raw),
    )
    assert _code(not_json) == (200, "1003")
    assert registry_simulator.control.stats()["shapes"]["provider"]["codes"] == {
        "1003": 5,
        "2001": 1,
    }


def test_provider_checks_app_id_signature_and_timestamp(
    registry_simulator: RegistrySimulator,
) -> None:
    uscc = _uscc(registry_simulator)
    now = int(registry_simulator.control.now().timestamp())
    body = {"creditCode": uscc}
    assert _code(_provider(registry_simulator, body)) == (200, "0000")
    assert _code(_provider(registry_simulator, body, timestamp=now - 200)) == (200, "0000")
    refused = [
        _provider(registry_simulator, body, secret="wrong-secret"),
        _provider(registry_simulator, body, app_id="unknown-app"),
        _provider(registry_simulator, body, timestamp=now - 400),
        _provider(registry_simulator, body, timestamp=now + 400),
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
        assert _code(response) == (401, "1001")
    # The tolerance is a setting: a test whose own clock is far from the simulator's widens it.
    registry_simulator.control.change_settings({"provider": {"timestamp_tolerance_seconds": 1000}})
    assert _code(_provider(registry_simulator, body, timestamp=now - 400)) == (200, "0000")


# -- limits ------------------------------------------------------------------------


def test_requests_beyond_the_concurrency_limit_are_refused_and_counted(
    two_clients: RegistrySimulator,
) -> None:
    simulator = two_clients
    uscc = _uscc(simulator)
    simulator.control.change_settings(
        {"gov": {"limits": {"concurrency": 2, "retry_after_seconds": 3}, "hold": True}}
    )
    with ThreadPoolExecutor(4) as pool:
        held = [pool.submit(_gov, simulator, uscc) for _ in range(2)]
        held.append(pool.submit(_gov, simulator, uscc, OTHER_TOKEN))
        simulator.control.wait_for(lambda stats: stats["shapes"]["gov"]["in_flight"] == 3)
        refused = _gov(simulator, uscc)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "3"
        assert refused.json()["error"] == "rate_limited"
        simulator.control.change_settings({"gov": {"hold": False}})
        assert [future.result().status_code for future in held] == [200, 200, 200]
    stats = simulator.control.stats()
    assert stats["limit_violations"] == 1
    assert stats["shapes"]["gov"]["in_flight_max"] == 3
    assert stats["clients"][f"gov:{'test'}"]["concurrency_violations"] == 1
    assert stats["clients"][f"gov:{'test'}"]["in_flight_max"] == 2
    assert stats["clients"][f"gov:{OTHER_CLIENT}"]["limit_violations"] == 0
    assert stats["shapes"]["gov"]["statuses"] == {"200": 3, "429": 1}


def test_requests_beyond_the_rate_are_refused_and_counted(two_clients: RegistrySimulator) -> None:
    simulator = two_clients
    uscc = _uscc(simulator)
    # Two at once, then one every 1000 s: a third request in a row is beyond the rate.
    limits = {"rate_per_second": 0.001, "burst": 2}
    simulator.control.change_settings({"gov": {"limits": limits}, "provider": {"limits": limits}})
    assert [_gov(simulator, uscc).status_code for _ in range(3)] == [200, 200, 429]
    refused = _gov(simulator, uscc)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 1
    assert [_gov(simulator, uscc, OTHER_TOKEN).status_code for _ in range(2)] == [200, 200]
    body = {"creditCode": uscc}
    answers = [_code(_provider(simulator, body)) for _ in range(3)]
    assert answers == [(200, "0000"), (200, "0000"), (429, "1002")]
    other = [
        _code(_provider(simulator, body, app_id=OTHER_APP, secret=OTHER_SECRET)) for _ in range(2)
    ]
    assert other == [(200, "0000"), (200, "0000")]
    stats = simulator.control.stats()
    assert stats["clients"]["gov:test"]["rate_violations"] == 2
    assert stats["clients"][f"gov:{OTHER_CLIENT}"]["limit_violations"] == 0
    assert stats["clients"]["provider:test-app"]["rate_violations"] == 1
    assert stats["clients"][f"provider:{OTHER_APP}"]["limit_violations"] == 0
    assert stats["limit_violations"] == 3
    assert stats["shapes"]["provider"]["limit_violations"] == 1
    # Counting starts again on request; new limits start with full buckets.
    assert simulator.control.reset_stats()["limit_violations"] == 0
    simulator.control.change_settings({"gov": {"limits": {}}})
    assert _gov(simulator, uscc).status_code == 200


# -- failures ----------------------------------------------------------------------


def test_injected_errors_follow_settings_changed_at_run_time(
    registry_simulator: RegistrySimulator,
) -> None:
    uscc = _uscc(registry_simulator)
    control = registry_simulator.control
    control.change_settings({"gov": {"error_rate": 1}, "provider": {"error_rate": 1}})
    assert _gov(registry_simulator, uscc).json() == {
        "error": "internal",
        "message": "internal error",
    }
    assert _gov(registry_simulator, uscc).status_code == 500
    assert _code(_provider(registry_simulator, {"creditCode": uscc})) == (502, "5001")
    control.change_settings(
        {
            "gov": {"error_rate": 0, "unavailable_rate": 1},
            "provider": {"error_rate": 0, "unavailable_rate": 1},
        }
    )
    unavailable = _gov(registry_simulator, uscc)
    assert unavailable.status_code == 503 and unavailable.json()["error"] == "unavailable"
    assert _code(_provider(registry_simulator, {"creditCode": uscc})) == (503, "5000")
    settings = control.change_settings({"gov": {"unavailable_rate": 0}})
    assert (
        settings["gov"]["unavailable_rate"] == 0 and settings["provider"]["unavailable_rate"] == 1
    )
    assert _gov(registry_simulator, uscc).status_code == 200


def test_settings_that_cannot_be_read_change_nothing(registry_simulator: RegistrySimulator) -> None:
    before = registry_simulator.control.settings()
    response = registry_simulator.control.http.post(
        "/_sim/settings",
        json={
            "gov": {
                "error_rate": 2,
                "latency": {"distribution": "lognormal", "mean_ms": 10, "p99_ms": 5},
            },
            "provider": {"limits": {"concurrency": 0}, "colour": "blue"},
            "sms": {},
        },
    )
    assert response.status_code == 400
    fields = {violation["field"] for violation in response.json()["violations"]}
    assert fields == {
        "gov.error_rate",
        "gov.latency.p99_ms",
        "provider.limits.concurrency",
        "provider.colour",
        "sms",
    }
    assert registry_simulator.control.settings() == before


def test_an_outage_window_answers_503_while_the_clock_is_inside_it(
    registry_simulator: RegistrySimulator,
) -> None:
    uscc = _uscc(registry_simulator)
    control = registry_simulator.control
    now = control.now()
    window = {
        "start": (now + dt.timedelta(hours=1)).isoformat(),
        "end": (now + dt.timedelta(hours=2)).isoformat(),
    }
    control.change_settings({"gov": {"outages": [window]}, "provider": {"outages": [window]}})
    assert _gov(registry_simulator, uscc).status_code == 200
    control.advance_clock(dt.timedelta(minutes=90))
    during = _gov(registry_simulator, uscc)
    assert during.status_code == 503 and during.json()["error"] == "unavailable"
    assert 1700 < int(during.headers["Retry-After"]) <= 1800
    # Everything of the shape, credentials or not.
    assert httpx.get(f"{registry_simulator.url}/v1/enterprises/{uscc}").status_code == 503
    provider = _provider(registry_simulator, {"creditCode": uscc})
    assert _code(provider) == (503, "5000") and "Retry-After" in provider.headers
    control.advance_clock(dt.timedelta(hours=1))
    assert _gov(registry_simulator, uscc).status_code == 200
    assert _code(_provider(registry_simulator, {"creditCode": uscc})) == (200, "0000")


# -- time: publication lag, scheduled changes, the change feed ---------------------------


def test_a_new_record_shows_after_each_shapes_publication_lag(
    registry_simulator: RegistrySimulator,
) -> None:
    control = registry_simulator.control
    control.change_settings(
        {
            "gov": {"publication_lag_seconds": 86_400},
            "provider": {"publication_lag_seconds": 2 * 86_400},
        }
    )
    registered = control.now()
    row = _new_row(registry_simulator, seed=11)
    assert control.put_record(row)["record"]["uscc"] == row["uscc"]
    assert _gov(registry_simulator, row["uscc"]).status_code == 404
    assert _code(_provider(registry_simulator, {"creditCode": row["uscc"]})) == (200, "2001")
    control.advance_clock(dt.timedelta(days=1, seconds=1))
    published = _gov(registry_simulator, row["uscc"])
    assert published.status_code == 200 and published.json()["name"] == row["name"]
    assert _code(_provider(registry_simulator, {"creditCode": row["uscc"]})) == (200, "2001")
    control.advance_clock(dt.timedelta(days=1))
    assert _code(_provider(registry_simulator, {"creditCode": row["uscc"]})) == (200, "0000")
    feed = _feed(registry_simulator, registered).json()
    assert [(entry["uscc"], entry["items"]) for entry in feed["changes"]] == [
        (row["uscc"], ["published"])
    ]
    changed_at = dt.datetime.fromisoformat(feed["changes"][0]["changedAt"])
    assert (
        dt.timedelta(days=1) - dt.timedelta(seconds=1)
        <= changed_at - registered
        <= dt.timedelta(days=1, seconds=1)
    )


def test_an_explicit_publish_time_per_shape(registry_simulator: RegistrySimulator) -> None:
    control = registry_simulator.control
    now = control.now()
    row = _new_row(registry_simulator, seed=12)
    control.put_record(
        row, publish_at={"gov": now - dt.timedelta(days=1), "provider": now + dt.timedelta(days=3)}
    )
    assert _gov(registry_simulator, row["uscc"]).status_code == 200
    assert _code(_provider(registry_simulator, {"creditCode": row["uscc"]})) == (200, "2001")
    control.set_clock(now + dt.timedelta(days=3, seconds=1))
    assert _code(_provider(registry_simulator, {"creditCode": row["uscc"]})) == (200, "0000")


def test_scheduled_changes_show_after_the_lag_and_in_the_feed(
    registry_simulator: RegistrySimulator,
) -> None:
    control = registry_simulator.control
    control.change_settings({"gov": {"publication_lag_seconds": 3600}})
    start = control.now()
    first, second, third = (_uscc(registry_simulator, i) for i in range(3))
    before = control.record(first)["record"]
    control.schedule_change(first, status="注销")
    control.schedule_change(second, legal_representative={"name": "新代表", "id_number": NEW_ID})
    control.schedule_change(
        third,
        term={"start": "2026-11-01", "end": "2046-10-31"},
        at=start + dt.timedelta(minutes=10),
    )
    # The truth changed at once; the provider (no lag) shows it, the registry not yet.
    assert control.record(first)["record"]["status"] == "注销"
    assert (
        _provider(registry_simulator, {"creditCode": first}).json()["data"]["regStatus"] == "注销"
    )
    assert _gov(registry_simulator, first).json()["status"] == _gov_wording(before["status"])
    assert _feed(registry_simulator, start).json() == {"changes": [], "nextCursor": None}

    control.advance_clock(dt.timedelta(seconds=3601))
    assert _gov(registry_simulator, first).json()["status"] == "注销"
    representative = _gov(registry_simulator, second).json()
    assert representative["legalRepresentative"] == "新代表"
    assert representative["changes"][-1]["item"] == "法定代表人变更"
    assert representative["changes"][-1]["after"] == "新代表"
    assert (
        _gov(registry_simulator, third).json()["term"]["start"] != "2026-11-01"
    )  # ten minutes later
    feed = _feed(registry_simulator, start).json()
    assert [(e["uscc"], e["items"]) for e in feed["changes"]] == [
        (first, ["status"]),
        (second, ["legal_representative"]),
    ]

    control.advance_clock(dt.timedelta(minutes=10))
    assert _gov(registry_simulator, third).json()["term"] == {
        "start": "2026-11-01",
        "end": "2046-10-31",
        "openEnded": False,
    }
    page = _feed(registry_simulator, start, limit=2).json()
    assert [e["uscc"] for e in page["changes"]] == [first, second] and page["nextCursor"]
    rest = _feed(registry_simulator, start, limit=2, cursor=page["nextCursor"]).json()
    assert rest == {
        "changes": [
            {"uscc": third, "changedAt": rest["changes"][0]["changedAt"], "items": ["term"]}
        ],
        "nextCursor": None,
    }
    later = dt.datetime.fromisoformat(rest["changes"][0]["changedAt"])
    assert [e["uscc"] for e in _feed(registry_simulator, later).json()["changes"]] == [third]


def _gov_wording(status: str) -> str:
    from simulators.registry.wording import gov_status

    return gov_status(status)


def test_the_change_feed_refuses_what_it_cannot_read(registry_simulator: RegistrySimulator) -> None:
    now = registry_simulator.control.now()
    bad = [
        httpx.get(f"{registry_simulator.url}/v1/changes", headers=registry_simulator.gov_headers()),
        _feed(registry_simulator, now, limit=0),
        _feed(registry_simulator, now, limit=1001),
        _feed(registry_simulator, now, cursor="not-a-cursor"),
    ]
    for response in bad:
        assert response.status_code == 400 and response.json()["error"] == "bad_request"
    assert (
        httpx.get(
            f"{registry_simulator.url}/v1/changes", params={"since": now.isoformat()}
        ).status_code
        == 401
    )


def test_random_changes_scheduled_at_start_reach_the_feed(clock: TestClock) -> None:
    with running_simulator(
        start=clock.now(), extra=("--scheduled-changes", "20", "--changes-within-days", "10")
    ) as simulator:
        start = simulator.control.now()
        simulator.control.advance_clock(dt.timedelta(days=10, seconds=1))
        feed = _feed(simulator, start, limit=1000).json()
        assert len(feed["changes"]) == 20
        assert {item for entry in feed["changes"] for item in entry["items"]} == {
            "status",
            "term",
            "legal_representative",
        }
        times = [entry["changedAt"] for entry in feed["changes"]]
        assert times == sorted(times)


# -- disagreeing sources, records from a file ---------------------------------------------


def test_per_shape_overrides_make_the_sources_disagree(
    registry_simulator: RegistrySimulator,
) -> None:
    uscc = _uscc(registry_simulator)
    control = registry_simulator.control
    row = control.record(uscc)["record"]
    control.put_record(row, provider={"name": "另一家有限公司", "status": "revoked"})
    assert _gov(registry_simulator, uscc).json()["name"] == row["name"]
    data = _provider(registry_simulator, {"creditCode": uscc, "companyName": row["name"]}).json()[
        "data"
    ]
    assert data["companyName"] == "另一家有限公司" and data["regStatus"] == "吊销"
    assert data["verifyResult"]["companyName"] == "0"
    control.put_record(row, absent_from=["gov"])
    assert _gov(registry_simulator, uscc).status_code == 404
    assert _code(_provider(registry_simulator, {"creditCode": uscc})) == (200, "0000")


def test_records_that_cannot_be_served_are_refused(registry_simulator: RegistrySimulator) -> None:
    uscc = _uscc(registry_simulator)
    control = registry_simulator.control
    row = control.record(uscc)["record"]
    attempts = [
        {"record": {**row, "status": "发光"}},
        {"record": {**row, "uscc": _uscc(registry_simulator, 1)}},
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


def test_serves_a_registry_snapshot_file(clock: TestClock, tmp_path: Any) -> None:
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
        assert _gov(simulator, rows[1]["uscc"]).json()["name"] == rows[1]["name"]
        output = simulator.stop()
    assert "line 3: establishment_date is not a date" in output


# -- the process ------------------------------------------------------------------------


def test_never_logs_names_or_id_numbers(clock: TestClock) -> None:
    with running_simulator(
        start=clock.now(), extra=("--access-log", "--log-level", "debug")
    ) as simulator:
        uscc = _uscc(simulator)
        row = simulator.control.record(uscc)["record"]
        person = row["legal_representative"]
        new_row = _new_row(simulator, seed=21)
        simulator.control.put_record(
            new_row, gov={"legal_representative": {"name": "覆盖名", "id_number": None}}
        )
        simulator.control.schedule_change(
            uscc, legal_representative={"name": "新代表", "id_number": NEW_ID}
        )
        _gov(simulator, uscc)
        _gov(simulator, new_row["uscc"])
        _provider(
            simulator,
            {"creditCode": uscc, "legalPerson": person["name"], "legalPersonIdNo": OTHER_ID},
        )
        _provider(
            simulator, {"creditCode": "bad", "legalPerson": "某某某", "legalPersonIdNo": OTHER_ID}
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


def test_refuses_to_start_on_settings_it_cannot_read(clock: TestClock) -> None:
    import subprocess

    from tests.registry_simulator import SIMULATOR

    bad = subprocess.run(
        [SIMULATOR, "--port", "0", "--records", "1", "--set", "gov.error_rate=2", "--set", "provider.colour=1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "gov.error_rate" in bad.stderr and "provider.colour" in bad.stderr
