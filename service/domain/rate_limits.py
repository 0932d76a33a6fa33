"""Per-caller rate limits and daily quotas: no automated scraping of archives.

A token bucket per key (a platform; a gateway's end user, anonymous viewers by client
address) smooths bursts; a daily quota caps the total. Anonymous viewers get the
strictest limits. Time is passed in, so the rules are testable without waiting.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.domain.licence import CHINA_TZ, china_today


class LimitClass(StrEnum):
    PLATFORM = "platform"
    ANONYMOUS = "anonymous"
    LOGGED_IN = "logged_in"
    MERCHANT = "merchant"
    GATEWAY = "gateway"


@dataclass(frozen=True)
class Limit:
    per_second: float
    burst: int
    # None: no daily cap.
    per_day: int | None = None


DEFAULT_LIMITS: Mapping[LimitClass, Limit] = {
    LimitClass.PLATFORM: Limit(per_second=500, burst=1000),
    LimitClass.GATEWAY: Limit(per_second=500, burst=1000),
    LimitClass.MERCHANT: Limit(per_second=5, burst=20, per_day=5000),
    LimitClass.LOGGED_IN: Limit(per_second=3, burst=10, per_day=1000),
    LimitClass.ANONYMOUS: Limit(per_second=0.5, burst=5, per_day=100),
}


def limits_from_document(document: Mapping[str, Any]) -> dict[LimitClass, Limit]:
    """Defaults overridden by {"anonymous": {"per_second": 1, "burst": 5, "per_day": 50}, ...}."""
    limits = dict(DEFAULT_LIMITS)
    for name, entry in document.items():
        limit_class = LimitClass(name)
        limit = Limit(
            per_second=float(entry["per_second"]),
            burst=int(entry["burst"]),
            per_day=None if entry.get("per_day") is None else int(entry["per_day"]),
        )
        if (
            limit.per_second <= 0
            or limit.burst < 1
            or (limit.per_day is not None and limit.per_day < 1)
        ):
            raise ValueError(f"limit {name} must allow at least one call")
        limits[limit_class] = limit
    return limits


@dataclass
class _Bucket:
    tokens: float
    updated: float
    day: dt.date
    used_today: int


class RateLimiter:
    def __init__(self, limits: Mapping[LimitClass, Limit], *, max_keys: int = 200_000) -> None:
        self._limits = dict(limits)
        self._buckets: OrderedDict[tuple[LimitClass, str], _Bucket] = OrderedDict()
        self._max_keys = max_keys

    def take(
        self, limit_class: LimitClass, key: str, now: float, wall_time: dt.datetime
    ) -> float | None:
        """Spend one call. None when allowed; else the seconds to wait before trying again.

        now: a monotonic clock in seconds, for the bucket. wall_time: for the daily quota,
        which resets at midnight in China.
        """
        today = china_today(wall_time)
        limit = self._limits[limit_class]
        bucket = self._buckets.get((limit_class, key))
        if bucket is None:
            bucket = _Bucket(float(limit.burst), now, today, 0)
            self._buckets[(limit_class, key)] = bucket
            if len(self._buckets) > self._max_keys:
                # Forget the longest-idle key: a full bucket is what it would have again.
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end((limit_class, key))
        bucket.tokens = min(
            float(limit.burst), bucket.tokens + (now - bucket.updated) * limit.per_second
        )
        bucket.updated = now
        if bucket.day != today:
            bucket.day, bucket.used_today = today, 0
        if limit.per_day is not None and bucket.used_today >= limit.per_day:
            return _seconds_until_tomorrow(wall_time)
        if bucket.tokens < 1:
            return math.ceil((1 - bucket.tokens) / limit.per_second * 1000) / 1000
        bucket.tokens -= 1
        bucket.used_today += 1
        return None


def _seconds_until_tomorrow(wall_time: dt.datetime) -> float:
    local = wall_time.astimezone(CHINA_TZ)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), CHINA_TZ)
    return max((midnight - local).total_seconds(), 1.0)
