"""A lean HTTP/1.1 transport for httpx: kept-alive connections and a native parser.

A registry source is one origin asked many small questions: a GET or a POST with a small
JSON body, a JSON answer of a few kilobytes. httpx's default transport (httpcore over
anyio, the h11 parser in Python) spends more CPU on each such exchange than the rest of a
re-verification does; this one writes the request in one piece and parses the answer with
httptools (llhttp, the parser Node.js uses), on asyncio's own transports.

What it does and does not do:
- HTTP/1.1 only, one request at a time per connection, connections kept alive and reused
  most recent first. A connection the server closed while idle is dropped as soon as the
  event loop hears of it, so taking one costs no system call.
- A GET sent on a reused connection that the server closed before answering (a keep-alive
  race) is sent once more on a new connection; nothing else is retried here (the source's
  retry policy decides, transport.py).
- An answer framed by closing the connection (no length, no chunks) ends at the close.
- The answer is read whole, up to MAX_BODY_BYTES, before it is returned; its
  Content-Encoding is undone by httpx as usual.
- Timeouts are httpx's (the request's "timeout" extension): connect, write, and read, the
  longest wait for the next bytes of the answer. Failures are httpx's exceptions
  (ConnectError, ConnectTimeout, ReadTimeout, ReadError, WriteError, RemoteProtocolError),
  which the source's transport already tells apart.
- No proxies, no HTTP/2, no upgrades, no HEAD: a source is a direct HTTP(S) API.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import cast

import httptools
import httpx

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Far above any registry answer; a larger one is a broken or hostile upstream."""


class _Exchange:
    """One answer being received: what the parser has told so far."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_complete = False
        self.started = False
        self.body = bytearray()
        self.done: asyncio.Future[None] = loop.create_future()
        self.keep_alive = False

    def delimited_by_close(self) -> bool:
        """An answer with neither a length nor chunks ends when the server closes."""
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names


class _BodyTooLarge(Exception):
    pass


class _ClosedBeforeAnswer(httpx.RemoteProtocolError):
    """The server closed the connection before any answer (the request may be unread)."""

    def __init__(self) -> None:
        super().__init__("server disconnected without sending an answer")


class _Connection(asyncio.Protocol):
    def __init__(self, origin: tuple[str, str, int], loop: asyncio.AbstractEventLoop) -> None:
        self.origin = origin
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._exchange: _Exchange | None = None
        self._read_timeout: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.reused = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's or uvloop's: the same methods, but uvloop's are not asyncio classes.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._exchange is None:
            # Bytes nobody asked for: the connection's framing is lost.
            self._fail(httpx.RemoteProtocolError("unexpected bytes on an idle connection"))
            return
        self._exchange.started = True
        self._arm_timer()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            # A callback's own exception comes back wrapped in the parser's.
            if isinstance(error.__cause__ or error.__context__, _BodyTooLarge):
                self._fail(httpx.RemoteProtocolError("answer larger than the transport accepts"))
            else:
                self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {error}"))

    def eof_received(self) -> bool | None:
        exchange = self._exchange
        if exchange is not None and exchange.headers_complete and exchange.delimited_by_close():
            self._finish(exchange, keep_alive=False)
        elif exchange is not None and exchange.started:
            self._fail(httpx.RemoteProtocolError("server disconnected in the middle of an answer"))
        self._fail(_ClosedBeforeAnswer())
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"connection lost: {type(exc).__name__}" if exc else "connection closed"
        self._fail(httpx.ReadError(reason))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._exchange is not None
        self._exchange.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._exchange is not None
        self._exchange.status = self._parser.get_status_code()
        self._exchange.headers_complete = True

    def on_body(self, body: bytes) -> None:
        assert self._exchange is not None
        self._exchange.body += body
        if len(self._exchange.body) > MAX_BODY_BYTES:
            raise _BodyTooLarge

    def on_message_complete(self) -> None:
        assert self._exchange is not None
        self._finish(self._exchange, keep_alive=self._parser.should_keep_alive())

    # use

    async def exchange(self, head: bytes, body: bytes, read_timeout: float | None) -> _Exchange:
        assert self._transport is not None
        if self.closed or self._transport.is_closing():
            raise _ClosedBeforeAnswer()
        exchange = _Exchange(self._loop)
        self._exchange = exchange
        self._read_timeout = read_timeout
        self._transport.write(head + body)
        self._arm_timer()
        try:
            await exchange.done
        finally:
            self._disarm_timer()
        return exchange

    def close(self) -> None:
        self.closed = True
        self._disarm_timer()
        if self._transport is not None:
            self._transport.close()

    def _arm_timer(self) -> None:
        # The read timeout is the longest wait for the next bytes, as httpx's is: re-armed
        # on every arrival (a timer handle, cheaper than a task per wait).
        self._disarm_timer()
        if self._read_timeout is not None:
            self._timer = self._loop.call_later(self._read_timeout, self._timed_out)

    def _disarm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        self._fail(httpx.ReadTimeout("no answer within the read timeout"))

    def _finish(self, exchange: _Exchange, *, keep_alive: bool) -> None:
        exchange.keep_alive = keep_alive
        self._exchange = None
        self._disarm_timer()
        if not exchange.done.done():
            exchange.done.set_result(None)

    def _fail(self, error: Exception) -> None:
        self.closed = True
        self._disarm_timer()
        exchange, self._exchange = self._exchange, None
        if exchange is not None and not exchange.done.done():
            exchange.done.set_exception(error)
        if self._transport is not None:
            self._transport.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_keepalive_connections: int) -> None:
        self._max_idle = max_keepalive_connections
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._ssl: ssl.SSLContext | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        body = await request.aread()
        head = _head(request)
        connection = self._reuse(origin)
        try:
            if connection is None:
                connection = await self._connect(origin, timeouts.get("connect"))
            try:
                exchange = await connection.exchange(head, body, timeouts.get("read"))
            except _ClosedBeforeAnswer:
                if not (connection.reused and request.method == "GET"):
                    raise
                self._forget(connection)
                connection = await self._connect(origin, timeouts.get("connect"))
                exchange = await connection.exchange(head, body, timeouts.get("read"))
        except BaseException:
            if connection is not None:
                connection.close()
                self._forget(connection)
            raise
        if exchange.keep_alive and not connection.closed:
            self._keep(connection)
        else:
            connection.close()
            self._forget(connection)
        return httpx.Response(
            exchange.status,
            headers=exchange.headers,
            content=bytes(exchange.body),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def _reuse(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                connection.reused = True
                return connection
            self._open.discard(connection)
        return None

    def _keep(self, connection: _Connection) -> None:
        idle = self._idle.setdefault(connection.origin, deque())
        if len(idle) >= self._max_idle:
            connection.close()
            self._forget(connection)
            return
        idle.append(connection)

    def _forget(self, connection: _Connection) -> None:
        self._open.discard(connection)

    async def _connect(self, origin: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        context = self._ssl_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(origin, loop),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} in time") from None
        except (OSError, ssl.SSLError) as error:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {error}") from None
        self._open.add(connection)
        return connection

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            # httpx's own defaults: certifi's roots, SSL_CERT_FILE / SSL_CERT_DIR honoured.
            self._ssl = httpx.create_ssl_context()
        return self._ssl

    async def aclose(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()


def _head(request: httpx.Request) -> bytes:
    target = request.url.raw_path
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    lines.extend(name + b": " + value for name, value in request.headers.raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"
