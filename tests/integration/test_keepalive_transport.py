"""The registry sources' HTTP/1.1 transport (keepalive.py), and the requests the sources
send on it (source_http.py), against a real server on loopback that sends exactly the
bytes each test scripts: reuse, framing, encodings, the keep-alive race, failures as
httpx's exceptions, TLS, paths, headers and redirects."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from service.adapters.registry_http import keepalive
from service.adapters.registry_http.keepalive import KeepAliveTransport
from service.adapters.registry_http.source_http import SourceHttp
from tests.certificates import CertificateAuthority

# What the server does with one request on a connection: the bytes to send back (None:
# close without answering), and whether to close after sending.
Reply = Callable[[int, bytes], tuple[bytes | None, bool]]


def answer(body: bytes = b'{"ok":true}', status: str = "200 OK", *extra: str) -> bytes:
    headers = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


class RawServer:
    """Counts connections and requests; answers each request as `reply` says."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, context: ssl.SSLContext | None = None) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                number += 1
                data, close = self.reply(number, request)
                if data is None:
                    break
                writer.write(data)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., object]]:
    servers: list[RawServer] = []

    async def start(reply: Reply, context: ssl.SSLContext | None = None) -> RawServer:
        server = RawServer(reply)
        await server.start(context)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def client(port: int, scheme: str = "http", timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{scheme}://127.0.0.1:{port}",
        transport=KeepAliveTransport(4),
        timeout=timeout,
    )


async def test_answers_come_back_and_one_connection_serves_them_in_turn(serve) -> None:
    server = await serve(lambda n, _: (answer(f'{{"n":{n}}}'.encode()), False))
    async with client(server.port) as http:
        numbers = [(await http.get("/v1/enterprises/x")).json()["n"] for _ in range(5)]
    assert numbers == [1, 2, 3, 4, 5]
    assert server.connections == 1
    first = server.requests[0].decode()
    assert first.startswith("GET /v1/enterprises/x HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{server.port}" in first.lower()


async def test_requests_at_once_get_connections_of_their_own(serve) -> None:
    server = await serve(lambda n, _: (answer(), False))
    async with client(server.port) as http:
        answers = await asyncio.gather(*(http.get(f"/q/{i}") for i in range(3)))
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert server.connections == 3
        await http.get("/again")
    assert server.connections == 3  # kept alive, reused


async def test_a_post_body_arrives_whole(serve) -> None:
    server = await serve(lambda n, _: (answer(), False))
    body = {"name": "杭州西湖茶业有限公司", "padding": "x" * 100_000}
    async with client(server.port) as http:
        response = await http.post("/open/v2/enterprise/verify", json=body)
    assert response.status_code == 200
    sent = server.requests[0]
    assert sent.split(b"\r\n\r\n", 1)[1] == httpx.Request("POST", "http://x", json=body).read()


async def test_chunked_and_gzip_answers_are_decoded(serve) -> None:
    payload = gzip.compress(b'{"chunked":"yes"}')
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (payload[:7], payload[7:]))
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    server = await serve(lambda n, _: (raw, False))
    async with client(server.port) as http:
        first = await http.get("/a")
        second = await http.get("/b")
    assert first.json() == second.json() == {"chunked": "yes"}
    assert server.connections == 1


async def test_an_answer_framed_by_closing_ends_at_the_close(serve) -> None:
    raw = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"framed":"by close"}'
    server = await serve(lambda n, _: (raw, True))
    async with client(server.port) as http:
        assert (await http.get("/a")).json() == {"framed": "by close"}
        assert (await http.get("/b")).json() == {"framed": "by close"}
    assert server.connections == 2


async def test_connection_close_is_honoured(serve) -> None:
    server = await serve(lambda n, _: (answer(b"{}", "200 OK", "Connection: close"), True))
    async with client(server.port) as http:
        for _ in range(3):
            assert (await http.get("/a")).status_code == 200
    assert server.connections == 3


async def test_a_get_on_a_kept_connection_the_server_dropped_is_sent_again_once(serve) -> None:
    # The keep-alive race: the server drops the kept connection just as a request comes.
    server = await serve(lambda n, _: (answer() if n == 1 else None, False))
    async with client(server.port) as http:
        assert (await http.get("/a")).status_code == 200
        assert (await http.get("/b")).status_code == 200
    assert server.connections == 2
    assert [r.split(b" ")[1] for r in server.requests] == [b"/a", b"/b", b"/b"]


async def test_a_post_is_not_sent_again_by_the_transport(serve) -> None:
    server = await serve(lambda n, _: (answer() if n == 1 else None, False))
    async with client(server.port) as http:
        await http.post("/verify", json={})
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/verify", json={})
    assert len(server.requests) == 2


async def test_a_first_request_without_an_answer_is_a_protocol_error(serve) -> None:
    server = await serve(lambda n, _: (None, False))
    async with client(server.port) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/a")
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: nine\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",  # cut short by the close
    ],
    ids=["garbage", "bad-length", "truncated"],
)
async def test_a_malformed_answer_is_a_protocol_error(serve, raw: bytes) -> None:
    server = await serve(lambda n, _: (raw, True))
    async with client(server.port) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/a")


async def test_an_answer_larger_than_allowed_is_refused(
    serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keepalive, "MAX_BODY_BYTES", 1000)
    server = await serve(lambda n, _: (answer(b"x" * 5000), False))
    async with client(server.port) as http:
        with pytest.raises(httpx.RemoteProtocolError, match="larger"):
            await http.get("/a")


async def test_no_answer_within_the_read_timeout_is_a_read_timeout(serve) -> None:
    silent = asyncio.Event()  # never set: the server reads and never answers

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await silent.wait()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client(port, timeout=0.05) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/a")
    finally:
        silent.set()
        server.close()
        await server.wait_closed()


async def test_a_cancelled_request_leaves_no_connection_to_reuse() -> None:
    arrived, gate = asyncio.Event(), asyncio.Event()
    connections = 0

    async def held_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        first = connections == 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                if first:
                    arrived.set()
                    await gate.wait()  # answered only after the client gave up
                writer.write(answer(b'{"late":true}' if first else b'{"fresh":true}'))
                await writer.drain()

    server = await asyncio.start_server(held_first, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client(port) as http:
            request = asyncio.create_task(http.get("/slow"))
            await arrived.wait()
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            gate.set()
            # Never the late answer to the cancelled request: a connection of its own.
            assert (await http.get("/next")).json() == {"fresh": True}
        assert connections == 2
    finally:
        gate.set()
        server.close()
        await server.wait_closed()


async def test_no_server_is_a_connect_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with client(port) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/a")


async def test_https_with_the_trusted_roots_of_the_environment(
    serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    authority = CertificateAuthority.create("registry test CA")
    issued = authority.issue_server(serial=7)
    cert_file, key_file, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    issued.write(cert_file, key_file)
    ca_file.write_bytes(authority.pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = await serve(lambda n, _: (answer(b'{"tls":true}'), False), context)
    async with client(server.port, scheme="https") as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/a")  # the test CA is not among the default roots
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    async with client(server.port, scheme="https") as http:
        assert (await http.get("/a")).json() == {"tls": True}
        assert (await http.get("/b")).json() == {"tls": True}
    assert server.connections == 1  # kept alive (the refused handshake never got this far)


# -- SourceHttp: what the sources send through the transport ----------------------------


async def test_source_requests_join_the_base_path_and_carry_their_headers(serve) -> None:
    server = await serve(lambda n, _: (answer(), False))
    http = SourceHttp(f"http://127.0.0.1:{server.port}/registry/api/", KeepAliveTransport(2))
    try:
        await http.get("/v1/enterprises/X", headers={"Authorization": "Bearer t"}, timeout=5)
        await http.post("open/verify", content=b'{"a":1}', headers={}, timeout=5)
    finally:
        await http.aclose()
    get, post = (request.decode() for request in server.requests)
    assert get.startswith("GET /registry/api/v1/enterprises/X HTTP/1.1\r\n")
    assert "\r\nauthorization: Bearer t\r\n" in get.replace("Authorization", "authorization")
    assert "accept-encoding: gzip, deflate" in get.lower()
    assert "user-agent: enterprise-integrity-service" in get.lower()
    assert post.startswith("POST /registry/api/open/verify HTTP/1.1\r\n")
    assert "content-length: 7" in post.lower() and post.endswith('{"a":1}')


async def test_a_redirect_comes_back_as_the_answer_and_is_not_followed(serve) -> None:
    moved = answer(b"", "301 Moved Permanently", "Location: http://elsewhere.example/")
    server = await serve(lambda n, _: (moved, False))
    http = SourceHttp(f"http://127.0.0.1:{server.port}", KeepAliveTransport(2))
    try:
        response = await http.get("/v1/enterprises/X", headers={}, timeout=5)
    finally:
        await http.aclose()
    assert response.status_code == 301
    assert len(server.requests) == 1
    assert response.request.url.path == "/v1/enterprises/X"


async def test_a_source_request_times_out_as_told(serve) -> None:
    silent = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await silent.wait()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    http = SourceHttp(
        f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", KeepAliveTransport(2)
    )
    try:
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/v1/enterprises/X", headers={}, timeout=0.05)
    finally:
        silent.set()
        await http.aclose()
        server.close()
        await server.wait_closed()
