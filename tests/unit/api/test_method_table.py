"""The server's method table and the scope table must agree, or the server does not start."""

from __future__ import annotations

import re
from typing import Any

import grpc
import pytest

from service.api.callers import METHOD_SCOPES
from service.api.request_handling import WrappingRegistrar


class _Server:
    """Records what is registered; no sockets."""

    def __init__(self) -> None:
        self.registered: dict[str, Any] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.registered.update(handlers)


async def _noop(request: Any, call: Any) -> None:
    return None


def _handler() -> Any:
    return grpc.unary_unary_rpc_method_handler(
        _noop, request_deserializer=bytes, response_serializer=bytes
    )


def _registrar() -> WrappingRegistrar:
    return WrappingRegistrar(_Server(), gate=None, is_outage=lambda error: False)  # type: ignore[arg-type]


def test_a_method_without_a_scope_is_refused_at_registration() -> None:
    with pytest.raises(RuntimeError, match=re.escape("/integrity.v1.VerificationService/Teleport")):
        _registrar().add_registered_method_handlers(
            "integrity.v1.VerificationService", {"Teleport": _handler()}
        )


def test_a_scope_for_a_method_not_served_stops_the_start() -> None:
    registrar = _registrar()
    served = sorted(METHOD_SCOPES)[1:]
    for method in served:
        service, name = method.strip("/").split("/")
        registrar.add_registered_method_handlers(service, {name: _handler()})
    with pytest.raises(RuntimeError, match=re.escape(sorted(METHOD_SCOPES)[0])):
        registrar.check_complete()


def test_every_scoped_method_served_passes() -> None:
    registrar = _registrar()
    for method in METHOD_SCOPES:
        service, name = method.strip("/").split("/")
        registrar.add_registered_method_handlers(service, {name: _handler()})
    registrar.check_complete()
