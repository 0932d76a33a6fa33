"""The registry provider's change feed over HTTP (docs/registry-wire.md, GET /v1/changes).

Pages are followed by their cursor until the feed says there are no more. A page the
provider asks us to come back for (429, 5xx with Retry-After) is asked again a few times;
beyond that, or on an answer we cannot read, the feed is unavailable for this selection:
a batch is never made from half a feed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx

from service.app.ports import ChangeFeedUnavailable
from service.domain.errors import FailedPrecondition

PAGE_LIMIT = 1000
RETRIES = 3
# Retry-After beyond this is an outage, not a pause: give up and say so.
MAX_RETRY_AFTER_SECONDS = 10.0


def _rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


class HttpRegistryChangeFeed:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_seconds: float = 10.0,
        page_limit: int = PAGE_LIMIT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        # No token, no header: "Bearer " alone is not a header value httpx will send.
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout_seconds
        self._page_limit = page_limit
        self._transport = transport

    async def changed_since(self, since: dt.datetime) -> AsyncIterator[str]:
        seen: set[str] = set()
        params: dict[str, Any] = {"since": _rfc3339(since), "limit": self._page_limit}
        async with httpx.AsyncClient(
            base_url=self._base_url,
            headers=self._headers,
            timeout=self._timeout,
            transport=self._transport,
        ) as client:
            while True:
                page = await self._page(client, params)
                for uscc in _usccs(page):
                    if uscc not in seen:
                        seen.add(uscc)
                        yield uscc
                cursor = page.get("nextCursor")
                if not cursor:
                    return
                params = {**params, "cursor": cursor}

    async def _page(self, client: httpx.AsyncClient, params: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(RETRIES + 1):
            try:
                response = await client.get("/v1/changes", params=params)
            except httpx.HTTPError as error:
                raise ChangeFeedUnavailable(type(error).__name__) from error
            if response.status_code == 200:
                try:
                    page = response.json()
                except ValueError as error:
                    raise ChangeFeedUnavailable("change feed answered with no JSON") from error
                if not isinstance(page, dict):
                    raise ChangeFeedUnavailable("change feed page is not an object")
                return page
            if response.status_code == 401:
                raise FailedPrecondition(
                    "the registry change feed refused our token",
                    reason="CHANGE_FEED_UNAUTHORISED",
                )
            retryable = response.status_code == 429 or response.status_code >= 500
            delay = _retry_after(response)
            if not retryable or attempt == RETRIES or delay > MAX_RETRY_AFTER_SECONDS:
                raise ChangeFeedUnavailable(f"change feed answered HTTP {response.status_code}")
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")


def _usccs(page: dict[str, Any]) -> list[str]:
    changes = page.get("changes")
    if not isinstance(changes, list):
        raise ChangeFeedUnavailable("change feed page has no list of changes")
    usccs = []
    for change in changes:
        uscc = change.get("uscc") if isinstance(change, dict) else None
        if not isinstance(uscc, str):
            raise ChangeFeedUnavailable("change feed entry without a uscc")
        usccs.append(uscc)
    return usccs
