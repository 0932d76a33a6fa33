"""What a test sets on the registry simulator, over real HTTP: contracted limits, injected
faults, outage windows, publication lag, scheduled changes and the change feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from service.domain.identifiers.resident_id import make_resident_id
from tests.clock import TestClock
from tests.registry_simulator import RegistrySimulator, provider_code, running_simulator

NEW_ID = make_resident_id("110101", dt.date(1990, 3, 7), 1)
OTHER_CLIENT, OTHER_TOKEN = "other", "other-gov-token"
OTHER_APP, OTHER_SECRET = "other-app", "other-secret"
SECOND_CLIENTS = (
    "--gov-token",
    f"{OTHER_CLIENT}={OTHER_TOKEN}",
    "--provider-app",
    f"{OTHER_APP}={OTHER_SECRET}",
)


@pytest.fixture
def two_clients(clock: TestClock) -> Iterator[RegistrySimulator]:
    with running_simulator(start=clock.now(), extra=SECOND_CLIENTS) as simulator:
        yield simulator


# -- limits ------------------------------------------------------------------------


def test_requests_beyond_the_concurrency_limit_are_refused_and_counted(
    two_clients: RegistrySimulator,
) -> None:
    simulator = two_clients
    uscc = simulator.control.code()
    limited = {"limits": {"concurrency": 2, "retry_after_seconds": 3}, "hold": True}
    simulator.control.change_settings({"gov": limited, "provider": limited})
    body = {"creditCode": uscc}
    with ThreadPoolExecutor(8) as pool:
        held = [pool.submit(simulator.get_enterprise, uscc) for _ in range(2)]
        held.append(pool.submit(simulator.get_enterprise, uscc, OTHER_TOKEN))
        held += [pool.submit(simulator.verify, body) for _ in range(2)]
        simulator.control.wait_for(
            lambda stats: (
                stats["shapes"]["gov"]["in_flight"] == 3
                and stats["shapes"]["provider"]["in_flight"] == 2
            )
        )
        refused = simulator.get_enterprise(uscc)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "3"
        assert refused.json()["error"] == "rate_limited"
        refused_provider = simulator.verify(body)
        assert (
            provider_code(refused_provider) == (429, "1002")
            and refused_provider.headers["Retry-After"] == "3"
        )
        simulator.control.change_settings({"gov": {"hold": False}, "provider": {"hold": False}})
        assert [future.result().status_code for future in held] == [200] * 5
    stats = simulator.control.stats()
    assert stats["limit_violations"] == 2
    assert stats["clients"]["provider:test-app"]["concurrency_violations"] == 1
    assert stats["shapes"]["gov"]["in_flight_max"] == 3
    assert stats["clients"]["gov:test"]["concurrency_violations"] == 1
    assert stats["clients"]["gov:test"]["in_flight_max"] == 2
    assert stats["clients"][f"gov:{OTHER_CLIENT}"]["limit_violations"] == 0
    assert stats["shapes"]["gov"]["statuses"] == {"200": 3, "429": 1}


def test_requests_beyond_the_rate_are_refused_and_counted(two_clients: RegistrySimulator) -> None:
    simulator = two_clients
    uscc = simulator.control.code()
    # Two at once, then one every 1000 s: a third request in a row is beyond the rate.
    limits = {"rate_per_second": 0.001, "burst": 2}
    simulator.control.change_settings({"gov": {"limits": limits}, "provider": {"limits": limits}})
    assert [simulator.get_enterprise(uscc).status_code for _ in range(3)] == [200, 200, 429]
    refused = simulator.get_enterprise(uscc)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 1
    assert [simulator.get_enterprise(uscc, OTHER_TOKEN).status_code for _ in range(2)] == [200, 200]
    body = {"creditCode": uscc}
    answers = [provider_code(simulator.verify(body)) for _ in range(3)]
    assert answers == [(200, "0000"), (200, "0000"), (429, "1002")]
    other = [
        provider_code(simulator.verify(body, app_id=OTHER_APP, secret=OTHER_SECRET))
        for _ in range(2)
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
    assert simulator.get_enterprise(uscc).status_code == 200


# -- failures ----------------------------------------------------------------------


def test_injected_errors_follow_settings_changed_at_run_time(
    registry_simulator: RegistrySimulator,
) -> None:
    uscc = registry_simulator.control.code()
    control = registry_simulator.control
    control.change_settings({"gov": {"error_rate": 1}, "provider": {"error_rate": 1}})
    assert registry_simulator.get_enterprise(uscc).json() == {
        "error": "internal",
        "message": "internal error",
    }
    assert registry_simulator.get_enterprise(uscc).status_code == 500
    assert provider_code(registry_simulator.verify({"creditCode": uscc})) == (502, "5001")
    control.change_settings(
        {
            "gov": {"error_rate": 0, "unavailable_rate": 1},
            "provider": {"error_rate": 0, "unavailable_rate": 1},
        }
    )
    unavailable = registry_simulator.get_enterprise(uscc)
    assert unavailable.status_code == 503 and unavailable.json()["error"] == "unavailable"
    assert provider_code(registry_simulator.verify({"creditCode": uscc})) == (503, "5000")
    settings = control.change_settings({"gov": {"unavailable_rate": 0}})
    assert (
        settings["gov"]["unavailable_rate"] == 0 and settings["provider"]["unavailable_rate"] == 1
    )
    assert registry_simulator.get_enterprise(uscc).status_code == 200


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
    uscc = registry_simulator.control.code()
    control = registry_simulator.control
    now = control.now()
    window = {
        "start": (now + dt.timedelta(hours=1)).isoformat(),
        "end": (now + dt.timedelta(hours=2)).isoformat(),
    }
    control.change_settings({"gov": {"outages": [window]}, "provider": {"outages": [window]}})
    assert registry_simulator.get_enterprise(uscc).status_code == 200
    control.advance_clock(dt.timedelta(minutes=90))
    during = registry_simulator.get_enterprise(uscc)
    assert during.status_code == 503 and during.json()["error"] == "unavailable"
    assert 1700 < int(during.headers["Retry-After"]) <= 1800
    # Everything of the shape, credentials or not.
    assert httpx.get(f"{registry_simulator.url}/v1/enterprises/{uscc}").status_code == 503
    provider = registry_simulator.verify({"creditCode": uscc})
    assert provider_code(provider) == (503, "5000") and "Retry-After" in provider.headers
    control.advance_clock(dt.timedelta(hours=1))
    assert registry_simulator.get_enterprise(uscc).status_code == 200
    assert provider_code(registry_simulator.verify({"creditCode": uscc})) == (200, "0000")


# -- time: publication lag, scheduled changes, the change feed ---------------------------


def test_a_new_record_shows_after_each_shapes_publication_lag(
    registry_simulator: RegistrySimulator, clock: TestClock
) -> None:
    control = registry_simulator.control
    control.change_settings(
        {
            "gov": {"publication_lag_seconds": 86_400},
            "provider": {"publication_lag_seconds": 2 * 86_400},
        }
    )
    registered = control.now()
    row = registry_simulator.unregistered_row(seed=11)
    assert control.put_record(row)["record"]["uscc"] == row["uscc"]
    assert registry_simulator.get_enterprise(row["uscc"]).status_code == 404
    assert provider_code(registry_simulator.verify({"creditCode": row["uscc"]})) == (200, "2001")
    registry_simulator.move_clocks(clock, dt.timedelta(days=1, seconds=1))
    published = registry_simulator.get_enterprise(row["uscc"])
    assert published.status_code == 200 and published.json()["name"] == row["name"]
    assert provider_code(registry_simulator.verify({"creditCode": row["uscc"]})) == (200, "2001")
    # Moved together, the test clock still signs within the provider's tolerance.
    registry_simulator.move_clocks(clock, dt.timedelta(days=1))
    signed_now = int(clock.now().timestamp())
    answer = registry_simulator.verify({"creditCode": row["uscc"]}, timestamp=signed_now)
    assert provider_code(answer) == (200, "0000")
    feed = registry_simulator.get_changes(registered).json()
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
    row = registry_simulator.unregistered_row(seed=12)
    control.put_record(
        row, publish_at={"gov": now - dt.timedelta(days=1), "provider": now + dt.timedelta(days=3)}
    )
    assert registry_simulator.get_enterprise(row["uscc"]).status_code == 200
    assert provider_code(registry_simulator.verify({"creditCode": row["uscc"]})) == (200, "2001")
    control.set_clock(now + dt.timedelta(days=3, seconds=1))
    assert provider_code(registry_simulator.verify({"creditCode": row["uscc"]})) == (200, "0000")


def test_scheduled_changes_show_after_the_lag_and_in_the_feed(
    registry_simulator: RegistrySimulator,
) -> None:
    control = registry_simulator.control
    control.change_settings({"gov": {"publication_lag_seconds": 3600}})
    start = control.now()
    first, second, third = (registry_simulator.control.code(i) for i in range(3))
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
    assert registry_simulator.verify({"creditCode": first}).json()["data"]["regStatus"] == "注销"
    assert registry_simulator.get_enterprise(first).json()["status"] == _gov_wording(
        before["status"]
    )
    assert registry_simulator.get_changes(start).json() == {"changes": [], "nextCursor": None}

    control.advance_clock(dt.timedelta(seconds=3601))
    assert registry_simulator.get_enterprise(first).json()["status"] == "注销"
    representative = registry_simulator.get_enterprise(second).json()
    assert representative["legalRepresentative"] == "新代表"
    assert representative["changes"][-1]["item"] == "法定代表人变更"
    assert representative["changes"][-1]["after"] == "新代表"
    assert (
        registry_simulator.get_enterprise(third).json()["term"]["start"] != "2026-11-01"
    )  # ten minutes later
    feed = registry_simulator.get_changes(start).json()
    assert [(e["uscc"], e["items"]) for e in feed["changes"]] == [
        (first, ["status"]),
        (second, ["legal_representative"]),
    ]

    control.advance_clock(dt.timedelta(minutes=10))
    assert registry_simulator.get_enterprise(third).json()["term"] == {
        "start": "2026-11-01",
        "end": "2046-10-31",
        "openEnded": False,
    }
    page = registry_simulator.get_changes(start, limit=2).json()
    assert [e["uscc"] for e in page["changes"]] == [first, second] and page["nextCursor"]
    rest = registry_simulator.get_changes(start, limit=2, cursor=page["nextCursor"]).json()
    assert rest == {
        "changes": [
            {"uscc": third, "changedAt": rest["changes"][0]["changedAt"], "items": ["term"]}
        ],
        "nextCursor": None,
    }
    later = dt.datetime.fromisoformat(rest["changes"][0]["changedAt"])
    assert [e["uscc"] for e in registry_simulator.get_changes(later).json()["changes"]] == [third]


def _gov_wording(status: str) -> str:
    from simulators.registry.wording import gov_status

    return gov_status(status)


def test_the_change_feed_refuses_what_it_cannot_read(registry_simulator: RegistrySimulator) -> None:
    now = registry_simulator.control.now()
    bad = [
        httpx.get(f"{registry_simulator.url}/v1/changes", headers=registry_simulator.gov_headers()),
        registry_simulator.get_changes(now, limit=0),
        registry_simulator.get_changes(now, limit=1001),
        registry_simulator.get_changes(now, cursor="not-a-cursor"),
    ]
    for response in bad:
        assert response.status_code == 400 and response.json()["error"] == "bad_request"
    # An offset's "+" sent unencoded is read as meant.
    unencoded = f"{registry_simulator.url}/v1/changes?since={now.isoformat()}"
    assert "+00:00" in unencoded
    assert httpx.get(unencoded, headers=registry_simulator.gov_headers()).status_code == 200
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
        feed = simulator.get_changes(start, limit=1000).json()
        assert len(feed["changes"]) == 20
        assert {item for entry in feed["changes"] for item in entry["items"]} == {
            "status",
            "term",
            "legal_representative",
        }
        times = [entry["changedAt"] for entry in feed["changes"]]
        assert times == sorted(times)
