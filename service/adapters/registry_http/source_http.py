"""The HTTP a registry source's requests go out on: httpx's requests and responses, sent
straight to the source's transport (keepalive.py).

httpx.AsyncClient wraps every request in what a general client needs: merging a base URL,
cookies, authentication flows, following redirects, event hooks, a wrapper around the
response's stream. A source's API call uses none of it, and on the re-verification path
that wrapping cost about as much CPU as the transport itself (docs/benchmarks.md). A
redirect is not followed: it comes back as the source's answer, which the source's client
does not read as a record.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

USER_AGENT = "enterprise-integrity-service"
# What httpx decodes without optional packages.
ACCEPT_ENCODING = "gzip, deflate"


class SourceHttp:
    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport) -> None:
        base = httpx.URL(base_url)
        self._base = base
        # Paths are joined under the base's own path, as httpx's base_url does.
        self._prefix = base.raw_path.rstrip(b"/")
        self._transport = transport

    async def get(self, path: str, *, headers: Mapping[str, str], timeout: float) -> httpx.Response:
        return await self._send("GET", path, headers, b"", timeout)

    async def post(
        self, path: str, *, content: bytes, headers: Mapping[str, str], timeout: float
    ) -> httpx.Response:
        return await self._send("POST", path, headers, content, timeout)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _send(
        self, method: str, path: str, headers: Mapping[str, str], content: bytes, timeout: float
    ) -> httpx.Response:
        url = self._base.copy_with(raw_path=self._prefix + b"/" + path.lstrip("/").encode())
        request = httpx.Request(
            method,
            url,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING, **headers},
            content=content if method != "GET" else None,
            extensions={
                "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
            },
        )
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response
