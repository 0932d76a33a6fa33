"""Errors as RFC 9457 problem details, in one table from the service's gRPC codes.

Each problem carries what the gRPC error carried: the stable reason (its ErrorInfo), the
field violations of a bad request, the request id to quote, and for 429 and 503 a
Retry-After. Codes that mean the service or the gateway failed (not the caller) are 502,
503 or 504; nothing the caller sent becomes a 5xx.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from fastapi.responses import JSONResponse

from clients.errors import FieldViolation, IntegrityCallError

MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE = "https://integrity-service.example/problems/"

STATUS_OF: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Unprocessable request",
    429: "Too many requests",
    499: "Cancelled",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
UNAVAILABLE_RETRY_SECONDS = 1.0


def problem(
    status: int,
    reason: str,
    detail: str,
    *,
    violations: Sequence[FieldViolation] = (),
    retry_after: float | None = None,
    request_id: str = "",
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + reason.lower().replace("_", "-"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "reason": reason,
    }
    if violations:
        body["field_violations"] = [
            {"field": v.field, "description": v.description, "reason": v.reason} for v in violations
        ]
    if request_id:
        body["request_id"] = request_id
    extra = dict(headers or {})
    if retry_after is not None:
        extra["Retry-After"] = str(max(1, math.ceil(retry_after)))
        body["retry_after_seconds"] = retry_after
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=extra)


def from_call_error(error: IntegrityCallError) -> JSONResponse:
    status = STATUS_OF.get(error.code, 502)
    retry_after = error.retry_after_seconds
    if status in (429, 503) and retry_after is None:
        retry_after = UNAVAILABLE_RETRY_SECONDS
    detail = error.message if status < 500 else "the integrity service could not answer"
    return problem(
        status,
        error.reason or error.code.name,
        detail,
        violations=error.field_violations,
        retry_after=retry_after if status in (429, 503) else None,
        request_id=error.request_id,
    )
