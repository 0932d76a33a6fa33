"""The enterprise-data provider's shape: POST /open/v2/enterprise/verify.

It answers per field whether what was submitted agrees with what it holds, and returns
the legal representative's ID number for some enterprises only."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service.domain.errors import InvalidIdentifier
from service.domain.identifiers.uscc import normalise_uscc, parse_uscc
from service.domain.names import normalise_name
from simulators.registry.behaviour import Shape
from simulators.registry.records import Enterprise, View
from simulators.registry.responses import counted
from simulators.registry.state import Fault, Simulator
from simulators.registry.wording import OPEN_ENDED, china_time, provider_status

CONSISTENT, INCONSISTENT, CANNOT_TELL = "1", "0", "-1"
MAX_BODY = 65_536
_SUBMITTED_FIELDS = ("creditCode", "companyName", "legalPerson", "legalPersonIdNo")
_ANSWERS = {
    # code: (HTTP status, message)
    "0000": (200, "success"),
    "2001": (200, "no such enterprise"),
    "1003": (200, "request malformed"),
    "1001": (401, "bad app id, signature or timestamp"),
    "1002": (429, "beyond the contracted rate or concurrency"),
    "5001": (502, "upstream failed"),
    "5000": (503, "service unavailable"),
}


# Unique within the process, and cheaper than uuid4 (which reads the system's randomness).
_request_ids = (f"sim{number:016x}" for number in itertools.count(1))


def _answer(
    simulator: Simulator,
    code: str,
    data: dict[str, Any] | None = None,
    *,
    retry_after: int | None = None,
    message: str | None = None,
) -> Response:
    status, default_message = _ANSWERS[code]
    document = {
        "code": code,
        "msg": message or default_message,
        "requestId": next(_request_ids),
        "data": data,
    }
    stats = simulator.stats[Shape.PROVIDER]
    return counted(stats, document, status, code=code, retry_after=retry_after)


async def verify(request: Request) -> Response:
    simulator: Simulator = request.app.state.simulator
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        # Refused unread: a verification request is a few hundred bytes.
        return _answer(simulator, "1003", message=f"body larger than {MAX_BODY} bytes")
    body = await request.body()
    refusal = simulator.outage(Shape.PROVIDER)
    if refusal is not None:
        return _answer(simulator, "5000", retry_after=refusal.retry_after)
    client = _client(simulator, request, body)
    if client is None:
        return _answer(simulator, "1001")
    refusal = simulator.admit(Shape.PROVIDER, client)
    if refusal is not None:
        return _answer(simulator, "1002", retry_after=refusal.retry_after)
    try:
        fault = await simulator.upstream(Shape.PROVIDER)
        if fault is Fault.FAILED:
            return _answer(simulator, "5001")
        if fault is Fault.UNAVAILABLE:
            return _answer(simulator, "5000")
        return _verify(simulator, body)
    finally:
        simulator.leave(Shape.PROVIDER, client)


def _client(simulator: Simulator, request: Request, body: bytes) -> str | None:
    headers = request.headers
    timestamp = headers.get("x-timestamp")
    if timestamp is None or not timestamp.isdigit():
        return None
    tolerance = simulator.behaviour.provider.timestamp_tolerance_seconds
    if abs(int(timestamp) - simulator.clock.now().timestamp()) > tolerance:
        return None
    return simulator.credentials.provider_client(
        headers.get("x-app-id"), timestamp, headers.get("x-signature"), body
    )


def _verify(simulator: Simulator, body: bytes) -> Response:
    submitted = _submitted(body, simulator.store.enterprises)
    if isinstance(submitted, str):
        return _answer(simulator, "1003", message=submitted)
    uscc = submitted.credit_code
    now = simulator.clock.now()
    view = simulator.store.view(uscc, Shape.PROVIDER, now, simulator.lag(Shape.PROVIDER))
    if view is None:
        return _answer(simulator, "2001")
    enterprise = simulator.store.enterprises[uscc]
    returns_id = _returns_id_number(enterprise, simulator.behaviour.provider.id_number_fraction)
    return _answer(simulator, "0000", provider_data(view, submitted, returns_id))


@dataclass(frozen=True)
class Submitted:
    """What a platform submitted, as the provider's request carries it."""

    credit_code: str
    company_name: str | None = None
    legal_person: str | None = None
    legal_person_id_no: str | None = None

    def __repr__(self) -> str:
        return f"Submitted(credit_code={self.credit_code!r})"


def _submitted(body: bytes, held: Container[str]) -> Submitted | str:
    """The request's fields, or what is wrong with it."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "body is not JSON"
    if not isinstance(raw, dict):
        return "body must be a JSON object"
    values: dict[str, str | None] = {}
    for name in _SUBMITTED_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string"
        values[name] = value
    code = values["creditCode"]
    if not code:
        return "creditCode is required"
    credit_code = normalise_uscc(code)
    if credit_code not in held:  # a code held is valid: check only the others, it costs
        try:
            parse_uscc(credit_code)
        except InvalidIdentifier:
            return "creditCode is not a unified social credit code"
    return Submitted(
        credit_code, values["companyName"], values["legalPerson"], values["legalPersonIdNo"]
    )


def _returns_id_number(enterprise: Enterprise, fraction: float) -> bool:
    if enterprise.provider_returns_id_number is not None:
        return enterprise.provider_returns_id_number
    # The same enterprises every run: a stable draw from the code.
    digest = hashlib.sha256(enterprise.row["uscc"].encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def provider_data(view: View, submitted: Submitted, returns_id_number: bool) -> dict[str, Any]:
    row = view.row
    representative = row.get("legal_representative") or {}
    name, id_number = representative.get("name"), representative.get("id_number")
    term_end = row.get("term_end") or None
    return {
        "creditCode": row["uscc"],
        "companyName": row.get("name"),
        "regStatus": provider_status(str(row.get("status") or "")),
        "legalPerson": name,
        "legalPersonIdNo": id_number if returns_id_number else None,
        "verifyResult": {
            "companyName": _names(submitted.company_name, row.get("name")),
            "legalPerson": _names(submitted.legal_person, name),
            "legalPersonIdNo": _id_numbers(submitted.legal_person_id_no, id_number),
        },
        "termStart": row.get("term_start") or None,
        "termEnd": OPEN_ENDED if term_end is None else term_end,
        "regAddress": row.get("address") or "",
        "updateTime": china_time(view.published_at),
    }


# Normalising a name costs tens of microseconds; the same names come again and again.
_name_key = functools.lru_cache(maxsize=100_000)(normalise_name)


def _names(submitted: str | None, held: str | None) -> str:
    if not submitted or not held:
        return CANNOT_TELL
    return CONSISTENT if _name_key(submitted) == _name_key(held) else INCONSISTENT


def _id_numbers(submitted: str | None, held: str | None) -> str:
    if not submitted or not held:
        return CANNOT_TELL
    return CONSISTENT if submitted.strip().upper() == held.upper() else INCONSISTENT
