"""The error the clients raise: a failed call with the service's rich status unpacked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str
    reason: str


class IntegrityCallError(Exception):
    """A call that did not succeed.

    code: the gRPC status code. reason: the service's UPPER_SNAKE reason (ErrorInfo).
    field_violations: for INVALID_ARGUMENT, every bad field and why.
    retry_after_seconds: for RESOURCE_EXHAUSTED, how long to wait.
    request_id: quote it when reporting a problem.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        field_violations: tuple[FieldViolation, ...] = (),
        retry_after_seconds: float | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.field_violations = field_violations
        self.retry_after_seconds = retry_after_seconds
        self.request_id = request_id

    def to_json(self) -> str:
        return json.dumps(
            {
                "code": self.code.name,
                "message": self.message,
                "reason": self.reason,
                "field_violations": [v.__dict__ for v in self.field_violations],
            },
            ensure_ascii=False,
        )


def _binary_status(trailing: Any) -> status_pb2.Status | None:
    for key, value in trailing or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status()
            status.ParseFromString(value)
            return status
    return None


def from_rpc_error(error: grpc.RpcError) -> IntegrityCallError:
    call: Any = error  # a grpc.Call as well as an RpcError
    code: grpc.StatusCode = call.code()
    message: str = call.details() or ""
    trailing = call.trailing_metadata()
    request_id = next((v for k, v in trailing or () if k == "x-request-id"), "")
    reason = ""
    violations: list[FieldViolation] = []
    retry_after: float | None = None
    status = _binary_status(trailing)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.extend(
                FieldViolation(v.field, v.description, v.reason) for v in bad.field_violations
            )
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            retry_after = retry.retry_delay.ToNanoseconds() / 1e9
    return IntegrityCallError(
        code,
        message,
        reason=reason,
        field_violations=tuple(violations),
        retry_after_seconds=retry_after,
        request_id=request_id,
    )
