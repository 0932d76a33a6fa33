"""Whatever a source sends back that is not its contract (a body that is not JSON, JSON of
the wrong shape or types, an encoding that does not decode, a body cut off mid-way) is that
source being unavailable: RegistryUnavailable, logged without personal data, a failure for
its breaker; through the API, PENDING, never INTERNAL."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from integrity.v1 import verification_pb2 as V

from clients import AsyncIntegrityClient
from service.adapters.registry_http.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from service.app.ports import RegistryUnavailable
from service.settings import PiiKeys, Settings
from tests.builders import new_id_number, new_uscc, registry_row, verification_for
from tests.clock import TestClock
from tests.registry_wire import (
    REP_NAME,
    gov_client,
    gov_document,
    provider_answer,
    provider_client,
    scripted_sources,
    submission,
    vault,
)
from tests.scripted_http import Answer, ScriptedServer, Seen

ID_NUMBER = new_id_number()


def _json(value: Any) -> Answer:
    return Answer(200, raw=json.dumps(value, ensure_ascii=False).encode())


# Nonsense either source could send, whatever its shape.
ANY_SOURCE = {
    "not-json": Answer(200, raw=b"<html>maintenance</html>"),
    "not-utf8": Answer(200, raw=b'\xff\xfe{"code": "0000"}'),
    "json-number": Answer(200, raw=b"42"),
    "json-text": Answer(200, raw=b'"ok"'),
    "json-null": Answer(200, raw=b"null"),
    "json-list": Answer(200, raw=b'["nothing"]'),
    "nested-too-deep": Answer(200, raw=b"[" * 100_000 + b"]" * 100_000),
    "gzip-that-is-not": Answer(200, raw=b"not gzip at all", headers={"Content-Encoding": "gzip"}),
    "unknown-encoding": Answer(200, raw=b"{}", headers={"Content-Encoding": "br, zz"}),
    "body-cut-short": Answer(200, raw=b'{"uscc": "9133', declared_length=4096),
}


def _gov(uscc: str, overrides: dict[str, Any]) -> Answer:
    document = gov_document(uscc)
    document.update(overrides)
    return _json(document)


GOV_WRONG_TYPES: dict[str, dict[str, Any]] = {
    "uscc-a-number": {"uscc": 91330106},
    "name-an-object": {"name": {"zh": "杭州某某科技有限公司"}},
    "representative-a-list": {"legalRepresentative": [REP_NAME]},
    "status-a-list": {"status": ["存续（在营、开业、在册）"]},
    "status-an-object": {"status": {"code": 1}},
    "type-a-number": {"enterpriseType": 1},
    "capital-an-object": {"registeredCapital": {"amount": 1000}},
    "published-a-number": {"publishedAt": 1_763_596_800},
    "published-not-a-time": {"publishedAt": "yesterday"},
    "established-an-object": {"establishmentDate": {}},
    "term-start-a-number": {"term": {"start": 20180301, "openEnded": True}},
    "term-end-a-list": {"term": {"start": "2018-03-01", "end": [], "openEnded": False}},
    "shareholder-a-number": {"shareholders": [5]},
    "shareholder-ratio-a-list": {
        "shareholders": [{"name": "某公司", "kind": "enterprise", "ratio": [0.6]}]
    },
    "change-date-a-list": {"changes": [{"date": [], "item": "x", "before": "a", "after": "b"}]},
    "changes-an-object": {"changes": {"date": "2024-05-10"}},
}

PROVIDER_WRONG_TYPES: dict[str, dict[str, Any]] = {
    "verdict-an-object": {"verifyResult": {"legalPerson": {"value": "1"}}},
    "verdict-a-list": {"verifyResult": {"companyName": ["1"]}},
    "verdict-a-number": {"verifyResult": {"legalPersonIdNo": 1}},
    "verdicts-a-list": {"verifyResult": ["1", "1", "1"]},
    "status-a-list": {"regStatus": ["存续"]},
    "status-a-number": {"regStatus": 1},
    "credit-code-a-number": {"creditCode": 91330106},
    "update-time-a-number": {"updateTime": 1_763_596_800},
    "term-start-a-number": {"termStart": 20180301},
    "term-end-an-object": {"termEnd": {}},
    "id-number-a-number": {"legalPersonIdNo": 330106198001011234},
    "name-a-list": {"companyName": ["杭州某某科技有限公司"]},
    "address-an-object": {"regAddress": {"city": "杭州"}},
}

PROVIDER_WRONG_ENVELOPES: dict[str, Any] = {
    "data-a-list": {"code": "0000", "msg": "success", "data": []},
    "data-text": {"code": "0000", "msg": "success", "data": "found"},
    "no-data": {"code": "0000", "msg": "success"},
    "code-a-number": {"code": 0, "msg": "success", "data": {}},
    "code-a-list": {"code": ["0000"], "msg": "success", "data": {}},
    "code-an-object": {"code": {"value": "0000"}, "data": {}},
}


def gov_cases() -> dict[str, Any]:
    cases: dict[str, Any] = dict(ANY_SOURCE)
    cases.update({name: override for name, override in GOV_WRONG_TYPES.items()})
    return cases


def provider_cases() -> dict[str, Any]:
    cases: dict[str, Any] = dict(ANY_SOURCE)
    cases.update({f"data-{name}": override for name, override in PROVIDER_WRONG_TYPES.items()})
    cases.update({name: _json(body) for name, body in PROVIDER_WRONG_ENVELOPES.items()})
    return cases


def one_failure_opens() -> CircuitBreaker:
    return CircuitBreaker(BreakerPolicy(consecutive_failures=1, cool_down_seconds=3600))


def assert_logged_without_personal_data(log_stream: io.StringIO, source: str) -> None:
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line]
    assert any(line.get("source") == source for line in lines), lines
    logs = log_stream.getvalue()
    assert REP_NAME not in logs and ID_NUMBER not in logs


GOV = gov_cases()


@pytest.mark.parametrize("case", GOV.values(), ids=GOV.keys())
async def test_a_malformed_gov_answer_is_unavailable_and_a_breaker_failure(
    scripted: ScriptedServer, clock: TestClock, log_stream: io.StringIO, case: Any
) -> None:
    uscc = new_uscc()
    scripted.default = case if isinstance(case, Answer) else _gov(uscc, case)
    breaker = one_failure_opens()
    client = gov_client(scripted.url, vault(), clock, breaker=breaker)
    with pytest.raises(RegistryUnavailable):
        await client.lookup(uscc)
    await client.aclose()
    assert breaker.state is BreakerState.OPEN
    assert_logged_without_personal_data(log_stream, "government_registry")


PROVIDER = provider_cases()


@pytest.mark.parametrize("case", PROVIDER.values(), ids=PROVIDER.keys())
async def test_a_malformed_provider_answer_is_unavailable_and_a_breaker_failure(
    scripted: ScriptedServer, clock: TestClock, log_stream: io.StringIO, case: Any
) -> None:
    keys = vault()
    uscc = new_uscc()
    answer = case if isinstance(case, Answer) else _json(provider_answer(uscc, ID_NUMBER, **case))
    scripted.default = answer
    breaker = one_failure_opens()
    client = provider_client(scripted.url, keys, clock, breaker=breaker)
    with pytest.raises(RegistryUnavailable):
        await client.verify(await submission(keys, uscc, id_number=ID_NUMBER))
    await client.aclose()
    assert breaker.state is BreakerState.OPEN
    assert_logged_without_personal_data(log_stream, "data_provider")


# -- through the gRPC API ---------------------------------------------------------------


def nonsense(seen: Seen) -> Answer:
    """The registry's record with a status that is a list; the provider's verdict an object."""
    if seen.method == "GET":
        uscc = seen.path.rsplit("/", 1)[-1]
        return _gov(uscc, {"status": ["存续"]})
    body = json.loads(seen.body)
    return _json(provider_answer(body["creditCode"], verifyResult={"legalPerson": {"value": "1"}}))


@pytest.fixture
def settings(scripted: ScriptedServer, database_url: str, pii_keys: PiiKeys) -> Settings:
    """The service asking the scripted server as its government registry and provider."""
    return scripted_sources(scripted, database_url, pii_keys)


async def test_nonsense_from_both_sources_is_pending_through_the_api(
    client: AsyncIntegrityClient, scripted: ScriptedServer
) -> None:
    scripted.default = nonsense
    result = await client.create_verification(verification_for(registry_row()))
    assert result.outcome == V.VERIFICATION_OUTCOME_PENDING
    assert [r.code for r in result.reasons] == [V.VERIFICATION_REASON_CODE_REGISTRY_UNAVAILABLE]
    assert await client.get_verification(result.name) == result
