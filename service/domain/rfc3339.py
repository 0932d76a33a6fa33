"""Times as the protobuf JSON mapping writes them (RFC 3339)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def parse_rfc3339(value: Any) -> dt.datetime | None:
    """The moment an RFC 3339 string names, or None for anything else, a time without its
    zone included (it would be read in whatever zone the reader happens to run in)."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
