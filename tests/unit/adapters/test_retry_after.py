"""Retry-After in both forms RFC 9110 allows: delta-seconds and an HTTP-date."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from service.adapters.registry_http.transport import retry_after_seconds

OUR_NOW = dt.datetime(2026, 11, 20, 8, 0, 0, tzinfo=dt.UTC)


def answer(**headers: str) -> httpx.Response:
    return httpx.Response(429, headers=headers)


def wait(response: httpx.Response) -> float | None:
    return retry_after_seconds(response, lambda: OUR_NOW)


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("7", 7.0), (" 2.5 ", 2.5)])
def test_delta_seconds(value: str, seconds: float) -> None:
    assert wait(answer(**{"Retry-After": value})) == seconds


def test_an_http_date_is_measured_from_our_clock_without_a_date_header() -> None:
    assert wait(answer(**{"Retry-After": "Fri, 20 Nov 2026 08:00:30 GMT"})) == 30.0


def test_an_http_date_is_measured_from_the_answers_date_header() -> None:
    # The source's clock runs 100 s ahead of ours: it still means "in 30 s".
    headers = {
        "Retry-After": "Fri, 20 Nov 2026 08:02:10 GMT",
        "Date": "Fri, 20 Nov 2026 08:01:40 GMT",
    }
    assert wait(answer(**headers)) == 30.0


def test_the_obsolete_date_forms_are_read_too() -> None:
    # RFC 9110 5.6.7: recipients accept RFC 850 and asctime dates.
    assert wait(answer(**{"Retry-After": "Friday, 20-Nov-26 08:00:10 GMT"})) == 10.0
    assert wait(answer(**{"Retry-After": "Fri Nov 20 08:00:20 2026"})) == 20.0


def test_a_date_already_past_means_at_once() -> None:
    assert wait(answer(**{"Retry-After": "Fri, 20 Nov 2026 07:59:00 GMT"})) == 0.0


def test_an_unreadable_date_header_falls_back_to_our_clock() -> None:
    headers = {"Retry-After": "Fri, 20 Nov 2026 08:00:05 GMT", "Date": "yesterday"}
    assert wait(answer(**headers)) == 5.0


@pytest.mark.parametrize("value", ["-1", "soon", "", "Fri, 32 Nov 2026 08:00:00 GMT"])
def test_unreadable_values_give_no_wait(value: str) -> None:
    assert wait(answer(**{"Retry-After": value})) is None


def test_no_header_gives_no_wait() -> None:
    assert wait(answer()) is None
