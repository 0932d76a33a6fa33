import datetime as dt

from simulators.registry.wording import china_time, gov_status, parse_time, provider_status, rfc3339


def test_statuses_in_each_shapes_wording() -> None:
    assert gov_status("in_business") == "存续（在营、开业、在册）"
    assert provider_status("in_business") == "存续"
    assert gov_status("revoked") == "吊销，未注销" and provider_status("revoked") == "吊销"
    assert gov_status("吊销") == "吊销"  # the registry's own wording is kept as written
    assert provider_status("存续（在营、开业、在册）") == "存续"
    assert gov_status("发光") == "发光"


def test_times() -> None:
    when = dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)
    assert rfc3339(when) == "2026-11-20T00:00:00Z"
    assert china_time(when) == "2026-11-20 08:00:00"
    assert parse_time("2026-11-20T08:00:00+08:00") == when
    assert (
        parse_time("2026-11-20T08:00:00") is None
        and parse_time("noon") is None
        and parse_time(5) is None
    )
