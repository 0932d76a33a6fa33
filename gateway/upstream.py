"""The gateway's way to integrity-server: one channel, its credential, the user per call."""

from __future__ import annotations

import grpc

from clients import AsyncIntegrityClient
from clients.tls import ClientTls, open_channel
from gateway.identity import EndUser


class Upstream:
    def __init__(
        self, target: str, token: str, *, tls: ClientTls | None = None, timeout: float = 10.0
    ) -> None:
        self._channel: grpc.aio.Channel = open_channel(grpc.aio, target, tls)
        self._token = token
        self._timeout = timeout

    def for_user(self, user: EndUser) -> AsyncIntegrityClient:
        """A client on the shared channel that says whom the gateway acts for. Cheap: no
        connection of its own, and closing it leaves the channel open."""
        return AsyncIntegrityClient(
            channel=self._channel,
            token=self._token,
            on_behalf_of=user.on_behalf_of,
            timeout=self._timeout,
        )

    async def close(self) -> None:
        await self._channel.close(None)
