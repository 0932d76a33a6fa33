"""The enterprises the simulator starts with: synthetic ones, or a registry snapshot file
(the format ops import), and changes scheduled among them at random."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from service.adapters.registry_files import read_registry_file
from service.demo.synthetic import generate_registry_records
from service.domain.identifiers.uscc import normalise_uscc
from service.domain.licence import china_today
from service.domain.registry_rows import RowRejected
from simulators.registry.changes import (
    check_row,
    representative_change,
    status_change,
    term_change,
)
from simulators.registry.records import RecordStore, Row, ScheduledChange

_NEW_STATUSES = ("cancelled", "revoked", "suspended", "in_liquidation", "moved_out")
_TERM_YEARS = (10, 20, 30)


def normalise_row(raw: Mapping[str, Any]) -> Row:
    """A row as the simulator keeps it: the legal representative nested (CSV has it flat),
    the code in its canonical form."""
    row = dict(raw)
    if not isinstance(row.get("legal_representative"), Mapping):
        row["legal_representative"] = {
            "name": row.pop("legal_representative_name", None),
            "id_number": row.pop("legal_representative_id_number", None) or None,
        }
    if isinstance(row.get("uscc"), str):
        row["uscc"] = normalise_uscc(row["uscc"])
    return row


def synthetic_rows(count: int, seed: int, now: dt.datetime) -> list[Row]:
    return list(generate_registry_records(count, seed, as_of=china_today(now)))


def file_rows(path: Path, now: dt.datetime) -> tuple[list[Row], list[str]]:
    """The rows the service's import would take, and why each other one was refused (by
    line number, never repeating the row's content)."""
    rows, refused = [], []
    for line, parsed in read_registry_file(path):
        if isinstance(parsed, RowRejected):
            refused.append(f"line {line}: {parsed}")
            continue
        row = normalise_row(parsed)
        try:
            check_row(row, now)
        except RowRejected as problem:
            refused.append(f"line {line}: {problem}")
            continue
        rows.append(row)
    return rows, refused


def schedule_random_changes(
    store: RecordStore,
    count: int,
    start: dt.datetime,
    within: dt.timedelta,
    representatives: Iterable[Mapping[str, Any]],
    seed: int,
) -> int:
    """``count`` changes to enterprises drawn at random, at times spread over ``within``
    from ``start``. New legal representatives come from ``representatives``."""
    if count <= 0 or not store.enterprises:
        return 0
    rng = random.Random(seed)  # noqa: S311  (synthetic data, reproducible)
    codes = sorted(store.enterprises)
    people = iter(representatives)
    made = 0
    for _ in range(count):
        uscc = rng.choice(codes)
        at = start + within * rng.random()
        enterprise = store.enterprises[uscc]
        truth = enterprise.truth_at(at)
        kind = rng.random()
        change: ScheduledChange
        if kind < 0.4:
            now_in_business = truth.get("status") == "in_business"
            change = status_change(
                at, rng.choice(_NEW_STATUSES) if now_in_business else "in_business"
            )
        elif kind < 0.7:
            begin = at.date()
            years = rng.choice(_TERM_YEARS)
            end = None if rng.random() < 0.5 else begin.replace(year=begin.year + years, day=1)
            change = term_change(at, begin.isoformat(), None if end is None else end.isoformat())
        else:
            person = next(people, None)
            if person is None:
                continue
            before = (truth.get("legal_representative") or {}).get("name", "")
            change = representative_change(at, before, person["name"], person.get("id_number"))
        store.schedule(uscc, change)
        made += 1
    return made
