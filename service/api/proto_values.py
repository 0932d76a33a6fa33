"""Proto forms of values every message uses: dates, times, terms, statuses."""

from __future__ import annotations

import datetime as dt

from google.protobuf import timestamp_pb2
from google.type import date_pb2
from integrity.v1 import licence_pb2

from service.domain.licence import LicenceTerm, RegistrationStatus

_STATUSES: dict[RegistrationStatus, licence_pb2.RegistrationStatus.ValueType] = {
    status: licence_pb2.RegistrationStatus.Value(f"REGISTRATION_STATUS_{status.name}")
    for status in RegistrationStatus
    if status is not RegistrationStatus.UNKNOWN
}


def date_out(value: dt.date | None) -> date_pb2.Date | None:
    if value is None:
        return None
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def timestamp_out(value: dt.datetime) -> timestamp_pb2.Timestamp:
    """The same Timestamp as Timestamp.FromDatetime (a naive value counts as UTC), by
    integer arithmetic on the difference from the epoch: FromDatetime costs several times
    as much, and every eligibility answer carries one."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    since = value - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000
    )


def timestamp_in(message: timestamp_pb2.Timestamp) -> dt.datetime:
    return message.ToDatetime(tzinfo=dt.UTC)


def term_out(term: LicenceTerm) -> licence_pb2.LicenceTerm:
    return licence_pb2.LicenceTerm(
        start_date=date_out(term.start), end_date=date_out(term.end), open_ended=term.open_ended
    )


def status_out(status: RegistrationStatus) -> licence_pb2.RegistrationStatus.ValueType:
    return _STATUSES.get(status, licence_pb2.REGISTRATION_STATUS_UNSPECIFIED)
