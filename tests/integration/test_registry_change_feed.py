"""The registry provider's change feed, read over real HTTP from a feed server on loopback."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from clients import AsyncIntegrityClient
from service.adapters.registry_changes import HttpRegistryChangeFeed
from service.app.ports import RegistryUnavailable
from service.bootstrap import Application, bootstrap
from service.domain import batches
from service.domain.batches import ChangeSource
from service.domain.errors import FailedPrecondition
from service.settings import Settings
from tests.builders import import_rows, new_uscc, registry_row, verification_for
from tests.clock import TestClock
from tests.registry_simulator import GOV_TOKEN, RegistrySimulator

TOKEN = "feed-token"


@dataclass
class Feed:
    """What the feed server answers: changes oldest first, paged two at a time."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    # Statuses to answer before the next page, once each (e.g. a 503 with Retry-After).
    hiccups: list[int] = field(default_factory=list)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    page_size: int = 2


class _Handler(BaseHTTPRequestHandler):
    feed: Feed

    def log_message(self, *_args: Any) -> None:
        return None

    def _answer(self, status: int, body: dict[str, Any], **headers: str) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.feed.requests.append(query)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, {"error": "unauthorised", "message": "bad token"})
            return
        if url.path != "/v1/changes":
            self._answer(404, {"error": "not_found", "message": url.path})
            return
        if self.feed.hiccups:
            self._answer(self.feed.hiccups.pop(0), {"error": "unavailable"}, Retry_After="0")
            return
        since = dt.datetime.fromisoformat(query["since"][0])
        matching = [
            c for c in self.feed.changes if dt.datetime.fromisoformat(c["changedAt"]) >= since
        ]
        start = int(query.get("cursor", ["0"])[0])
        page = matching[start : start + self.feed.page_size]
        more = start + self.feed.page_size < len(matching)
        self._answer(
            200, {"changes": page, "nextCursor": str(start + self.feed.page_size) if more else None}
        )


@pytest.fixture
def feed() -> Iterator[tuple[Feed, str]]:
    state = Feed()
    handler = type("FeedHandler", (_Handler,), {"feed": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _change(uscc: str, when: dt.datetime, items: list[str]) -> dict[str, Any]:
    return {"uscc": uscc, "changedAt": when.isoformat().replace("+00:00", "Z"), "items": items}


async def test_pages_are_followed_and_each_enterprise_comes_once(
    feed: tuple[Feed, str], clock: TestClock
) -> None:
    state, url = feed
    now = clock.now()
    first, second, third = new_uscc(), new_uscc(), new_uscc()
    state.changes = [
        _change(first, now - dt.timedelta(days=3), ["status"]),
        _change(second, now - dt.timedelta(hours=5), ["term"]),
        _change(third, now - dt.timedelta(hours=4), ["published"]),
        _change(second, now - dt.timedelta(hours=1), ["legal_representative"]),
    ]
    state.hiccups = [503]  # asked again after Retry-After
    reader = HttpRegistryChangeFeed(url, TOKEN)
    since = now - dt.timedelta(days=1)
    assert [u async for u in reader.changed_since(since)] == [second, third]
    assert state.requests[-1]["cursor"] == ["2"]
    assert state.requests[0]["since"] == [since.isoformat().replace("+00:00", "Z")]


async def test_a_refused_token_and_a_lasting_outage_are_told_apart(
    feed: tuple[Feed, str], clock: TestClock
) -> None:
    state, url = feed
    with pytest.raises(FailedPrecondition) as refused:
        [u async for u in HttpRegistryChangeFeed(url, "wrong").changed_since(clock.now())]
    assert refused.value.reason == "CHANGE_FEED_UNAUTHORISED"
    state.hiccups = [503] * 4
    with pytest.raises(RegistryUnavailable):
        [u async for u in HttpRegistryChangeFeed(url, TOKEN).changed_since(clock.now())]
    state.hiccups = [400]
    with pytest.raises(RegistryUnavailable):
        [u async for u in HttpRegistryChangeFeed(url, TOKEN).changed_since(clock.now())]


async def test_unreachable_feed_is_unavailable(clock: TestClock) -> None:
    # A port nobody listens on: bound, then closed.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RegistryUnavailable):
        [
            u
            async for u in HttpRegistryChangeFeed(f"http://127.0.0.1:{port}", TOKEN).changed_since(
                clock.now()
            )
        ]


async def test_a_batch_of_changes_from_the_feed(
    app: Application,
    client: AsyncIntegrityClient,
    settings: Settings,
    clock: TestClock,
    feed: tuple[Feed, str],
    tmp_path: Path,
) -> None:
    state, url = feed
    changed, quiet = registry_row(), registry_row()
    await import_rows(app, [changed, quiet])
    for row in (changed, quiet):
        await client.create_verification(verification_for(row))
    now = clock.now()
    # The feed also names an enterprise nobody verified: nothing to re-check there.
    state.changes = [
        _change(changed["uscc"], now - dt.timedelta(hours=2), ["status"]),
        _change(new_uscc(), now - dt.timedelta(hours=1), ["published"]),
    ]
    selection = batches.changed_since(now - dt.timedelta(days=1), ChangeSource.FEED)
    with pytest.raises(FailedPrecondition) as unconfigured:
        await app.batches.start(selection, created_by="ops")
    assert unconfigured.value.reason == "CHANGE_FEED_NOT_CONFIGURED"

    token_file = tmp_path / "feed-token"
    token_file.write_text(TOKEN + "\n")
    configured = dataclasses.replace(
        settings, registry_changes_url=url, registry_changes_token_file=str(token_file)
    )
    with_feed = await bootstrap(configured, clock=clock)
    try:
        batch = await with_feed.batches.start(selection, created_by="ops")
        items = await with_feed.batch_store.claim("t", now, now, 10)
    finally:
        await with_feed.close()
    assert batch.item_count == 1
    assert [item.uscc for item in items] == [changed["uscc"]]


async def test_the_registry_simulators_feed_page_by_page(
    registry_simulator: RegistrySimulator,
) -> None:
    control = registry_simulator.control
    start = control.now()
    first, second, third = control.codes(limit=3)
    control.schedule_change(first, status="注销")
    control.schedule_change(second, term={"start": "2026-11-01", "end": "2046-10-31"})
    control.schedule_change(first, term={"start": "2026-11-01", "end": "2036-10-31"})
    # Past any publication lag: the feed shows what the registry has published.
    control.advance_clock(dt.timedelta(days=30))
    reader = HttpRegistryChangeFeed(registry_simulator.url, GOV_TOKEN, page_limit=1)
    assert [u async for u in reader.changed_since(start)] == [first, second]
    later = control.now()
    assert [u async for u in reader.changed_since(later)] == []
    assert third not in [u async for u in reader.changed_since(start)]
