"""What runs out of time on our side is not held against a source: a start so late that
almost nothing of the deadline would be left is not sent; a timeout of the caller's own
shorter deadline, or a call we cancel, is no failure of the source. A timeout of the
source's own budget still is."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from integrity.v1 import verification_pb2 as V

from clients import AsyncIntegrityClient
from service.adapters.registry_http.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from service.adapters.registry_http.limits import LocalLimiter, SourceLimits
from service.adapters.registry_http.transport import RetryPolicy
from service.app.ports import RegistryUnavailable
from service.settings import PiiKeys, Settings
from tests.builders import new_uscc, registry_row, verification_for
from tests.clock import TestClock
from tests.conftest import RunningServer
from tests.registry_wire import gov_client, gov_document, scripted_sources, vault
from tests.scripted_http import Answer, ScriptedServer
from tests.unit.adapters.test_local_limiter import FakeTime

ONE_ATTEMPT = RetryPolicy(max_attempts=1, min_attempt_seconds=0.1)


def one_failure_opens() -> CircuitBreaker:
    return CircuitBreaker(BreakerPolicy(consecutive_failures=1, cool_down_seconds=3600))


async def test_a_start_leaving_less_than_an_attempt_is_not_sent_nor_a_failure(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    uscc = new_uscc()
    scripted.default = Answer(200, gov_document(uscc))
    # One start every 1.1 s, on a clock of the test's: the second request's start would
    # leave 0.05 s of its 1.15 s, less than an attempt's 0.1 s.
    time = FakeTime()
    limiter = LocalLimiter(SourceLimits(max_concurrency=4, max_rate=1), time.monotonic, time.sleep)
    breaker = one_failure_opens()
    client = gov_client(
        scripted.url, vault(), clock, budget=1.15, limiter=limiter, breaker=breaker,
        retry=ONE_ATTEMPT,
    )  # fmt: skip
    assert await client.lookup(uscc) is not None
    with pytest.raises(RegistryUnavailable, match="no_rate_token"):
        await client.lookup(uscc)
    await client.aclose()
    assert len(scripted.seen) == 1
    assert time.now == 0.0  # refused at once, not after waiting for the start
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("budget", "within", "held_against_the_source"),
    [(0.2, None, True), (5.0, 0.2, False)],
    ids=["the-sources-budget", "the-callers-deadline"],
)
async def test_a_timeout_counts_against_the_source_only_on_its_own_budget(
    scripted: ScriptedServer,
    clock: TestClock,
    budget: float,
    within: float | None,
    held_against_the_source: bool,
) -> None:
    scripted.default = Answer(404, {"error": "not_found"})
    scripted.hold.clear()
    breaker = one_failure_opens()
    client = gov_client(
        scripted.url, vault(), clock, budget=budget, breaker=breaker, retry=ONE_ATTEMPT
    )
    with pytest.raises(RegistryUnavailable, match="timeout"):
        await client.lookup(new_uscc(), within)
    scripted.hold.set()
    await client.aclose()
    opened = breaker.state is BreakerState.OPEN
    assert opened is held_against_the_source


async def test_a_call_we_cancel_is_no_failure_of_the_source(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    scripted.default = Answer(404, {"error": "not_found"})
    scripted.hold.clear()
    breaker = one_failure_opens()
    client = gov_client(scripted.url, vault(), clock, breaker=breaker)
    call = asyncio.create_task(client.lookup(new_uscc()))
    await asyncio.to_thread(scripted.wait_until, lambda s: s.in_flight == 1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    scripted.hold.set()
    assert breaker.state is BreakerState.CLOSED
    assert await client.lookup(new_uscc()) is None
    await client.aclose()


# -- through the gRPC API ---------------------------------------------------------------


@pytest.fixture
def settings(scripted: ScriptedServer, database_url: str, pii_keys: PiiKeys) -> Settings:
    """Sources that hold every answer, and a registry timeout far longer than the
    platform's deadline."""
    scripted.default = Answer(404, {"error": "not_found"})
    scripted.hold.clear()
    return scripted_sources(scripted, database_url, pii_keys, timeout=20)


async def test_a_slow_registry_is_pending_within_the_callers_deadline(
    server: RunningServer, scripted: ScriptedServer
) -> None:
    request = verification_for(registry_row())
    request_id = str(uuid.uuid4())
    async with AsyncIntegrityClient(server.target, token=server.token) as client:
        # Without the caller's deadline bounding the registry question, this is
        # DEADLINE_EXCEEDED: the sources would be waited for 18 s.
        # 3 s: a deadline far shorter than the sources' budget, with room for the writes
        # that follow the registry on a machine busy with other tests.
        result = await client.create_verification(request, request_id=request_id, timeout=3.0)
        assert result.outcome == V.VERIFICATION_OUTCOME_PENDING
        assert [r.code for r in result.reasons] == [V.VERIFICATION_REASON_CODE_REGISTRY_UNAVAILABLE]
        assert {seen.method for seen in scripted.seen} == {"GET", "POST"}  # both were asked
        # Written whole: read back, and a retry finds it rather than asking again.
        assert await client.get_verification(result.name) == result
        asked = len(scripted.seen)
        assert await client.create_verification(request, request_id=request_id) == result
        assert len(scripted.seen) == asked
    scripted.hold.set()
    # Our caller's deadline ran out, not the sources' budget: not held against them.
    for transport in server.app.registry_sources.transports:
        assert transport.breaker.state is BreakerState.CLOSED
