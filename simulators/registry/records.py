"""What the simulated registry holds: each enterprise's truth (a registry snapshot row),
changes scheduled on the simulator clock, what each shape publishes and when.

A shape shows an enterprise once it is published there (its registration plus the shape's
publication lag, or an explicit publish_at), and shows each change once the change's time
plus the lag has passed. Per-shape overrides are laid over what the shape shows, so a test
can make the sources disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulators.registry.behaviour import Shape
from simulators.registry.wording import parse_time

Row = dict[str, Any]

# What the change feed says changed.
STATUS, TERM, LEGAL_REPRESENTATIVE, PUBLISHED = (
    "status",
    "term",
    "legal_representative",
    "published",
)
_ITEM_FIELDS = {
    STATUS: ("status",),
    TERM: ("term_start", "term_end"),
    LEGAL_REPRESENTATIVE: ("legal_representative",),
}


@dataclass(frozen=True)
class ScheduledChange:
    at: dt.datetime
    items: tuple[str, ...]
    fields: Mapping[str, Any]
    # An entry for the record's own change history ("法定代表人变更"), if the change makes one.
    history: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "items": list(self.items), "fields": dict(self.fields)}


@dataclass
class Enterprise:
    row: Row
    # When it was registered, for the publication lag; None: published before the
    # simulator's data was captured, so shown from the start.
    registered_at: dt.datetime | None
    # The snapshot time of the row as first shown.
    captured_at: dt.datetime
    publish_at: dict[Shape, dt.datetime] = field(default_factory=dict)
    overrides: dict[Shape, Row] = field(default_factory=dict)
    absent_from: frozenset[Shape] = frozenset()
    # None: decided by the provider's id_number_fraction.
    provider_returns_id_number: bool | None = None
    changes: list[ScheduledChange] = field(default_factory=list)

    def published_at(self, shape: Shape, lag: dt.timedelta) -> dt.datetime | None:
        if shape in self.absent_from:
            return None
        explicit = self.publish_at.get(shape)
        if explicit is not None:
            return explicit
        return self.captured_at if self.registered_at is None else self.registered_at + lag

    def truth_at(self, when: dt.datetime) -> Row:
        """The row with every change made by ``when`` (no lag: the registry's own truth)."""
        return _apply(self.row, (c for c in self.changes if c.at <= when))


@dataclass(frozen=True)
class View:
    """What one shape shows of an enterprise at one time."""

    row: Row
    published_at: dt.datetime


@dataclass(frozen=True)
class FeedEntry:
    uscc: str
    changed_at: dt.datetime
    items: tuple[str, ...]
    seq: int


@dataclass(frozen=True)
class _FeedEvent:
    seq: int
    uscc: str
    at: dt.datetime
    items: tuple[str, ...]
    # A change shows in the feed when it is published: its time plus the lag, unless the
    # time was given as the publication time itself.
    lagged: bool


class RecordStore:
    def __init__(self, captured_at: dt.datetime) -> None:
        self.captured_at = captured_at
        self.enterprises: dict[str, Enterprise] = {}
        self._feed: list[_FeedEvent] = []
        self._feed_seq = 0

    def __len__(self) -> int:
        return len(self.enterprises)

    def load(self, rows: Iterable[Row]) -> None:
        """Rows already published when the simulator starts."""
        for row in rows:
            self.enterprises[row["uscc"]] = Enterprise(
                row, None, _snapshot_time(row) or self.captured_at
            )

    def view(self, uscc: str, shape: Shape, now: dt.datetime, lag_seconds: float) -> View | None:
        enterprise = self.enterprises.get(uscc)
        if enterprise is None:
            return None
        lag = dt.timedelta(seconds=lag_seconds)
        published = enterprise.published_at(shape, lag)
        if published is None or published > now:
            return None
        shown = [c for c in enterprise.changes if c.at + lag <= now]
        row = _apply(enterprise.row, shown)
        if shown:
            published = max(published, shown[-1].at + lag)
        override = enterprise.overrides.get(shape)
        if override:
            row = {**row, **override}
        return View(row, published)

    def put(self, enterprise: Enterprise, now: dt.datetime) -> bool:
        """Add or replace; True when it replaced one. A replacement shows at once (unless
        its publish_at says otherwise) and drops the old one's changes still to come."""
        uscc = enterprise.row["uscc"]
        old = self.enterprises.get(uscc)
        self.enterprises[uscc] = enterprise
        explicit = enterprise.publish_at.get(Shape.GOV)
        if old is None:
            at, lagged = explicit or enterprise.registered_at or now, explicit is None
            self._add_feed_event(uscc, at, (PUBLISHED,), lagged=lagged)
            return False
        self._feed = [e for e in self._feed if e.uscc != uscc or e.at <= now]
        items = differing_items(old.truth_at(now), enterprise.row)
        if items:
            self._add_feed_event(uscc, max(now, explicit or now), items, lagged=False)
        return True

    def schedule(self, uscc: str, change: ScheduledChange) -> None:
        enterprise = self.enterprises[uscc]
        enterprise.changes.append(change)
        enterprise.changes.sort(key=lambda c: c.at)
        self._add_feed_event(uscc, change.at, change.items, lagged=True)

    def feed(
        self,
        since: dt.datetime,
        after: tuple[dt.datetime, int] | None,
        limit: int,
        now: dt.datetime,
        lag_seconds: float,
    ) -> tuple[list[FeedEntry], bool]:
        """Entries published from ``since`` (inclusive) up to now, oldest first, after the
        cursor position; and whether more are there now."""
        lag = dt.timedelta(seconds=lag_seconds)
        entries = []
        for event in self._feed:
            enterprise = self.enterprises.get(event.uscc)
            if enterprise is None or Shape.GOV in enterprise.absent_from:
                continue
            changed_at = event.at + lag if event.lagged else event.at
            if not since <= changed_at <= now:
                continue
            if after is not None and (changed_at, event.seq) <= after:
                continue
            entries.append(FeedEntry(event.uscc, changed_at, event.items, event.seq))
        entries.sort(key=lambda e: (e.changed_at, e.seq))
        return entries[:limit], len(entries) > limit

    def _add_feed_event(
        self, uscc: str, at: dt.datetime, items: tuple[str, ...], *, lagged: bool
    ) -> None:
        self._feed_seq += 1
        self._feed.append(_FeedEvent(self._feed_seq, uscc, at, items, lagged))


def differing_items(before: Row, after: Row) -> tuple[str, ...]:
    return tuple(
        item
        for item, keys in _ITEM_FIELDS.items()
        if any(before.get(key) != after.get(key) for key in keys)
    )


def _apply(row: Row, changes: Iterable[ScheduledChange]) -> Row:
    result = row
    for change in changes:
        if result is row:
            result = dict(row)
        result.update(change.fields)
        if change.history is not None:
            result["changes"] = [*(result.get("changes") or ()), dict(change.history)]
    return result


def _snapshot_time(row: Row) -> dt.datetime | None:
    return parse_time(row.get("snapshot_time"))
