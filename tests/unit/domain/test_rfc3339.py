import datetime as dt

from service.domain.rfc3339 import parse_rfc3339


def test_a_json_mapping_time_is_read_with_its_zone() -> None:
    assert parse_rfc3339("2026-03-01T02:03:04.500Z") == dt.datetime(
        2026, 3, 1, 2, 3, 4, 500000, tzinfo=dt.UTC
    )
    assert parse_rfc3339("2026-03-01T10:03:04+08:00") == dt.datetime(
        2026, 3, 1, 2, 3, 4, tzinfo=dt.UTC
    )


def test_anything_else_is_no_time() -> None:
    for value in ("2026-03-01T02:03:04", "yesterday", "", None, 17):
        assert parse_rfc3339(value) is None
