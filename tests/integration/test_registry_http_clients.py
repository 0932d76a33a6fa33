"""The HTTP registry clients against real HTTP servers on loopback: the wire, in both
directions, and what is retried, given up on and refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import socket

import pytest

from service.adapters.registry_http.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from service.adapters.registry_http.limits import LocalLimiter, SourceLimits
from service.adapters.registry_http.provider import signature
from service.adapters.registry_http.transport import BreakerOpen, RetryPolicy
from service.app.ports import RegistryUnavailable
from service.domain.licence import RegistrationStatus
from service.domain.registry_sources import ProviderVerdict
from service.domain.sealed import PiiKind
from tests.builders import new_id_number, new_uscc
from tests.clock import TestClock
from tests.registry_wire import (
    APP_ID,
    REP_NAME,
    SECRET,
    TOKEN,
    gov_client,
    gov_document,
    provider_answer,
    provider_client,
    submission,
    vault,
)
from tests.scripted_http import Answer, ScriptedServer


async def test_gov_record_is_parsed_with_the_legal_representative_sealed(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    keys = vault()
    uscc = new_uscc()
    scripted.answer(Answer(200, gov_document(uscc)))
    client = gov_client(scripted.url, keys, clock)
    record = await client.lookup(uscc)
    await client.aclose()

    assert record is not None
    assert scripted.seen[0].path == f"/v1/enterprises/{uscc}"
    assert scripted.seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert record.status is RegistrationStatus.IN_BUSINESS
    assert record.term.open_ended
    assert record.snapshot_time == dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    rep = record.legal_representative
    assert rep.id_number is None  # the registry never publishes it
    assert rep.name.same_as(await keys.seal(uscc, PiiKind.PERSON_NAME, REP_NAME))
    assert await keys.open(rep.name) == REP_NAME
    assert REP_NAME not in repr(record)
    # Natural-person shareholders and the names in changes are sealed or masked too.
    assert record.shareholders[0].name != REP_NAME
    assert REP_NAME not in record.changes[0].after


async def test_gov_not_found_is_no_record_and_not_retried(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    scripted.answer(Answer(404, {"error": "not_found", "message": "not published"}))
    client = gov_client(scripted.url, vault(), clock)
    assert await client.lookup(new_uscc()) is None
    await client.aclose()
    assert len(scripted.seen) == 1


@pytest.mark.parametrize("failure", [500, 502, 503])
async def test_server_errors_are_retried(
    scripted: ScriptedServer, clock: TestClock, failure: int
) -> None:
    uscc = new_uscc()
    scripted.answer(Answer(failure, {"error": "internal"}), Answer(200, gov_document(uscc)))
    client = gov_client(scripted.url, vault(), clock)
    record = await client.lookup(uscc)
    await client.aclose()
    assert record is not None and record.uscc == uscc
    assert len(scripted.seen) == 2


async def test_rate_limited_is_retried_after_its_retry_after(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    uscc = new_uscc()
    scripted.answer(
        Answer(429, {"error": "rate_limited"}, {"Retry-After": "0"}),
        Answer(200, gov_document(uscc)),
    )
    client = gov_client(scripted.url, vault(), clock)
    assert await client.lookup(uscc) is not None
    await client.aclose()
    assert len(scripted.seen) == 2


# Seconds, or the HTTP-date form (RFC 9110): read as a date, this one is past any deadline;
# taken for no Retry-After at all, the client would ask again after a short backoff.
@pytest.mark.parametrize("retry_after", ["30", "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_retry_after_beyond_the_deadline_gives_up_at_once(
    scripted: ScriptedServer, clock: TestClock, retry_after: str
) -> None:
    scripted.answer(Answer(429, {"error": "rate_limited"}, {"Retry-After": retry_after}))
    scripted.default = Answer(200, gov_document())
    client = gov_client(scripted.url, vault(), clock, budget=2.0)
    # Given up at once: far sooner than the 30 s asked for, as the outer timeout proves.
    async with asyncio.timeout(10):
        with pytest.raises(RegistryUnavailable, match="rate_limited"):
            await client.lookup(new_uscc())
    await client.aclose()
    assert len(scripted.seen) == 1


async def test_a_retry_after_date_already_past_is_retried_at_once(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    uscc = new_uscc()
    past = "Thu, 01 Jan 1970 00:00:00 GMT"
    scripted.answer(
        Answer(503, {"error": "unavailable"}, {"Retry-After": past}),
        Answer(200, gov_document(uscc)),
    )
    client = gov_client(scripted.url, vault(), clock)
    assert await client.lookup(uscc) is not None
    await client.aclose()
    assert len(scripted.seen) == 2


async def test_attempts_stop_at_the_configured_number(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    scripted.default = Answer(503, {"error": "unavailable"})
    client = gov_client(scripted.url, vault(), clock)
    with pytest.raises(RegistryUnavailable, match="status_503"):
        await client.lookup(new_uscc())
    await client.aclose()
    assert len(scripted.seen) == 3


@pytest.mark.parametrize("status", [401, 400, 403])
async def test_refusals_are_unavailable_and_not_retried(
    scripted: ScriptedServer, clock: TestClock, status: int
) -> None:
    scripted.default = Answer(status, {"error": "unauthorised"})
    client = gov_client(scripted.url, vault(), clock)
    with pytest.raises(RegistryUnavailable, match=f"status_{status}"):
        await client.lookup(new_uscc())
    await client.aclose()
    assert len(scripted.seen) == 1


async def test_connection_refused_is_unavailable(clock: TestClock) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = gov_client(f"http://127.0.0.1:{port}", vault(), clock)
    with pytest.raises(RegistryUnavailable, match="connection"):
        await client.lookup(new_uscc())
    await client.aclose()


MALFORMED = {
    "not-json": Answer(200, raw=b"<html>maintenance</html>"),
    "a-list": Answer(200, ["nothing"]),
    "another-enterprise": Answer(200, gov_document("91330106MA0000000X")),
    "no-publication-time": Answer(200, gov_document(publishedAt=None)),
    "unknown-status": Answer(200, gov_document(status="神秘状态")),
    "bad-date": Answer(200, gov_document(establishmentDate="2018-02-30")),
    "term-not-an-object": Answer(200, gov_document(term="长期")),
    "shareholders-not-a-list": Answer(200, gov_document(shareholders={"name": REP_NAME})),
}


@pytest.mark.parametrize("answer", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_gov_answers_are_unavailable_and_logged_without_personal_data(
    scripted: ScriptedServer, clock: TestClock, log_stream: io.StringIO, answer: Answer
) -> None:
    scripted.default = answer
    client = gov_client(scripted.url, vault(), clock)
    with pytest.raises(RegistryUnavailable, match="malformed_record"):
        await client.lookup(new_uscc())
    await client.aclose()
    logs = log_stream.getvalue()
    assert "registry_answer_malformed" in logs
    assert REP_NAME not in logs
    assert len(scripted.seen) == 1  # a malformed answer is not asked again


async def test_breaker_opens_after_consecutive_failures_and_refuses_without_asking(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    scripted.default = Answer(503, {"error": "unavailable"})
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=3, cool_down_seconds=3600))
    client = gov_client(scripted.url, vault(), clock, breaker=breaker)
    with pytest.raises(RegistryUnavailable):
        await client.lookup(new_uscc())
    assert breaker.state is BreakerState.OPEN
    asked = len(scripted.seen)
    with pytest.raises(BreakerOpen):
        await client.lookup(new_uscc())
    await client.aclose()
    assert len(scripted.seen) == asked


async def test_provider_request_is_signed_and_carries_the_submission(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    keys = vault()
    uscc, id_number = new_uscc(), new_id_number()
    scripted.answer(Answer(200, provider_answer(uscc, id_number)))
    client = provider_client(scripted.url, keys, clock)
    record = await client.verify(await submission(keys, uscc, id_number=id_number))
    await client.aclose()

    seen = scripted.seen[0]
    assert seen.method == "POST" and seen.path == "/open/v2/enterprise/verify"
    assert seen.headers["x-app-id"] == APP_ID
    timestamp = seen.headers["x-timestamp"]
    assert (
        int(timestamp) == int(clock.now().timestamp())
        or abs(int(timestamp) - int(clock.now().timestamp())) <= 300
    )
    assert seen.headers["x-signature"] == signature(SECRET.encode(), APP_ID, timestamp, seen.body)
    assert json.loads(seen.body) == {
        "creditCode": uscc,
        "companyName": "杭州某某科技有限公司",
        "legalPerson": REP_NAME,
        "legalPersonIdNo": id_number,
    }
    assert record is not None
    assert record.legal_rep_id_number is not None
    assert record.legal_rep_id_number.same_as(await keys.seal(uscc, PiiKind.ID_NUMBER, id_number))
    assert id_number not in repr(record)
    assert record.verdicts.legal_rep_id_number is ProviderVerdict.CONSISTENT
    assert record.term is not None and record.term.open_ended
    # updateTime is China Standard Time.
    assert record.snapshot_time == dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)


async def test_provider_without_the_enterprise_is_no_record(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    keys = vault()
    scripted.answer(Answer(200, {"code": "2001", "msg": "no such enterprise", "data": None}))
    client = provider_client(scripted.url, keys, clock)
    assert await client.verify(await submission(keys, new_uscc())) is None
    await client.aclose()


PROVIDER_REFUSALS = {
    "malformed-request": (Answer(200, {"code": "1003", "msg": "bad", "data": None}), "code_1003"),
    "bad-signature": (Answer(401, {"code": "1001", "msg": "signature"}), "status_401"),
    "no-code": (Answer(200, {"msg": "?"}), "malformed_record"),
}


@pytest.mark.parametrize(
    ("answer", "reason"), PROVIDER_REFUSALS.values(), ids=PROVIDER_REFUSALS.keys()
)
async def test_provider_refusals_are_unavailable(
    scripted: ScriptedServer, clock: TestClock, answer: Answer, reason: str
) -> None:
    keys = vault()
    scripted.default = answer
    client = provider_client(scripted.url, keys, clock)
    with pytest.raises(RegistryUnavailable, match=reason):
        await client.verify(await submission(keys, new_uscc()))
    await client.aclose()
    assert len(scripted.seen) == 1


async def test_provider_upstream_failure_is_retried(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    keys = vault()
    uscc = new_uscc()
    scripted.answer(Answer(502, {"code": "5001"}), Answer(200, provider_answer(uscc)))
    client = provider_client(scripted.url, keys, clock)
    record = await client.verify(await submission(keys, uscc))
    await client.aclose()
    assert record is not None and record.legal_rep_id_number is None
    # Each attempt is signed on its own.
    assert len(scripted.seen) == 2


MALFORMED_PROVIDER = {
    "another-enterprise": {"creditCode": "91330106MA0000000X"},
    "bad-verdict": {"verifyResult": {"legalPerson": "yes"}},
    "bad-id-number": {"legalPersonIdNo": "12345"},
    "no-update-time": {"updateTime": None},
    "bad-update-time": {"updateTime": "2026-11-20T08:00:00Z"},
    "bad-term-end": {"termEnd": "soon"},
}


@pytest.mark.parametrize("override", MALFORMED_PROVIDER.values(), ids=MALFORMED_PROVIDER.keys())
async def test_malformed_provider_answers_are_unavailable(
    scripted: ScriptedServer, clock: TestClock, log_stream: io.StringIO, override: dict[str, object]
) -> None:
    keys = vault()
    uscc = new_uscc()
    scripted.default = Answer(200, provider_answer(uscc, **override))
    client = provider_client(scripted.url, keys, clock)
    with pytest.raises(RegistryUnavailable, match="malformed_record"):
        await client.verify(await submission(keys, uscc))
    await client.aclose()
    assert REP_NAME not in log_stream.getvalue()


async def test_concurrent_requests_never_exceed_the_concurrency(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    scripted.default = Answer(404, {"error": "not_found"})
    scripted.hold.clear()
    limiter = LocalLimiter(SourceLimits(max_concurrency=2, max_rate=1000))
    client = gov_client(scripted.url, vault(), clock, limiter=limiter)
    calls = [asyncio.create_task(client.lookup(new_uscc())) for _ in range(6)]
    await asyncio.to_thread(scripted.wait_until, lambda s: s.in_flight == 2)
    scripted.hold.set()
    assert await asyncio.gather(*calls) == [None] * 6
    await client.aclose()
    assert scripted.max_in_flight == 2
    assert len(scripted.seen) == 6


async def test_no_retry_when_a_single_attempt_is_configured(
    scripted: ScriptedServer, clock: TestClock
) -> None:
    scripted.default = Answer(500, {"error": "internal"})
    client = gov_client(scripted.url, vault(), clock, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(RegistryUnavailable):
        await client.lookup(new_uscc())
    await client.aclose()
    assert len(scripted.seen) == 1
