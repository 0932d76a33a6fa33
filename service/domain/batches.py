"""Re-verification batches: which enterprises a batch covers, and the life of its items.

A batch is a durable list of enterprises to re-check, made once from a selection (licences
expiring, registry changes, stale verifications, a file of codes, new judicial entries).
Workers claim its items under leases, re-check each enterprise and record what came out.

    batch:  running -> paused -> running ...  -> finished (no item left to work)
                    \\-> cancelled (queued items cancelled; items in flight still finish)
    item:   queued -> leased -> done
                           \\-> queued (the lease expired, or the re-check raised: retried)
                           \\-> failed (it raised on its last attempt)
                           \\-> waiting (the registry could not answer: asked again at its
                                        next attempt time, backing off)
                           \\-> unavailable (the registry could not answer on the last try)
            waiting -> leased (its next attempt time has come)
            queued, waiting -> cancelled (the batch was cancelled)

An item the registry could not answer for keeps the enterprise's decision as it was: it is
not re-verified, so it never counts as done; ops see it as unavailable and start another
batch for those once the registry is back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.domain.errors import FieldViolation, InvalidArgument, InvalidIdentifier
from service.domain.identifiers.uscc import check_uscc, normalise_uscc
from service.domain.licence import CHINA_TZ


class BatchState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    FINISHED = "finished"


class ItemState(StrEnum):
    QUEUED = "queued"
    LEASED = "leased"
    WAITING = "waiting"
    """For the registry: asked again once its next attempt time has come."""
    DONE = "done"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"
    """The registry could not answer on any of the item's tries: not re-verified."""
    CANCELLED = "cancelled"


OPEN_ITEM_STATES = (ItemState.QUEUED, ItemState.LEASED, ItemState.WAITING)
REPORTED_ITEM_STATES = (ItemState.DONE, ItemState.FAILED, ItemState.UNAVAILABLE)
"""Items the report and its CSV list: those whose re-check came to an end."""

MAX_ATTEMPTS = 3
"""Attempts an item gets: a re-check that raises, or a lease that lapses, uses one; the
item then fails (with the error's type, or LeaseLapsed). A registry that cannot answer
uses none of these: see RegistryRetries."""


@dataclass(frozen=True)
class RegistryRetries:
    """How often an item is asked again while the registry cannot answer for it, and when.

    Outages, open breakers and spent budgets last minutes to hours: the waits grow (first,
    first x factor, ...) so a long outage is not asked about on every poll, and the last try
    still comes within a working session of ops."""

    tries: int = 4
    """Tries in all, the first included; after the last the item is unavailable."""
    first_wait: dt.timedelta = dt.timedelta(minutes=2)
    factor: int = 4

    def next_attempt_time(self, now: dt.datetime, tries_made: int) -> dt.datetime | None:
        """When to try again after tries_made unanswered tries; None: no more tries."""
        if tries_made >= self.tries:
            return None
        wait: dt.timedelta = self.first_wait * int(self.factor ** (tries_made - 1))
        return now + wait


NO_VERIFICATION = "no_verification"
"""The outcome shown for an enterprise that has no verification to re-check."""


class SelectionKind(StrEnum):
    EXPIRING_WITHIN = "expiring_within"
    CHANGED_SINCE = "changed_since"
    NOT_VERIFIED_WITHIN = "not_verified_within"
    FILE = "file"
    JUDICIAL_SINCE = "judicial_since"


class ChangeSource(StrEnum):
    SNAPSHOT = "snapshot"
    """The registry snapshot this service imported: records written since the time."""
    FEED = "feed"
    """The registry provider's change feed (GET /v1/changes)."""


@dataclass(frozen=True)
class Selection:
    """What a batch covers, as ops asked for it; stored with the batch as JSON.

    Every kind but FILE covers only enterprises that have a verification (there is nothing
    to re-check otherwise); a file names its enterprises explicitly and each is taken."""

    kind: SelectionKind
    days: int | None = None
    since: dt.datetime | None = None
    source: ChangeSource | None = None
    path: str | None = None
    usccs: tuple[str, ...] = ()
    """FILE only: the codes the file held (not stored in the description: items hold them)."""

    def describe(self) -> dict[str, Any]:
        description: dict[str, Any] = {"kind": self.kind.value}
        if self.days is not None:
            description["days"] = self.days
        if self.since is not None:
            description["since"] = self.since.isoformat()
        if self.source is not None:
            description["source"] = self.source.value
        if self.path is not None:
            description["path"] = self.path
            description["count"] = len(self.usccs)
        return description

    def summary(self) -> str:
        """One line for people: what the batch covers."""
        match self.kind:
            case SelectionKind.EXPIRING_WITHIN:
                return f"licences expiring within {self.days} days"
            case SelectionKind.NOT_VERIFIED_WITHIN:
                return f"not verified within {self.days} days"
            case SelectionKind.CHANGED_SINCE:
                return f"registry records changed since {_iso(self.since)} ({self.source})"
            case SelectionKind.JUDICIAL_SINCE:
                return f"judicial entries imported since {_iso(self.since)}"
            case SelectionKind.FILE:
                return f"{len(self.usccs)} enterprises named in {self.path}"


def _iso(when: dt.datetime | None) -> str:
    return when.isoformat() if when else "?"


def describe_summary(description: Mapping[str, Any]) -> str:
    """The summary of a stored description (one from Selection.describe)."""
    kind = SelectionKind(description["kind"])
    since = description.get("since")
    selection = Selection(
        kind=kind,
        days=description.get("days"),
        since=dt.datetime.fromisoformat(since) if since else None,
        source=ChangeSource(description["source"]) if description.get("source") else None,
        path=description.get("path"),
    )
    if kind is SelectionKind.FILE:
        return f"{description.get('count', 0)} enterprises named in {selection.path}"
    return selection.summary()


def _positive_days(days: int, field: str) -> int:
    if not 0 <= days <= 36_600:
        raise InvalidArgument(
            [FieldViolation(field, "a number of days from 0 to 36600", "BATCH_DAYS_OUT_OF_RANGE")]
        )
    return days


def expiring_within(days: int) -> Selection:
    """Registry licence terms ending from today (China) to today + days, both included."""
    return Selection(SelectionKind.EXPIRING_WITHIN, days=_positive_days(days, "expiring_within"))


def not_verified_within(days: int) -> Selection:
    """Enterprises whose newest verification was made more than days ago."""
    return Selection(
        SelectionKind.NOT_VERIFIED_WITHIN, days=_positive_days(days, "not_verified_within")
    )


def _aware(since: dt.datetime, field: str) -> dt.datetime:
    if since.tzinfo is None:
        raise InvalidArgument(
            [
                FieldViolation(
                    field,
                    "a time with its offset, e.g. 2026-11-01T00:00:00+08:00",
                    "BATCH_TIME_WITHOUT_OFFSET",
                )
            ]
        )
    return since


def changed_since(since: dt.datetime, source: ChangeSource = ChangeSource.SNAPSHOT) -> Selection:
    return Selection(
        SelectionKind.CHANGED_SINCE, since=_aware(since, "changed_since"), source=source
    )


def judicial_since(since: dt.datetime) -> Selection:
    return Selection(SelectionKind.JUDICIAL_SINCE, since=_aware(since, "judicial_since"))


def named_in_file(path: str, lines: Iterable[str]) -> Selection:
    """One USCC a line; blank lines and lines starting with # are skipped, repeats taken once.

    A file with any bad line creates nothing: InvalidArgument names every bad line (field
    "line N"), so ops fix the file and start again rather than re-verify part of a list and
    lose track of the rest."""
    usccs: dict[str, None] = {}
    violations: list[FieldViolation] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        code = normalise_uscc(text)
        try:
            check_uscc(code)
        except InvalidIdentifier as error:
            violations.append(error.at(f"line {number}"))
            continue
        usccs[code] = None
    if violations:
        raise InvalidArgument(
            violations,
            f"{path}: {len(violations)} bad lines, no batch created",
            reason="BATCH_FILE_INVALID",
        )
    if not usccs:
        raise InvalidArgument(
            [FieldViolation("file", f"{path} names no enterprise", "BATCH_FILE_EMPTY")]
        )
    return Selection(SelectionKind.FILE, path=path, usccs=tuple(usccs))


@dataclass(frozen=True)
class Batch:
    id: str
    selection: Mapping[str, Any]
    state: BatchState
    created_by: str
    create_time: dt.datetime
    finish_time: dt.datetime | None
    item_count: int

    @property
    def summary(self) -> str:
        return describe_summary(self.selection)


@dataclass(frozen=True)
class ClaimedItem:
    id: int
    batch_id: str
    uscc: str
    attempts: int
    """Including this one."""
    unanswered: int = 0
    """Earlier tries the registry could not answer (these count against no attempt)."""

    @property
    def counted_attempts(self) -> int:
        """Attempts used against MAX_ATTEMPTS, this one included."""
        return self.attempts - self.unanswered

    @property
    def recheck_key(self) -> str:
        """The re-check's idempotency key: a retried item cannot apply its effect twice."""
        return f"batch:{self.batch_id}:{self.uscc}"


@dataclass(frozen=True)
class BatchStatus:
    batch: Batch
    by_state: Mapping[ItemState, int]
    by_outcome: Mapping[str, int]
    """Finished items by outcome after the re-check (NO_VERIFICATION when none)."""

    @property
    def open_items(self) -> int:
        return sum(self.by_state.get(state, 0) for state in OPEN_ITEM_STATES)

    @property
    def worked(self) -> int:
        """Items that will not be worked again: done, failed or cancelled."""
        return self.batch.item_count - self.open_items

    next_attempt_time: dt.datetime | None = None
    """The earliest time a waiting item is asked again; None when none waits."""

    @property
    def ended(self) -> bool:
        return self.batch.state in {BatchState.FINISHED, BatchState.CANCELLED} and (
            self.by_state.get(ItemState.LEASED, 0) == 0
        )

    @property
    def drained(self) -> bool:
        """Running with no item left to work: it is finished by whoever sees it first."""
        return self.batch.state is BatchState.RUNNING and self.open_items == 0


@dataclass(frozen=True)
class ItemResult:
    """One finished item, as the report lists it."""

    uscc: str
    state: ItemState
    outcome_before: str | None
    outcome_after: str | None
    reasons: tuple[str, ...]
    level_class_before: str | None
    level_class_after: str | None
    error: str | None
    attempts: int
    finish_time: dt.datetime | None
    unanswered: int = 0
    """Tries the registry could not answer."""

    @property
    def changed(self) -> bool:
        return (
            self.outcome_before != self.outcome_after
            or self.level_class_before != self.level_class_after
        )


@dataclass(frozen=True)
class BatchReport:
    status: BatchStatus
    by_reason: Mapping[str, int]
    changed: tuple[ItemResult, ...]
    """Enterprises whose outcome or level class changed."""
    failed: tuple[ItemResult, ...]
    unavailable: tuple[ItemResult, ...] = ()
    """Enterprises the registry could not answer for: not re-verified."""


def lease_until(now: dt.datetime, lease_seconds: float) -> dt.datetime:
    return now + dt.timedelta(seconds=lease_seconds)


def expiry_window(today: dt.date, days: int) -> tuple[dt.date, dt.date]:
    """The licence end dates an EXPIRING_WITHIN selection covers, both ends included."""
    return today, today + dt.timedelta(days=days)


def parse_since(text: str, field: str) -> dt.datetime:
    """A time as ops type it: ISO 8601 with its offset, or a date alone (midnight in China,
    where registry and licence dates are kept)."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time(), CHINA_TZ)
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            [
                FieldViolation(
                    field,
                    "a date (2026-11-01) or a time with offset (2026-11-01T08:00:00+08:00)",
                    "BATCH_TIME_INVALID",
                )
            ]
        ) from None
    return _aware(when, field)
