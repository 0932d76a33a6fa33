"""The request handling around every API method: request id, credentials and rate (the
call gate), parsing and the first screen of the request, the structured access log, and
the error mapping. The caller's principal is handed to the servicer on the call itself.

Servicers raise ServiceError; this turns it into a gRPC status with details. A storage
outage (the database down, unreachable or full) is UNAVAILABLE with a retry delay.
Anything else is a bug: logged by type only (messages may hold personal data) and
answered INTERNAL with the request id to quote.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import structlog
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from grpc_status import rpc_status

from service.api.callers import METHOD_SCOPES, CallGate, Principal
from service.api.errors import GRPC_CODES, internal_status, to_rpc_status
from service.api.request_screen import screen_request
from service.domain.errors import FieldViolation, InvalidArgument, ServiceError, Unavailable
from service.logging import CallContext, current_call, info_enabled

log = structlog.get_logger("integrity.access")

REQUEST_ID_HEADER = "x-request-id"
_MAX_INBOUND_REQUEST_ID = 64

# grpc-stubs lags the aio API (abort_with_status and friends), so contexts are typed Any here.
Context = Any
Metadata = tuple[tuple[str, str | bytes], ...]

# grpc-stubs make the handler classes generic; at run time they are not subscriptable.
if TYPE_CHECKING:
    _GenericRpcHandler = grpc.GenericRpcHandler[Any, Any]
else:
    _GenericRpcHandler = grpc.GenericRpcHandler


# Request ids need to be unique, not secret: a random per-process prefix and a counter
# cost nothing, where a uuid4 per call costs a getrandom system call on the hot path. The
# prefix is hex with its digits written as letters (0-9 as g-p): random hex holds runs of
# digits that read as a phone number often enough, and the logs' personal-data screen
# would then redact the request id a caller quotes.
_ID_PREFIX = uuid.uuid4().hex[:16].translate(str.maketrans("0123456789", "ghijklmnop"))
_id_counter = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


def _request_id(metadata: Metadata) -> str:
    for key, value in metadata:
        # Echo only a well-formed caller id into our logs, never arbitrary text.
        if (
            key == REQUEST_ID_HEADER
            and isinstance(value, str)
            and 0 < len(value) <= _MAX_INBOUND_REQUEST_ID
            and value.replace("-", "").isascii()
            and value.replace("-", "").isalnum()
        ):
            return value
    return _new_request_id()


class _StatusWithRequestId(grpc.Status):
    """Aborting replaces trailing metadata: carry the request id alongside the details."""

    def __init__(self, status: status_pb2.Status, request_id: str) -> None:
        base = rpc_status.to_status(status)
        self.code = base.code
        self.details = base.details
        self.trailing_metadata = (*base.trailing_metadata, (REQUEST_ID_HEADER, request_id))


@dataclass(frozen=True, slots=True)
class ApiCall:
    """What a servicer method gets besides its request: who is calling, handed to it
    explicitly for this one call, and grpc's own context for anything else."""

    principal: Principal
    grpc_context: Context


Behaviour = Callable[[Any, ApiCall], Awaitable[Any]]
Parse = Callable[[bytes], Any]
IsOutage = Callable[[BaseException], bool]


def _parse(parse: Parse, payload: bytes) -> Any:
    try:
        return parse(payload)
    except (DecodeError, ValueError, RecursionError) as error:
        raise InvalidArgument(
            [FieldViolation("", "not a serialized request message", "REQUEST_MALFORMED")],
            "the request could not be parsed (invalid protobuf or invalid UTF-8 in a text field)",
            reason="REQUEST_MALFORMED",
        ) from error


def _wrap(
    behaviour: Behaviour, parse: Parse, method: str, gate: CallGate, is_outage: IsOutage
) -> Callable[[bytes, Context], Awaitable[Any]]:
    async def handle(payload: bytes, context: Context) -> Any:
        metadata: Metadata = context.invocation_metadata() or ()
        request_id = _request_id(metadata)
        call = CallContext(request_id, method)
        entered = current_call.set(call)
        started = time.perf_counter()
        context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))

        def access_line(code: grpc.StatusCode) -> None:
            # Written before the answer leaves: a caller that has its answer finds the line.
            if info_enabled():
                log.info(
                    "rpc",
                    code=code.name,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                )

        async def refuse(code: grpc.StatusCode, status: status_pb2.Status) -> None:
            access_line(code)
            await context.abort_with_status(_StatusWithRequestId(status, request_id))

        try:
            headers = {key: value for key, value in metadata if isinstance(value, str)}
            principal = await gate.admit(method, headers)
            call.caller = principal.caller.id
            # Parsed here, not by grpc: a request grpc cannot parse would otherwise be
            # answered INTERNAL, with no request id and no access-log line.
            request = _parse(parse, payload)
            problems = screen_request(request)
            if problems:
                raise InvalidArgument(problems)
            response = await behaviour(request, ApiCall(principal, context))
            access_line(grpc.StatusCode.OK)
            return response
        except ServiceError as error:
            await refuse(GRPC_CODES[error.status], to_rpc_status(error))
        except grpc.aio.AbortError:
            # The handler aborted on its own: log the code it chose, not OK.
            access_line(context.code() or grpc.StatusCode.UNKNOWN)
            raise
        except asyncio.CancelledError:
            access_line(grpc.StatusCode.CANCELLED)  # the client went away or its deadline passed
            raise
        except Exception as error:
            if is_outage(error):
                log.warning("storage_unavailable", error_type=type(error).__name__)
                outage = Unavailable(
                    "storage is unavailable; nothing was changed, retry",
                    reason="STORAGE_UNAVAILABLE",
                )
                await refuse(grpc.StatusCode.UNAVAILABLE, to_rpc_status(outage))
            log.error("unhandled_error", error_type=type(error).__name__)
            await refuse(grpc.StatusCode.INTERNAL, internal_status(request_id))
        finally:
            current_call.reset(entered)

    return handle


class _MethodTable(_GenericRpcHandler):
    """Every API method in one dict. grpc.aio asks its generic handlers in turn, each
    checking its own service; one table answers for all of them with a single lookup."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        return self.handlers.get(handler_call_details.method)


class WrappingRegistrar:
    """Stands in for the server when the generated add_*_to_server functions register a
    service, and registers every unary method wrapped in the request handling above.

    Wrapping once at registration, rather than in a grpc.aio ServerInterceptor, spares each
    call the interceptor pipeline and a new method handler: on the eligibility path that is
    a large share of the per-call cost.
    """

    def __init__(self, server: Any, gate: CallGate, is_outage: IsOutage) -> None:
        self._server = server
        self._gate = gate
        self._is_outage = is_outage
        self._table = _MethodTable()
        server.add_generic_rpc_handlers((self._table,))

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: the same methods arrive through add_registered_method_handlers."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        unscoped = sorted(f"/{service}/{name}" for name in handlers)
        unscoped = [method for method in unscoped if method not in METHOD_SCOPES]
        if unscoped:
            raise RuntimeError(f"methods with no scope in METHOD_SCOPES: {', '.join(unscoped)}")
        wrapped = {
            name: grpc.unary_unary_rpc_method_handler(
                _wrap(
                    handler.unary_unary,
                    handler.request_deserializer,
                    f"/{service}/{name}",
                    self._gate,
                    self._is_outage,
                ),
                # The payload arrives as bytes and is parsed inside the request handling.
                request_deserializer=None,
                response_serializer=handler.response_serializer,
            )
            for name, handler in handlers.items()
        }
        self._table.handlers.update(
            (f"/{service}/{name}", handler) for name, handler in wrapped.items()
        )
        # grpc.aio ignores registered methods today; the sync server and later releases
        # look them up first.
        self._server.add_registered_method_handlers(service, wrapped)

    def check_complete(self) -> None:
        """Every method the scope table names is served: a scope for a method that is not
        registered means the table and the server disagree, so the server does not start."""
        missing = sorted(set(METHOD_SCOPES) - set(self._table.handlers))
        if missing:
            raise RuntimeError(f"METHOD_SCOPES names methods not served: {', '.join(missing)}")
