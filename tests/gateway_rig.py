"""The merchant gateway as its users meet it: real HTTP servers on loopback.

`served` runs an ASGI application under uvicorn on a free port of 127.0.0.1 (the gateway,
or a platform's JWKS endpoint); `PlatformSigner` is a platform's account system, signing
its users' tokens with a key pair of its own and publishing the public half.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.issuers import Issuer

AUDIENCE = "integrity-gateway"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """The application served over HTTP on loopback: its base URL."""
    port = free_port()
    # As integrity-gateway runs it: uvicorn's own reading of X-Forwarded-For would put
    # the forwarded address where the gateway looks for the peer's (addresses.py).
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # it failed to start: say why
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class PlatformSigner:
    """A platform's account system: an EC key (ES256) under a key id, and its JWKS."""

    def __init__(self, platform: str, issuer: str | None = None) -> None:
        self.platform = platform
        self.issuer = issuer or f"https://accounts.{platform}.example"
        self.rotate()

    def rotate(self) -> None:
        """A new key under a new id; the published set holds only it."""
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = uuid.uuid4().hex[:12]

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.key_id, use="sig", alg="ES256")
        return {"keys": [public]}

    def jwks_app(self) -> Starlette:
        async def keys(_request: Any) -> JSONResponse:
            return JSONResponse(self.jwks())

        return Starlette(routes=[Route("/.well-known/jwks.json", keys)])

    def issuer_for(self, jwks_url: str) -> Issuer:
        return Issuer(self.platform, self.issuer, AUDIENCE, jwks_url=jwks_url)

    def token(
        self,
        subject: str,
        now: dt.datetime,
        *,
        merchant_uscc: str | None = None,
        lifetime: dt.timedelta = dt.timedelta(minutes=10),
        **claims: Any,
    ) -> str:
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
        }
        if merchant_uscc is not None:
            body["merchant_uscc"] = merchant_uscc
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.key, algorithm="ES256", headers={"kid": self.key_id})
