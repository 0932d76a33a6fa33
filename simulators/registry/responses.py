"""JSON answers, counted in the shape's statistics as they are made."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from simulators.registry.stats import ShapeStats


def json_response(document: Any, status: int = 200, *, retry_after: int | None = None) -> Response:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status, headers, media_type="application/json")


def counted(
    stats: ShapeStats,
    document: Any,
    status: int = 200,
    *,
    code: str | None = None,
    retry_after: int | None = None,
) -> Response:
    stats.answered(status, code)
    return json_response(document, status, retry_after=retry_after)
