"""Proto forms of times: the fast Timestamp conversion agrees with protobuf's own."""

from __future__ import annotations

import datetime as dt

from google.protobuf import timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from service.api.proto_values import timestamp_in, timestamp_out

ZONES = st.sampled_from(
    [
        None,
        dt.UTC,
        dt.timezone(dt.timedelta(hours=8)),
        dt.timezone(-dt.timedelta(hours=5, minutes=30)),
    ]
)


@given(
    moment=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    zone=ZONES,
)
def test_timestamp_out_matches_from_datetime(moment: dt.datetime, zone: dt.tzinfo | None) -> None:
    value = moment.replace(tzinfo=zone)
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(value)
    assert timestamp_out(value) == expected


def test_timestamps_round_trip_in_utc() -> None:
    value = dt.datetime(2026, 11, 23, 20, 15, 7, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    back = timestamp_in(timestamp_out(value))
    assert back == value and back.tzinfo == dt.UTC
