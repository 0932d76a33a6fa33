from __future__ import annotations

import datetime as dt

import pytest

from service.domain.rate_limits import Limit, LimitClass, RateLimiter, limits_from_document

NOON = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)  # 12:00 in China


def limiter(**limit: float) -> RateLimiter:
    return RateLimiter(
        {
            LimitClass.ANONYMOUS: Limit(
                per_second=limit.get("rate", 1),
                burst=int(limit.get("burst", 2)),
                per_day=limit.get("day"),
            )
        }
    )  # type: ignore[arg-type]


def test_burst_then_wait_for_a_token() -> None:
    gate = limiter(rate=0.5, burst=2)
    assert gate.take(LimitClass.ANONYMOUS, "a", 0.0, NOON) is None
    assert gate.take(LimitClass.ANONYMOUS, "a", 0.0, NOON) is None
    assert gate.take(LimitClass.ANONYMOUS, "a", 0.0, NOON) == pytest.approx(2.0)
    assert gate.take(LimitClass.ANONYMOUS, "a", 1.0, NOON) == pytest.approx(1.0)
    assert gate.take(LimitClass.ANONYMOUS, "a", 2.0, NOON) is None
    assert gate.take(LimitClass.ANONYMOUS, "b", 2.0, NOON) is None  # keys are separate


def test_daily_quota_until_midnight_in_china() -> None:
    gate = limiter(rate=100, burst=100, day=3)
    for second in range(3):
        assert gate.take(LimitClass.ANONYMOUS, "a", float(second), NOON) is None
    assert gate.take(LimitClass.ANONYMOUS, "a", 10.0, NOON) == pytest.approx(12 * 3600)
    tomorrow = NOON + dt.timedelta(hours=12)
    assert gate.take(LimitClass.ANONYMOUS, "a", 20.0, tomorrow) is None


def test_idle_keys_are_forgotten_beyond_the_cap() -> None:
    gate = RateLimiter({LimitClass.ANONYMOUS: Limit(1, 1)}, max_keys=2)
    gate.take(LimitClass.ANONYMOUS, "a", 0.0, NOON)
    gate.take(LimitClass.ANONYMOUS, "b", 0.0, NOON)
    gate.take(LimitClass.ANONYMOUS, "c", 0.0, NOON)
    assert gate.take(LimitClass.ANONYMOUS, "a", 0.0, NOON) is None  # "a" was evicted: full again


def test_configuration_overrides_and_refuses_nonsense() -> None:
    limits = limits_from_document({"anonymous": {"per_second": 2, "burst": 3, "per_day": 9}})
    assert limits[LimitClass.ANONYMOUS] == Limit(2.0, 3, 9)
    assert limits[LimitClass.PLATFORM].burst >= 100
    with pytest.raises(ValueError):
        limits_from_document({"anonymous": {"per_second": 0, "burst": 3}})
    with pytest.raises(ValueError):
        limits_from_document({"robots": {"per_second": 1, "burst": 1}})
