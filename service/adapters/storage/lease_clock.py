"""Batch leases on the database's clock, so that workers on machines whose clocks disagree
never take one another's live leases.

Every lease time a worker writes or compares is its service clock's reading moved by how
far this machine's clock is from the database's, measured in the statement itself:
`t + (statement_timestamp() - :machine_now)`. In production the service clock is the
machine's clock, so the two cancel and a lease time is the database's clock: a worker whose
clock runs minutes fast takes no live lease, and one that runs slow keeps no dead lease
alive. A test's clock keeps its own offset from the machine's clock, so a test (or a worker
started on a test's clock, `--test-clock-start`) that moves its clock past a lease still
sees the lease lapse, exactly as far as it moved.

SQLite is a file on one machine: its workers share that machine's clock, and lease times
are used as given. Everything else a batch records (finish times, next attempt times) is
on the service clock, as the rest of the service is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import ColumnElement, DateTime, func, literal, type_coerce

from service.adapters.storage.types import UtcDateTime

MachineClock = Callable[[], dt.datetime]


def machine_clock() -> dt.datetime:
    """This machine's clock, which the service clock is in production."""
    return dt.datetime.now(dt.UTC)


def on_database_clock(
    dialect: str, when: dt.datetime, machine_now: MachineClock = machine_clock
) -> ColumnElement[dt.datetime]:
    """`when` (a service clock reading) as the database's clock would read it."""
    if dialect != "postgresql":
        return literal(when, UtcDateTime)
    skew = func.statement_timestamp() - literal(machine_now(), DateTime(timezone=True))
    return type_coerce(literal(when, DateTime(timezone=True)) + skew, UtcDateTime)
