"""Every route docs/registry-wire.md names is served by the simulator, and nothing else."""

import re
from pathlib import Path

from starlette.routing import Match, Route

from simulators.registry.app import ROUTES

WIRE = Path(__file__).parents[3] / "docs" / "registry-wire.md"
_ROUTE = re.compile(r"`?(GET|POST|PUT|DELETE) (?:\{base\})?(/[^\s`?]*)")


def _documented() -> set[tuple[str, str]]:
    return {(method, path) for method, path in _ROUTE.findall(WIRE.read_text(encoding="utf-8"))}


def _served(method: str, path: str) -> bool:
    concrete = path.replace("{uscc}", "91330106MA27XXXX00")
    scope = {"type": "http", "method": method, "path": concrete}
    return any(route.matches(scope)[0] is Match.FULL for route in ROUTES)


def test_every_documented_route_is_served() -> None:
    documented = _documented()
    assert len(documented) >= 12
    assert not [route for route in documented if not _served(*route)]


def test_every_served_route_is_documented() -> None:
    documented = _documented()
    for route in ROUTES:
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                assert (method, route.path) in documented, (method, route.path)
