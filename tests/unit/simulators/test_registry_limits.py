from simulators.registry.behaviour import Limits
from simulators.registry.limits import Admission, TokenBucket
from simulators.registry.stats import ShapeStats, stats_document


def test_a_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, size=2.0, tokens=2.0, updated=100.0)
    assert [bucket.take(100.0), bucket.take(100.0)] == [0.0, 0.0]
    assert bucket.take(100.0) == 0.5
    assert bucket.take(100.25) == 0.25
    assert bucket.take(100.5) == 0.0
    assert bucket.take(110.0) == 0.0 and bucket.tokens == 1.0  # never more than its size


def test_admission_refuses_beyond_concurrency_and_counts_per_client() -> None:
    stats = ShapeStats()
    admission = Admission(stats, Limits(concurrency=2, retry_after_seconds=4))
    assert [admission.admit("a"), admission.admit("a"), admission.admit("a")] == [None, None, 4]
    assert admission.admit("b") is None
    admission.leave("a")
    assert admission.admit("a") is None
    document = stats_document({"gov": stats})
    assert document["limit_violations"] == 1
    assert document["clients"]["gov:a"] == {
        "requests": 4, "in_flight": 2, "in_flight_max": 2, "limit_violations": 1,
        "concurrency_violations": 1, "rate_violations": 0,
    }  # fmt: skip
    assert document["clients"]["gov:b"]["limit_violations"] == 0
    assert document["shapes"]["gov"]["in_flight_max"] == 3


def test_admission_refuses_beyond_the_rate_with_the_wait() -> None:
    stats = ShapeStats()
    admission = Admission(stats, Limits(rate_per_second=0.01, burst=1))
    assert admission.admit("a") is None
    retry_after = admission.admit("a")
    assert retry_after is not None and 99 <= retry_after <= 100
    assert stats.client("a").rate_violations == 1
    admission.set_limits(Limits())
    assert admission.admit("a") is None


def test_resetting_counts_keeps_what_is_in_flight() -> None:
    stats = ShapeStats()
    admission = Admission(stats, Limits(concurrency=1))
    admission.admit("a")
    admission.admit("a")
    stats.answered(429)
    stats.reset()
    assert stats.to_json()["limit_violations"] == 0 and stats.in_flight == 1
    admission.leave("a")
    assert stats.in_flight == 0 and stats.client("a").in_flight == 0
