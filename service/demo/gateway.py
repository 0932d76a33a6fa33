"""The demo's merchant gateway: the demo marketplace as a platform that signs its users'
tokens, integrity-gateway in front of the demo's integrity-server, and a login for the
demo's merchant and a viewer.

The platform's key pair is made for each run; its public half goes into the gateway's
issuers file inline, as a platform's JWKS would be published. The tokens it signs are
the demo logins: pasted into the gateway's login page, they open the merchant's pages and a
logged-in viewer's archive.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from service.demo.processes import running

BIN = Path(sys.executable).parent
PLATFORM = "demo"
ISSUER = "https://accounts.demo-marketplace.example"
AUDIENCE = "integrity-gateway"
KEY_ID = "demo-1"
LOGIN_LIFETIME = dt.timedelta(hours=12)
Ops = Callable[..., subprocess.CompletedProcess[str]]
"""integrity-ops, as the demo runs it: ops(*arguments, env=...)."""


@dataclass(frozen=True)
class DemoGateway:
    url: str
    """Where the pages are: localhost, a secure context for a browser over plain HTTP."""
    merchant_login: Path
    viewer_login: Path


class DemoPlatform:
    """The demo marketplace's account system: signs tokens for its users."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    def issuers(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key()))
        public.update(kid=KEY_ID, use="sig", alg="ES256")
        keys = {"keys": [public]}
        entry = {"platform": PLATFORM, "issuer": ISSUER, "audience": AUDIENCE, "jwks": keys}
        return {"platforms": [entry]}

    def login(self, subject: str, merchant_uscc: str | None = None) -> str:
        now = dt.datetime.now(dt.UTC)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": int(now.timestamp()),
            "exp": int((now + LOGIN_LIFETIME).timestamp()),
        }
        if merchant_uscc is not None:
            claims["merchant_uscc"] = merchant_uscc
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": KEY_ID})


def _private_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def running_gateway(
    demo: Path, env: Mapping[str, str], server_port: int, merchant_uscc: str, ops: Ops
) -> Iterator[DemoGateway]:
    """integrity-gateway in front of the server on server_port, until the block ends."""
    created = ops("callers", "create", "--kind", "gateway", "--name", "商户网关", env=env)
    token = _private_file(demo / "gateway.token", created.stdout.split("token: ")[1].strip())
    platform = DemoPlatform()
    issuers = demo / "issuers.json"
    issuers.write_text(json.dumps(platform.issuers(), indent=2), encoding="utf-8")
    session_key = _private_file(demo / "gateway-session.key", secrets.token_urlsafe(48))
    verifier = ops("ledger", "verifier-key", env=env).stdout.strip()
    gateway_env = {
        **env,
        "INTEGRITY_GATEWAY_TOKEN_FILE": str(token),
        "INTEGRITY_GATEWAY_ISSUERS_FILE": str(issuers),
        "INTEGRITY_GATEWAY_UPSTREAM": f"127.0.0.1:{server_port}",
        "INTEGRITY_GATEWAY_SESSION_KEY_FILE": str(session_key),
        "INTEGRITY_GATEWAY_LEDGER_KEY": verifier,
    }
    command = [str(BIN / "integrity-gateway"), "--listen", "127.0.0.1:0"]
    with running(
        command,
        env=gateway_env,
        log=demo / "gateway.log",
        ready=lambda event: event.get("event") == "gateway_started",
    ) as ready:
        yield DemoGateway(
            f"http://localhost:{ready['port']}",
            _private_file(demo / "merchant.login", platform.login("demo-owner", merchant_uscc)),
            _private_file(demo / "viewer.login", platform.login("demo-shopper")),
        )


def show_gateway(gateway: DemoGateway, public_uscc: str, merchant_uscc: str) -> None:
    print("\n== THE MERCHANT GATEWAY: pages and the JSON API, in front of the service")
    page = httpx.get(f"{gateway.url}/enterprises/{public_uscc}", timeout=30)
    heading = re.search(r"<h1>(.*?)</h1>", page.text)
    title = heading[1] if heading else "(no heading)"
    print(f"   $ GET /enterprises/{public_uscc} -> {page.status_code}: {title}, as anyone sees it")
    print(f"   public archive page (anyone):  {gateway.url}/enterprises/{public_uscc}")
    print(f"   the merchant's own page:       {gateway.url}/merchant  ({merchant_uscc})")
    print(f"   who saw the merchant's data:   {gateway.url}/merchant/disclosures")
    print(f"   log in at {gateway.url}/login with the demo login in {gateway.merchant_login}")
    print(f"   (a logged-in shopper's login: {gateway.viewer_login})")
    print(f"   JSON API: {gateway.url}/v1/enterprises/{public_uscc}/archive, "
          f"OpenAPI document: {gateway.url}/openapi.json")  # fmt: skip
