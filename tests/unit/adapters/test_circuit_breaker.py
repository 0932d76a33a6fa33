"""The circuit breaker's states on a fake clock: pure logic."""

from __future__ import annotations

from service.adapters.registry_http.breaker import BreakerPolicy, BreakerState, CircuitBreaker


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(**policy: float) -> tuple[CircuitBreaker, FakeMonotonic]:
    clock = FakeMonotonic()
    defaults: dict[str, float] = {"consecutive_failures": 3, "window": 10, "cool_down_seconds": 30}
    defaults.update(policy)
    return CircuitBreaker(BreakerPolicy(**defaults), clock), clock  # type: ignore[arg-type]


def test_consecutive_failures_open_it() -> None:
    b, _ = breaker()
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert b.refuses() and not b.allow()


def test_a_success_resets_the_consecutive_count() -> None:
    b, _ = breaker(failure_ratio=1.0)
    for _ in range(5):
        b.record_failure()
        b.record_failure()
        b.record_success()
    assert b.state is BreakerState.CLOSED


def test_a_failure_ratio_over_a_full_window_opens_it() -> None:
    b, _ = breaker(consecutive_failures=100, window=10, failure_ratio=0.5)
    for _ in range(4):
        b.record_failure()
        b.record_success()
    assert b.state is BreakerState.CLOSED  # 4 of 8: the window is not full yet
    b.record_failure()
    assert b.state is BreakerState.CLOSED  # 5 of 9
    b.record_failure()
    assert b.state is BreakerState.OPEN  # 6 of 10


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_it() -> None:
    b, clock = breaker()
    for _ in range(3):
        b.record_failure()
    clock.now += 29.9
    assert b.state is BreakerState.OPEN and not b.allow()
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN and not b.refuses()
    assert b.allow()  # the probe
    assert b.refuses() and not b.allow()  # nobody else meanwhile
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert b.allow() and b.allow()


def test_a_failed_probe_opens_it_for_another_cool_down() -> None:
    b, clock = breaker()
    for _ in range(3):
        b.record_failure()
    clock.now += 30
    assert b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    clock.now += 29
    assert not b.allow()
    clock.now += 1
    assert b.allow()


def test_late_outcomes_of_calls_let_through_before_it_opened_change_nothing() -> None:
    b, clock = breaker()
    for _ in range(3):
        b.record_failure()
    b.record_success()  # a slow call that started while closed
    assert b.state is BreakerState.OPEN
    opened_at = clock.now
    clock.now += 10
    b.record_failure()
    clock.now = opened_at + 30
    assert b.state is BreakerState.HALF_OPEN  # the cool-down was not restarted


def test_an_abandoned_call_counts_for_nothing() -> None:
    b, _ = breaker()
    for _ in range(2):
        b.record_failure()
    for _ in range(5):
        assert b.allow()
        b.record_abandoned()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED


def test_an_abandoned_probe_hands_its_turn_to_the_next_call() -> None:
    b, clock = breaker()
    for _ in range(3):
        b.record_failure()
    clock.now += 30
    assert b.allow()  # the probe
    assert b.refuses()
    b.record_abandoned()
    assert b.state is BreakerState.HALF_OPEN
    assert not b.refuses() and b.allow()  # the next probe
    b.record_success()
    assert b.state is BreakerState.CLOSED
