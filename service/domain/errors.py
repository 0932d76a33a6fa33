"""The service's one error tree.

Every error the service raises on purpose derives from ServiceError and knows
its status (named after the gRPC code, without importing grpc: the domain stays
free of transport) and a stable UPPER_SNAKE reason. The API layer maps them to
the wire in one table (service/api/errors.py).

    ServiceError
    ├── InvalidArgument       bad request; carries one FieldViolation per bad field
    ├── NotFound
    ├── AlreadyExists         e.g. a request_id reused with different content
    ├── FailedPrecondition    e.g. authorisation that does not cover the purpose
    ├── Unauthenticated
    ├── PermissionDenied
    ├── ResourceExhausted     carries retry_after_seconds
    └── Unavailable           a dependency (registry, database) cannot be reached;
                              carries retry_after_seconds

InvalidIdentifier is raised by the identifier parsers; it is a ValueError
describing one problem with one value, which callers turn into a
FieldViolation once they know the field's path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """Outcome classes, named after the gRPC status codes they map to."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its path in the request, what is wrong, and a stable reason."""

    field: str
    description: str
    reason: str


class ServiceError(Exception):
    status: Status = Status.FAILED_PRECONDITION
    reason: str = "SERVICE_ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidArgument(ServiceError):
    status = Status.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        violations: Iterable[FieldViolation],
        message: str | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        self.violations = tuple(violations)
        if not self.violations:
            raise ValueError("InvalidArgument needs at least one violation")
        fields = ", ".join(v.field for v in self.violations)
        super().__init__(message or f"invalid request: {fields}", reason=reason)


class NotFound(ServiceError):
    status = Status.NOT_FOUND
    reason = "NOT_FOUND"


class AlreadyExists(ServiceError):
    status = Status.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class FailedPrecondition(ServiceError):
    status = Status.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class Unauthenticated(ServiceError):
    status = Status.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class PermissionDenied(ServiceError):
    status = Status.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class ResourceExhausted(ServiceError):
    status = Status.RESOURCE_EXHAUSTED
    reason = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, *, retry_after_seconds: float, reason: str | None = None):
        super().__init__(message, reason=reason)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(ServiceError):
    """Nothing the caller did: storage or a dependency is down. Safe to retry after a pause."""

    status = Status.UNAVAILABLE
    reason = "UNAVAILABLE"

    def __init__(
        self, message: str, *, retry_after_seconds: float = 1.0, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_seconds = retry_after_seconds


class InvalidIdentifier(ValueError):
    """One problem with one identifier or text value, before its field path is known."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description

    def at(self, field: str) -> FieldViolation:
        return FieldViolation(field=field, description=self.description, reason=self.reason)
