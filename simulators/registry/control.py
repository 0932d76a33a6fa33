"""Simulator control under /_sim/ (no credentials): health, statistics, the truth of each
record, the clock and the behaviour settings. Not part of either registry's API."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response

from service.domain.errors import InvalidArgument
from service.domain.identifiers.uscc import normalise_uscc
from service.domain.registry_rows import RowRejected
from simulators.registry.behaviour import Shape
from simulators.registry.changes import check_row, read_change
from simulators.registry.population import normalise_row
from simulators.registry.records import Enterprise
from simulators.registry.responses import json_response
from simulators.registry.state import Simulator
from simulators.registry.wording import parse_time, rfc3339

_log = structlog.get_logger("registry_simulator")
_PUT_KEYS = frozenset(
    {"record", "gov", "provider", "publish_at", "absent_from", "provider_returns_id_number"}
)
MAX_CONTROL_BODY = 1_000_000


class BadControlRequest(ValueError):
    pass


def _sim(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_CONTROL_BODY:
        raise BadControlRequest("body too large")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadControlRequest("body is not JSON") from exc


def _bad(message: str, **extra: Any) -> Response:
    return json_response({"error": "bad_request", "message": message, **extra}, 400)


async def health(request: Request) -> Response:
    simulator = _sim(request)
    return json_response(
        {"status": "ok", "records": len(simulator.store), "now": rfc3339(simulator.clock.now())}
    )


async def codes(request: Request) -> Response:
    """The codes held, in the order they were loaded: ?offset=0&limit=1000."""
    simulator = _sim(request)
    offset, limit = (
        request.query_params.get("offset", "0"),
        request.query_params.get("limit", "1000"),
    )
    if not (offset.isdigit() and limit.isdigit() and 1 <= int(limit) <= 100_000):
        return _bad("offset must be 0 or more, limit from 1 to 100000")
    held = list(simulator.store.enterprises)
    page = held[int(offset) : int(offset) + int(limit)]
    return json_response({"uscc": page, "total": len(held)})


async def stats(request: Request) -> Response:
    simulator = _sim(request)
    if request.method == "DELETE":
        simulator.reset_stats()
    return json_response(simulator.stats_document())


async def clock(request: Request) -> Response:
    simulator = _sim(request)
    if request.method == "POST":
        try:
            _move_clock(simulator, await _json_body(request))
        except BadControlRequest as problem:
            return _bad(str(problem))
        _log.info("clock_moved", now=simulator.clock.now().isoformat())
    return json_response({"now": simulator.clock.now().isoformat()})


def _move_clock(simulator: Simulator, body: Any) -> None:
    if not isinstance(body, Mapping) or len(body) != 1:
        raise BadControlRequest('give {"advance_seconds": N} or {"now": time}')
    if "advance_seconds" in body:
        seconds = body["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise BadControlRequest("advance_seconds must be a number")
        if not math.isfinite(seconds) or abs(seconds) > 100 * 365 * 86_400:
            raise BadControlRequest("advance_seconds must be finite and within 100 years")
        simulator.clock.advance(float(seconds))
    elif "now" in body:
        simulator.clock.set(_time(body["now"], "now"))
    else:
        raise BadControlRequest('give {"advance_seconds": N} or {"now": time}')


async def settings(request: Request) -> Response:
    simulator = _sim(request)
    if request.method == "POST":
        try:
            behaviour = simulator.behaviour.patched(await _json_body(request))
        except BadControlRequest as problem:
            return _bad(str(problem))
        except InvalidArgument as problem:
            violations = [
                {"field": v.field, "description": v.description, "reason": v.reason}
                for v in problem.violations
            ]
            return _bad(str(problem), violations=violations)
        simulator.set_behaviour(behaviour)
        _log.info("settings_changed")
    return json_response(simulator.behaviour.to_json())


async def record(request: Request) -> Response:
    simulator = _sim(request)
    uscc = normalise_uscc(request.path_params["uscc"])
    if request.method == "PUT":
        try:
            enterprise = _enterprise(uscc, await _json_body(request), simulator)
        except (BadControlRequest, RowRejected) as problem:
            return _bad(str(problem))
        replaced = simulator.store.put(enterprise, simulator.clock.now())
        _log.info("record_put", uscc=uscc, replaced=replaced)
        return json_response(_truth(simulator, enterprise), 200 if replaced else 201)
    enterprise_found = simulator.store.enterprises.get(uscc)
    if enterprise_found is None:
        return json_response({"error": "not_found", "message": "no such enterprise"}, 404)
    return json_response(_truth(simulator, enterprise_found))


async def schedule_change(request: Request) -> Response:
    simulator = _sim(request)
    uscc = normalise_uscc(request.path_params["uscc"])
    enterprise = simulator.store.enterprises.get(uscc)
    if enterprise is None:
        return json_response({"error": "not_found", "message": "no such enterprise"}, 404)
    try:
        change = read_change(await _json_body(request), enterprise, simulator.clock.now())
    except (BadControlRequest, RowRejected) as problem:
        return _bad(str(problem))
    simulator.store.schedule(uscc, change)
    _log.info("change_scheduled", uscc=uscc, items=list(change.items))
    visible = {
        shape.value: (change.at + dt.timedelta(seconds=simulator.lag(shape))).isoformat()
        for shape in Shape
    }
    return json_response(
        {"at": change.at.isoformat(), "items": change.items, "visible_at": visible}, 201
    )


def _enterprise(uscc: str, body: Any, simulator: Simulator) -> Enterprise:
    if not isinstance(body, Mapping):
        raise BadControlRequest("body must be a JSON object")
    unknown = sorted(set(body) - _PUT_KEYS)
    if unknown:
        raise BadControlRequest(f"unknown fields: {', '.join(unknown)}")
    raw = body.get("record")
    if not isinstance(raw, Mapping):
        raise BadControlRequest("record must be an object (a registry snapshot row)")
    now = simulator.clock.now()
    row = normalise_row({"uscc": uscc, **raw})
    if row.get("uscc") != uscc:
        raise BadControlRequest("record.uscc differs from the path")
    check_row(row, now)
    overrides = {}
    for shape in Shape:
        override = body.get(shape.value)
        if override is None:
            continue
        if not isinstance(override, Mapping) or "uscc" in override:
            raise BadControlRequest(f"{shape.value} must be an object of row fields (not uscc)")
        check_row({**row, **override}, now)
        overrides[shape] = dict(override)
    absent = body.get("absent_from") or []
    if not isinstance(absent, list) or not set(absent) <= {s.value for s in Shape}:
        raise BadControlRequest("absent_from must list shapes (gov, provider)")
    returns_id = body.get("provider_returns_id_number")
    if returns_id is not None and not isinstance(returns_id, bool):
        raise BadControlRequest("provider_returns_id_number must be true or false")
    existing = simulator.store.enterprises.get(uscc)
    return Enterprise(
        row=row,
        registered_at=None if existing is not None else now,
        captured_at=now,
        publish_at=_publish_at(body.get("publish_at")),
        overrides=overrides,
        absent_from=frozenset(Shape(s) for s in absent),
        provider_returns_id_number=returns_id,
    )


def _publish_at(raw: Any) -> dict[Shape, dt.datetime]:
    """One time for both shapes, or {"gov": time, "provider": time}."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        when = _time(raw, "publish_at")
        return dict.fromkeys(Shape, when)
    if isinstance(raw, Mapping) and set(raw) <= {s.value for s in Shape}:
        return {Shape(k): _time(v, f"publish_at.{k}") for k, v in raw.items() if v is not None}
    raise BadControlRequest('publish_at must be a time or {"gov": time, "provider": time}')


def _time(raw: Any, name: str) -> dt.datetime:
    when = parse_time(raw)
    if when is None:
        raise BadControlRequest(f"{name} must be an RFC 3339 time with an offset")
    return when


def _truth(simulator: Simulator, enterprise: Enterprise) -> dict[str, Any]:
    now = simulator.clock.now()
    return {
        "record": enterprise.truth_at(now),
        "gov": enterprise.overrides.get(Shape.GOV),
        "provider": enterprise.overrides.get(Shape.PROVIDER),
        "publish_at": {
            shape.value: None if when is None else when.isoformat()
            for shape in Shape
            for when in [enterprise.published_at(shape, dt.timedelta(seconds=simulator.lag(shape)))]
        },
        "absent_from": sorted(s.value for s in enterprise.absent_from),
        "provider_returns_id_number": enterprise.provider_returns_id_number,
        "scheduled_changes": [change.to_json() for change in enterprise.changes],
    }
