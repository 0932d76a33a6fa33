"""The ASGI application: both registry shapes and the simulator's control routes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from simulators.registry import control, gov, provider
from simulators.registry.state import Simulator

ROUTES = (
    Route("/v1/enterprises/{uscc}", gov.enterprise, methods=["GET"]),
    Route("/v1/changes", gov.changes, methods=["GET"]),
    Route("/open/v2/enterprise/verify", provider.verify, methods=["POST"]),
    Route("/_sim/health", control.health, methods=["GET"]),
    Route("/_sim/stats", control.stats, methods=["GET", "DELETE"]),
    Route("/_sim/records", control.codes, methods=["GET"]),
    Route("/_sim/records/{uscc}", control.record, methods=["GET", "PUT"]),
    Route("/_sim/records/{uscc}/changes", control.schedule_change, methods=["POST"]),
    Route("/_sim/clock", control.clock, methods=["GET", "POST"]),
    Route("/_sim/settings", control.settings, methods=["GET", "POST"]),
)


def build_app(simulator: Simulator) -> Starlette:
    app = Starlette(routes=list(ROUTES))
    app.state.simulator = simulator
    return app
