"""A real HTTP server on loopback that answers from a script: for the registry clients'
wire and resilience tests.

Each request is answered by the next scripted answer, or by the default once the script
runs out. An answer may hold its request until the test releases it, so a test can see
how many requests are in flight at once without timing anything.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    """Sent as it is instead of body as JSON (for answers that are not JSON)."""
    declared_length: int | None = None
    """The Content-Length sent instead of the payload's own; the connection is closed after
    the payload, so a longer one ends the body mid-way."""


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    def __init__(self) -> None:
        self.script: deque[Answer | Callable[[Seen], Answer]] = deque()
        self.default: Answer | Callable[[Seen], Answer] = Answer(500, {"error": "internal"})
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold = threading.Event()
        self.hold.set()  # not holding unless a test clears it
        self._changed = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                answer = server._enter(seen)
                try:
                    server.hold.wait(timeout=30)
                    payload = answer.raw
                    if payload is None:
                        payload = json.dumps(answer.body, ensure_ascii=False).encode()
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    length = answer.declared_length
                    self.send_header(
                        "Content-Length", str(len(payload) if length is None else length)
                    )
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                    if answer.declared_length is not None:
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up on it (a timeout)
                finally:
                    server._leave()

            do_GET = _serve
            do_POST = _serve

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def _enter(self, seen: Seen) -> Answer:
        with self._changed:
            self.seen.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._changed.notify_all()
            step = self.script.popleft() if self.script else self.default
        return step(seen) if callable(step) else step

    def _leave(self) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def wait_until(self, condition: Callable[[ScriptedServer], bool], timeout: float = 10) -> None:
        """Block (a thread, not the event loop) until condition holds; fail after timeout."""
        with self._changed:
            if not self._changed.wait_for(lambda: condition(self), timeout):
                raise AssertionError("the scripted server never reached the expected state")

    def answer(self, *answers: Answer | Callable[[Seen], Answer]) -> None:
        self.script.extend(answers)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.hold.set()
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    yield server
    server.stop()
