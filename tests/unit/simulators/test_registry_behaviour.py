import datetime as dt

import pytest

from service.domain.errors import InvalidArgument
from simulators.registry.behaviour import Behaviour, Limits, Outage, Shape, read_behaviour
from simulators.registry.latency import LognormalLatency, UniformLatency

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def _fields(problem: pytest.ExceptionInfo[InvalidArgument]) -> set[str]:
    return {violation.field for violation in problem.value.violations}


def test_a_whole_document_is_read_per_shape() -> None:
    behaviour = read_behaviour(
        {
            "gov": {
                "latency": {"distribution": "uniform", "min_ms": 5, "max_ms": 15},
                "limits": {"concurrency": 32, "rate_per_second": 640},
                "outages": [{"start": "2026-11-23T10:00:00+08:00", "end": "2026-11-23T03:00:00Z"}],
                "publication_lag_seconds": 86400,
            },
            "provider": {
                "latency": {"distribution": "lognormal", "mean_ms": 40, "p99_ms": 200},
                "id_number_fraction": 0.5,
            },
        }
    )
    assert behaviour.gov.latency == UniformLatency(5, 15)
    assert behaviour.gov.limits == Limits(concurrency=32, rate_per_second=640)
    assert behaviour.gov.limits.bucket_size == 640
    assert behaviour.gov.outages == (Outage(T0, T0 + dt.timedelta(hours=1)),)
    assert (
        behaviour.gov.outage_at(T0) is not None
        and behaviour.gov.outage_at(T0 + dt.timedelta(hours=1)) is None
    )
    assert isinstance(behaviour.provider.latency, LognormalLatency)
    assert behaviour.provider.id_number_fraction == 0.5
    assert read_behaviour(behaviour.to_json()) == behaviour


def test_every_problem_is_reported_with_its_path() -> None:
    with pytest.raises(InvalidArgument) as problem:
        read_behaviour(
            {
                "gov": {
                    "error_rate": -0.1,
                    "latency": {"distribution": "uniform", "min_ms": 9, "max_ms": 3},
                    "outages": [
                        {"start": "noon", "end": "2026-11-23T03:00:00Z"},
                        {"start": "2026-11-23T03:00:00Z", "end": "2026-11-23T02:00:00Z"},
                    ],
                    "id_number_fraction": 0.5,
                    "hold": "yes",
                },
                "provider": {
                    "limits": {"burst": 0, "speed": 1},
                    "latency": {"distribution": "gamma"},
                },
                "sms": {},
            }
        )
    assert _fields(problem) == {
        "gov.error_rate", "gov.latency.max_ms", "gov.outages[0].start", "gov.outages[1].end",
        "gov.id_number_fraction", "gov.hold", "provider.limits.burst", "provider.limits.speed",
        "provider.latency.distribution", "sms",
    }  # fmt: skip


def test_a_patch_replaces_the_fields_it_names_whole() -> None:
    behaviour = read_behaviour(
        {"gov": {"limits": {"concurrency": 2, "rate_per_second": 5}, "error_rate": 0.1}}
    )
    patched = behaviour.patched({"gov": {"limits": {"concurrency": 4}}, "provider": {"hold": True}})
    assert patched.gov.limits == Limits(concurrency=4)
    assert patched.gov.error_rate == 0.1
    assert patched.of(Shape.PROVIDER).hold
    with pytest.raises(InvalidArgument):
        behaviour.patched({"gov": {"limits": {"concurrency": "many"}}})
    with pytest.raises(InvalidArgument):
        behaviour.patched([])  # type: ignore[arg-type]
    assert Behaviour().patched({}) == Behaviour()
