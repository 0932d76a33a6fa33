"""How each shape behaves: latency, injected errors, outage windows, contracted limits,
publication lag. Read from JSON (a settings file, --set flags, POST /_sim/settings) with
the service's document reader: every problem is reported with its path, unknown keys are
refused, and a document that is refused changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from service.domain.documents import DocumentFields, refuse_if_invalid
from service.domain.errors import FieldViolation
from simulators.registry.latency import (
    NO_LATENCY,
    FixedLatency,
    Latency,
    LognormalLatency,
    UniformLatency,
)
from simulators.registry.wording import parse_time

MAX_MS = 600_000.0
MAX_LAG_SECONDS = 10 * 365 * 86_400
MAX_OUTAGES = 100


class Shape(StrEnum):
    GOV = "gov"
    PROVIDER = "provider"


class Distribution(StrEnum):
    FIXED = "fixed"
    UNIFORM = "uniform"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True)
class Outage:
    start: dt.datetime
    end: dt.datetime

    def covers(self, when: dt.datetime) -> bool:
        return self.start <= when < self.end


@dataclass(frozen=True)
class Limits:
    """What a client has contracted for; None means no limit."""

    concurrency: int | None = None
    rate_per_second: float | None = None
    # How many requests may come at once before the rate holds them back; default: one
    # second's worth (at least one).
    burst: int | None = None
    retry_after_seconds: int = 1

    @property
    def bucket_size(self) -> float:
        if self.burst is not None:
            return float(self.burst)
        return max(1.0, self.rate_per_second or 1.0)


@dataclass(frozen=True)
class ShapeBehaviour:
    latency: Latency = NO_LATENCY
    # Fractions of admitted requests answered with the shape's failure (gov 500, provider
    # 502/5001) and with unavailable (503; provider code 5000).
    error_rate: float = 0.0
    unavailable_rate: float = 0.0
    outages: tuple[Outage, ...] = ()
    limits: Limits = field(default_factory=Limits)
    publication_lag_seconds: float = 0.0
    # While true, admitted requests wait (in flight) until it is set false: lets a test
    # hold requests in flight without racing a timer.
    hold: bool = False
    # Provider only: the fraction of enterprises whose ID number the provider returns, and
    # how far X-Timestamp may be from the simulator clock.
    id_number_fraction: float = 0.3
    timestamp_tolerance_seconds: int = 300

    def outage_at(self, when: dt.datetime) -> Outage | None:
        return next((outage for outage in self.outages if outage.covers(when)), None)

    def to_json(self, shape: Shape) -> dict[str, Any]:
        document: dict[str, Any] = {
            "latency": self.latency.to_json(),
            "error_rate": self.error_rate,
            "unavailable_rate": self.unavailable_rate,
            "outages": [
                {"start": o.start.isoformat(), "end": o.end.isoformat()} for o in self.outages
            ],
            "limits": {
                key: value
                for key, value in (
                    ("concurrency", self.limits.concurrency),
                    ("rate_per_second", self.limits.rate_per_second),
                    ("burst", self.limits.burst),
                    ("retry_after_seconds", self.limits.retry_after_seconds),
                )
                if value is not None
            },
            "publication_lag_seconds": self.publication_lag_seconds,
            "hold": self.hold,
        }
        if shape is Shape.PROVIDER:
            document["id_number_fraction"] = self.id_number_fraction
            document["timestamp_tolerance_seconds"] = self.timestamp_tolerance_seconds
        return document


@dataclass(frozen=True)
class Behaviour:
    gov: ShapeBehaviour = field(default_factory=ShapeBehaviour)
    provider: ShapeBehaviour = field(default_factory=ShapeBehaviour)

    def of(self, shape: Shape) -> ShapeBehaviour:
        return self.gov if shape is Shape.GOV else self.provider

    def to_json(self) -> dict[str, Any]:
        return {shape.value: self.of(shape).to_json(shape) for shape in Shape}

    def patched(self, patch: Mapping[str, Any]) -> Behaviour:
        """This behaviour with the fields a patch names replaced whole (a latency, the
        outage list, the limits object); anything the patch does not name is kept."""
        if not isinstance(patch, Mapping):
            refuse_if_invalid(
                [FieldViolation("", "must be an object", "OBJECT_INVALID")], "settings"
            )
        merged = self.to_json()
        for key, fields in patch.items():
            if key in merged and isinstance(fields, Mapping):
                merged[key] = {**merged[key], **fields}
            else:
                merged[key] = fields
        return read_behaviour(merged)


def read_behaviour(raw: Mapping[str, Any]) -> Behaviour:
    """A whole settings document; raises InvalidArgument listing every problem."""
    violations: list[FieldViolation] = []
    document = DocumentFields(raw, "", violations)
    shapes = {}
    for shape in Shape:
        section = document.section(shape.value, required=False)
        shapes[shape] = ShapeBehaviour() if section is None else _shape(section, shape)
    document.refuse_unread("is not a shape (gov, provider)", "FIELD_UNKNOWN")
    refuse_if_invalid(violations, "settings")
    return Behaviour(gov=shapes[Shape.GOV], provider=shapes[Shape.PROVIDER])


def _shape(fields: DocumentFields, shape: Shape) -> ShapeBehaviour:
    behaviour = ShapeBehaviour()
    latency = fields.section("latency", required=False)
    lag = fields.number("publication_lag_seconds", 0, MAX_LAG_SECONDS, required=False)
    hold = fields.get("hold", required=False)
    if hold is not None and not isinstance(hold, bool):
        fields.add("hold", "must be true or false", "BOOLEAN_INVALID")
        hold = None
    limits = fields.section("limits", required=False)
    behaviour = replace(
        behaviour,
        latency=NO_LATENCY if latency is None else _latency(latency),
        error_rate=_fraction(fields, "error_rate", behaviour.error_rate),
        unavailable_rate=_fraction(fields, "unavailable_rate", behaviour.unavailable_rate),
        outages=_outages(fields),
        limits=Limits() if limits is None else _limits(limits),
        publication_lag_seconds=behaviour.publication_lag_seconds if lag is None else lag,
        hold=bool(hold),
    )
    if shape is Shape.PROVIDER:
        tolerance = fields.whole_number(
            "timestamp_tolerance_seconds", 0, MAX_LAG_SECONDS, required=False
        )
        behaviour = replace(
            behaviour,
            id_number_fraction=_fraction(
                fields, "id_number_fraction", behaviour.id_number_fraction
            ),
            timestamp_tolerance_seconds=(
                behaviour.timestamp_tolerance_seconds if tolerance is None else tolerance
            ),
        )
    fields.refuse_unread("is not a setting of this shape", "FIELD_UNKNOWN")
    return behaviour


def _fraction(fields: DocumentFields, name: str, default: float) -> float:
    value = fields.number(name, 0, 1, required=False)
    return default if value is None else value


def _latency(fields: DocumentFields) -> Latency:
    distribution = fields.choice("distribution", Distribution, required=True)
    latency: Latency = NO_LATENCY
    if distribution is Distribution.FIXED:
        latency = FixedLatency(fields.number("ms", 0, MAX_MS) or 0.0)
    elif distribution is Distribution.UNIFORM:
        low, high = fields.number("min_ms", 0, MAX_MS), fields.number("max_ms", 0, MAX_MS)
        if low is not None and high is not None:
            if high < low:
                fields.add("max_ms", "must not be below min_ms", "RANGE_INVALID")
            else:
                latency = UniformLatency(low, high)
    elif distribution is Distribution.LOGNORMAL:
        mean = fields.number("mean_ms", 0, MAX_MS, above_low=True)
        p99 = fields.number("p99_ms", 0, MAX_MS, above_low=True)
        if mean is not None and p99 is not None:
            try:
                latency = LognormalLatency.of(mean, p99)
            except ValueError as problem:
                fields.add("p99_ms", str(problem), "RANGE_INVALID")
    fields.refuse_unread("is not a field of this latency distribution", "FIELD_UNKNOWN")
    return latency


def _limits(fields: DocumentFields) -> Limits:
    limits = Limits(
        concurrency=fields.whole_number("concurrency", 1, 100_000, required=False),
        rate_per_second=fields.number("rate_per_second", 0, 1e6, above_low=True, required=False),
        burst=fields.whole_number("burst", 1, 1_000_000, required=False),
        retry_after_seconds=fields.whole_number("retry_after_seconds", 1, 3600, required=False)
        or 1,
    )
    fields.refuse_unread("is not a limit", "FIELD_UNKNOWN")
    return limits


def _outages(fields: DocumentFields) -> tuple[Outage, ...]:
    items = fields.items("outages", required=False)
    if items is None:
        return ()
    if len(items) > MAX_OUTAGES:
        fields.add("outages", f"at most {MAX_OUTAGES} windows", "LIST_TOO_LONG")
        return ()
    outages = []
    for path, item in items:
        if not isinstance(item, Mapping):
            fields.add(path, "must be an object with start and end", "OBJECT_INVALID")
            continue
        window = DocumentFields(item, fields.at(path), fields.violations)
        start, end = read_time(window, "start"), read_time(window, "end")
        window.refuse_unread("is not a field of an outage window", "FIELD_UNKNOWN")
        if start is not None and end is not None:
            if end <= start:
                window.add("end", "must be after start", "RANGE_INVALID")
            else:
                outages.append(Outage(start, end))
    return tuple(outages)


def read_time(fields: DocumentFields, name: str, *, required: bool = True) -> dt.datetime | None:
    """An RFC 3339 time with its offset."""
    value = fields.text(name, 64, required=required)
    if value is None:
        return None
    when = parse_time(value)
    if when is None:
        fields.add(name, "must be an RFC 3339 time with an offset", "TIME_INVALID")
    return when
