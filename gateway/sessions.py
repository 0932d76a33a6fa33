"""Page sessions and their CSRF protection.

A user logs in to the pages by handing the gateway a token its platform signed (the same
tokens the JSON API takes); the gateway verifies it once and keeps who the user is in a
session cookie: signed (itsdangerous, with the gateway's session key), HttpOnly, Secure,
SameSite=Lax, `__Host-` (this host only, path /), and expiring. The cookie holds the user's
service key, the merchant binding the token carried, its expiry and a CSRF secret;
nothing personal.

Every form carries a CSRF token: for a session, an HMAC of its secret; before login, a
random value also set as a cookie of its own (double submit). A POST whose form token does
not match, or that the browser says comes from another site (Sec-Fetch-Site, else
Origin), is refused before anything is done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from gateway.identity import EndUser

SESSION_COOKIE = "__Host-integrity-session"
LOGIN_CSRF_COOKIE = "__Host-integrity-login"
SESSION_LIFETIME = dt.timedelta(hours=2)
_SALT = "integrity-gateway.session"


@dataclass(frozen=True)
class Session:
    user: EndUser
    expires: dt.datetime
    csrf_secret: str

    def csrf_token(self, key: bytes) -> str:
        return hmac.new(key, self.csrf_secret.encode(), hashlib.sha256).hexdigest()


class SessionCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key
        self._serializer = URLSafeSerializer(key, salt=_SALT)

    @property
    def key(self) -> bytes:
        return self._key

    def login_nonce(self) -> str:
        """The login form's CSRF value, also set as a cookie of its own."""
        return secrets.token_urlsafe(24)

    def new(self, user: EndUser, now: dt.datetime) -> Session:
        return Session(user, now + SESSION_LIFETIME, secrets.token_urlsafe(16))

    def encode(self, session: Session) -> str:
        body: dict[str, Any] = {
            "k": session.user.kind,
            "u": session.user.user,
            "m": session.user.merchant_uscc,
            "x": int(session.expires.timestamp()),
            "c": session.csrf_secret,
        }
        return self._serializer.dumps(body)

    def decode(self, cookie: str | None, now: dt.datetime) -> Session | None:
        """The session the cookie holds, if it is ours and has not expired."""
        if not cookie:
            return None
        try:
            body = self._serializer.loads(cookie)
            expires = dt.datetime.fromtimestamp(int(body["x"]), dt.UTC)
            kind, user, merchant, secret = body["k"], body["u"], body["m"], body["c"]
        except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
            return None
        if expires <= now or kind not in ("viewer", "merchant") or not isinstance(secret, str):
            return None
        return Session(EndUser(str(kind), str(user), merchant), expires, secret)


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def same_origin(headers: Mapping[str, str], scheme: str) -> bool:
    """Whether a POST comes from this site's own pages. Browsers say so in Sec-Fetch-Site;
    one that does not may send Origin, which must then be ours. The pages' no-referrer
    policy makes a browser send "Origin: null" even for its own forms, which proves
    nothing either way: the form's token still has to match."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return True
    host = headers.get("host")
    return bool(host) and origin == f"{scheme}://{host}"
