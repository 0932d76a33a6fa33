"""The gateway's ASGI application: routes, error table, security headers, OpenAPI document."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from clients.errors import FieldViolation, IntegrityCallError
from gateway import api, pages
from gateway.data_export import export_schema
from gateway.identity import KeysUnavailable, PlatformKeys, TokenRejected, TokenVerifier
from gateway.problems import MEDIA_TYPE, from_call_error, problem
from gateway.proto_schema import message_schema
from gateway.sessions import SessionCodec
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream
from service.app.ports import Clock

TITLE = "Enterprise integrity service: merchant gateway"
STATIC = Path(__file__).parent / "static"
VERSION = "1"
SECURITY_HEADERS = {
    # No script, style or frame of anyone's runs in a response of ours; pages add only
    # their own stylesheet and images.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_PROBLEM_STATUSES = ("400", "401", "403", "404", "409", "429", "503")


def _violations(error: RequestValidationError) -> list[FieldViolation]:
    found = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part not in ("query", "path")]
        found.append(
            FieldViolation(
                ".".join(location) or "request",
                str(item.get("msg", "is not valid")),
                str(item.get("type", "invalid")).upper().replace(".", "_"),
            )
        )
    return found


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path answers: Starlette's own 405 names only the
    first route's, and a path's GET and POST are two routes."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _child = route.matches(request.scope)
        if match is not Match.NONE and isinstance(route, Route) and route.methods:
            methods |= route.methods
    return sorted(methods)


def _install_error_table(app: FastAPI) -> None:
    async def call_failed(_request: Request, error: Exception) -> Response:
        assert isinstance(error, IntegrityCallError)
        return from_call_error(error)

    async def token_rejected(_request: Request, error: Exception) -> Response:
        assert isinstance(error, TokenRejected)
        challenge = f'Bearer error="invalid_token", error_description="{error.message}"'
        return problem(401, error.reason, error.message, headers={"WWW-Authenticate": challenge})

    async def keys_unavailable(_request: Request, error: Exception) -> Response:
        return problem(
            503, "PLATFORM_KEYS_UNAVAILABLE", "the platform's keys could not be fetched",
            retry_after=5,
        )  # fmt: skip

    async def invalid_request(_request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return problem(
            400, "REQUEST_INVALID", "the request is not valid", violations=_violations(error)
        )

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        reason = {404: "ROUTE_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
            error.status_code, "HTTP_ERROR"
        )
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem(error.status_code, reason, str(error.detail), headers=headers)

    app.add_exception_handler(IntegrityCallError, call_failed)
    app.add_exception_handler(TokenRejected, token_rejected)
    app.add_exception_handler(KeysUnavailable, keys_unavailable)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """OpenAPI 3.1: the routes, the bodies' schemas from the protos, problems for errors."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=TITLE, version=VERSION, openapi_version="3.1.0", routes=app.routes)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for descriptor in api.BODIES.values():
        message_schema(descriptor, schemas)
    schemas["Problem"] = dict(api.problem_schema())
    schemas["EnterpriseDataExport"] = export_schema()
    for name in ("ValidationError", "HTTPValidationError"):
        schemas.pop(name, None)
    problem_content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in _PROBLEM_STATUSES:
                responses.setdefault(
                    status, {"description": "A problem", "content": problem_content}
                )
            for success in ("200", "201"):
                if success in responses:
                    responses[success]["description"] = "The service's answer"
    app.openapi_schema = document
    return document


def build_app(
    settings: GatewaySettings,
    clock: Clock,
    *,
    upstream: Upstream | None = None,
    http: httpx.AsyncClient | None = None,
) -> FastAPI:
    """The gateway on these settings; upstream and http (for platforms' keys) are made from
    the settings unless given, when the application starts (a gRPC channel belongs to the
    event loop it was made on: the server's), and closed with it if made here."""
    keys = PlatformKeys(http)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_upstream = upstream is None
        app.state.upstream = upstream or Upstream(
            settings.upstream,
            settings.token,
            tls=settings.upstream_tls,
            timeout=settings.upstream_timeout_seconds,
        )
        own_http = http is None
        if own_http:
            keys.use(httpx.AsyncClient())
        try:
            yield
        finally:
            if own_upstream:
                await app.state.upstream.close()
            if own_http:
                await keys.aclose()

    app = FastAPI(
        title=TITLE,
        version=VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.sessions = SessionCodec(settings.session_key)
    app.state.verifier = TokenVerifier(
        settings.issuers, keys, clock, skew_seconds=settings.clock_skew_seconds
    )
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_error_table(app)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
