"""An HTTP transport that spreads a source's connections over several small pools.

httpcore's connection pool looks at every connection it holds on every request (is each
one expired, readable: a system call each), so one pool of 32 kept-alive connections
spends most of a request's CPU there. Several pools of a few connections each, every
request sent through the least busy one, keep the same connections for a fraction of it.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import httpx

CONNECTIONS_PER_POOL = 4


class ShardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_connections: int) -> None:
        pools = max(1, math.ceil(max_connections / CONNECTIONS_PER_POOL))
        per_pool = math.ceil(max_connections / pools)
        self._pools = [
            httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
            )
            for _ in range(pools)
        ]
        self._busy = [0] * pools

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        chosen = min(range(len(self._pools)), key=self._busy.__getitem__)
        self._busy[chosen] += 1
        try:
            response = await self._pools[chosen].handle_async_request(request)
        except BaseException:
            self._busy[chosen] -= 1
            raise
        # The connection is busy until the body is read: counted until the stream closes.
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Counted(response.stream, self, chosen),
            extensions=response.extensions,
        )

    def _done(self, pool: int) -> None:
        self._busy[pool] -= 1

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class _Counted(httpx.AsyncByteStream):
    def __init__(
        self,
        stream: httpx.AsyncByteStream | httpx.SyncByteStream | object,
        owner: ShardedTransport,
        pool: int,
    ) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)
        self._stream = stream
        self._owner = owner
        self._pool = pool
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._owner._done(self._pool)
        await self._stream.aclose()
