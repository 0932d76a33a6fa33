"""Changes the registry makes to an enterprise over time: a new status, a renewed licence
term, a new legal representative. Each is a ScheduledChange on the simulator clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from service.domain.licence import parse_registration_status
from service.domain.registry_rows import RowRejected, parse_registry_row
from simulators.registry.records import (
    LEGAL_REPRESENTATIVE,
    STATUS,
    TERM,
    Enterprise,
    Row,
    ScheduledChange,
)
from simulators.registry.wording import china_date, parse_time

_REPRESENTATIVE_CHANGE = "法定代表人变更"
_KEYS = frozenset({"at", "status", "term", "legal_representative"})


def status_change(at: dt.datetime, status: str) -> ScheduledChange:
    return ScheduledChange(at, (STATUS,), {"status": status})


def term_change(at: dt.datetime, start: str | None, end: str | None) -> ScheduledChange:
    """A renewal: the licence's new term (end None: open-ended)."""
    return ScheduledChange(at, (TERM,), {"term_start": start, "term_end": end})


def representative_change(
    at: dt.datetime, before: str, name: str, id_number: str | None
) -> ScheduledChange:
    history = {
        "date": china_date(at),
        "item": _REPRESENTATIVE_CHANGE,
        "before": before,
        "after": name,
    }
    return ScheduledChange(
        at,
        (LEGAL_REPRESENTATIVE,),
        {"legal_representative": {"name": name, "id_number": id_number}},
        history,
    )


def read_change(body: Any, enterprise: Enterprise, now: dt.datetime) -> ScheduledChange:
    """A change as a test asks for it:
    {"at": time?, "status": ..., "term": {"start", "end"}, "legal_representative": {...}}.
    Raises RowRejected saying what is wrong; the record with the change applied must still
    be a valid registry row."""
    if not isinstance(body, Mapping):
        raise RowRejected("a change must be a JSON object")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise RowRejected(f"unknown fields: {', '.join(unknown)}")
    at = _time(body.get("at")) or now
    items: list[str] = []
    fields: dict[str, Any] = {}
    history = None
    if body.get("status") is not None:
        if not isinstance(body["status"], str) or parse_registration_status(body["status"]) is None:
            raise RowRejected("status is not a registration status")
        items.append(STATUS)
        fields["status"] = body["status"]
    if body.get("term") is not None:
        term = body["term"]
        if not isinstance(term, Mapping) or set(term) - {"start", "end"}:
            raise RowRejected('term must be {"start": date, "end": date or null}')
        items.append(TERM)
        fields.update(term_start=term.get("start"), term_end=term.get("end"))
    if body.get("legal_representative") is not None:
        person = body["legal_representative"]
        if not isinstance(person, Mapping) or set(person) - {"name", "id_number"}:
            raise RowRejected('legal_representative must be {"name": ..., "id_number": ...}')
        name = person.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RowRejected("legal_representative.name is missing")
        before = (enterprise.truth_at(at).get("legal_representative") or {}).get("name", "")
        change = representative_change(at, before, name, person.get("id_number"))
        items.append(LEGAL_REPRESENTATIVE)
        fields.update(change.fields)
        history = change.history
    if not items:
        raise RowRejected("a change needs status, term or legal_representative")
    check_row({**enterprise.truth_at(at), **fields}, at)
    return ScheduledChange(at, tuple(items), fields, history)


def check_row(row: Row, now: dt.datetime) -> None:
    """Only rows the service's own import would take: then every shape can show them."""
    parse_registry_row(row, now.date())


def _time(raw: Any) -> dt.datetime | None:
    if raw is None:
        return None
    when = parse_time(raw)
    if when is None:
        raise RowRejected("at must be an RFC 3339 time with an offset")
    return when
