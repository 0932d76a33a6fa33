"""The government registry's shape: GET /v1/enterprises/{uscc} and GET /v1/changes."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service.domain.identifiers.uscc import normalise_uscc
from simulators.registry.behaviour import Shape
from simulators.registry.records import FeedEntry, View
from simulators.registry.responses import counted
from simulators.registry.state import Fault, Refusal, Simulator
from simulators.registry.wording import gov_status, parse_time, rfc3339

MAX_FEED_PAGE = 1000
DEFAULT_FEED_PAGE = 100
_ERRORS = {
    401: ("unauthorised", "bad or missing token"),
    404: ("not_found", "no published record"),
    429: ("rate_limited", "beyond the contracted rate or concurrency"),
    500: ("internal", "internal error"),
    503: ("unavailable", "the registry is unavailable"),
}


def _sim(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


def _error(simulator: Simulator, status: int, retry_after: int | None = None) -> Response:
    error, message = _ERRORS[status]
    document = {"error": error, "message": message}
    return counted(simulator.stats[Shape.GOV], document, status, retry_after=retry_after)


def _bad_request(simulator: Simulator, message: str) -> Response:
    document = {"error": "bad_request", "message": message}
    return counted(simulator.stats[Shape.GOV], document, 400)


async def enterprise(request: Request) -> Response:
    simulator = _sim(request)
    return await _answer(simulator, request, lambda: _enterprise(simulator, request))


async def changes(request: Request) -> Response:
    simulator = _sim(request)
    return await _answer(simulator, request, lambda: _changes(simulator, request))


async def _answer(simulator: Simulator, request: Request, answer: Any) -> Response:
    """Outage, credentials, limits, the upstream's time and faults, then the answer."""
    refusal: Refusal | None = simulator.outage(Shape.GOV)
    if refusal is not None:
        return _error(simulator, refusal.status, refusal.retry_after)
    client = simulator.credentials.gov_client(request.headers.get("authorization"))
    if client is None:
        return _error(simulator, 401)
    refusal = simulator.admit(Shape.GOV, client)
    if refusal is not None:
        return _error(simulator, refusal.status, refusal.retry_after)
    try:
        fault = await simulator.upstream(Shape.GOV)
        if fault is Fault.FAILED:
            return _error(simulator, 500)
        if fault is Fault.UNAVAILABLE:
            return _error(simulator, 503)
        response: Response = answer()
        return response
    finally:
        simulator.leave(Shape.GOV, client)


def _enterprise(simulator: Simulator, request: Request) -> Response:
    uscc = normalise_uscc(request.path_params["uscc"])
    view = simulator.store.view(uscc, Shape.GOV, simulator.clock.now(), simulator.lag(Shape.GOV))
    if view is None:
        return _error(simulator, 404)
    return counted(simulator.stats[Shape.GOV], gov_document(view))


def gov_document(view: View) -> dict[str, Any]:
    row = view.row
    term_end = row.get("term_end") or None
    return {
        "uscc": row["uscc"],
        "name": row.get("name"),
        "enterpriseType": row.get("enterprise_type") or "",
        "legalRepresentative": (row.get("legal_representative") or {}).get("name"),
        "registeredCapital": row.get("registered_capital") or None,
        "capitalCurrency": row.get("capital_currency") or "CNY",
        "establishmentDate": row.get("establishment_date"),
        "term": {
            "start": row.get("term_start") or None,
            "end": term_end,
            "openEnded": term_end is None,
        },
        "registrationAuthority": row.get("registration_authority") or "",
        "approvalDate": row.get("approval_date") or None,
        "status": gov_status(str(row.get("status") or "")),
        "address": row.get("address") or "",
        "businessScope": row.get("business_scope") or "",
        "shareholders": [
            {
                "name": holder.get("name"),
                "kind": holder.get("kind") or "other",
                "subscribedCapital": holder.get("subscribed_capital"),
                "ratio": holder.get("ratio"),
            }
            for holder in row.get("shareholders") or ()
        ],
        "changes": [
            {
                "date": change.get("date"),
                "item": change.get("item"),
                "before": change.get("before") or "",
                "after": change.get("after") or "",
            }
            for change in row.get("changes") or ()
        ],
        "publishedAt": rfc3339(view.published_at),
    }


def _changes(simulator: Simulator, request: Request) -> Response:
    params = request.query_params
    # An offset's "+" written unencoded in a query string arrives as a space.
    since = parse_time((params.get("since") or "").replace(" ", "+"))
    if since is None:
        return _bad_request(simulator, "since must be an RFC 3339 time with an offset")
    raw_limit = params.get("limit", str(DEFAULT_FEED_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_FEED_PAGE:
        return _bad_request(simulator, f"limit must be a whole number from 1 to {MAX_FEED_PAGE}")
    after = None
    if params.get("cursor"):
        after = decode_cursor(params["cursor"])
        if after is None:
            return _bad_request(simulator, "cursor is not one this feed gave")
    entries, more = simulator.store.feed(
        since, after, int(raw_limit), simulator.clock.now(), simulator.lag(Shape.GOV)
    )
    document = {
        "changes": [
            {"uscc": e.uscc, "changedAt": rfc3339(e.changed_at), "items": list(e.items)}
            for e in entries
        ],
        "nextCursor": encode_cursor(entries[-1]) if more else None,
    }
    return counted(simulator.stats[Shape.GOV], document)


def encode_cursor(entry: FeedEntry) -> str:
    position = f"{entry.changed_at.isoformat()}|{entry.seq}"
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, seq = raw.partition("|")
        when = parse_time(at)
        return None if when is None else (when, int(seq))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
