"""Who the end user is: a token signed by the user's platform, or nobody (anonymous).

A token is a JWT its platform's account system signed for this gateway: the issuer
selects the platform, whose keys (its JWKS) must have signed it, for the platform's
configured audience, not expired (a small clock skew allowed, on the gateway's one clock).
Its subject is the user, `<platform>:<subject>` to the service, so that two platforms' users
never meet. A merchant is a user whose token carries `merchant_uscc`, a claim its platform
signed: the gateway never takes the binding from anything the request says otherwise.

Only asymmetric algorithms are accepted: a platform's public keys must not be able to sign.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import structlog

from gateway.issuers import Issuer
from service.app.ports import Clock
from service.domain.errors import InvalidIdentifier
from service.domain.identifiers.uscc import check_uscc

log = structlog.get_logger("integrity.gateway")

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
MERCHANT_CLAIM = "merchant_uscc"
_USER_KEY = re.compile(r"[A-Za-z0-9_.@-]{1,96}")
_KEYS_TTL_SECONDS = 300.0
_REFETCH_AFTER_SECONDS = 30.0
"""A key id the platform's set does not have fetches the set again at once (a rotated key
is seen with its first token), and then at most this often: a stream of made-up ids does
not become a stream of fetches."""


class TokenRejected(Exception):
    """The token is not one the gateway accepts: 401, with a reason the client can act on."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class KeysUnavailable(Exception):
    """A platform's keys could not be fetched: the token can be neither accepted nor refused."""


@dataclass(frozen=True)
class EndUser:
    kind: str
    """anonymous, viewer or merchant."""
    user: str
    """The user's key; for an anonymous visitor, the client address."""
    merchant_uscc: str | None = None

    @property
    def on_behalf_of(self) -> str:
        """What the gateway tells the service it acts for (x-on-behalf-of)."""
        if self.kind == "merchant":
            return f"merchant:{self.merchant_uscc}:{self.user}"
        return f"{self.kind}:{self.user}"

    @property
    def logged_in(self) -> bool:
        return self.kind != "anonymous"


def anonymous(address: str) -> EndUser:
    return EndUser("anonymous", address.replace("[", "").replace("]", "")[:128] or "unknown")


def user_key(platform: str, subject: str) -> str:
    """The service's key for a platform's user: the subject as it is where it is plain, a
    digest of it otherwise (the service's user keys are a narrow alphabet)."""
    if _USER_KEY.fullmatch(subject):
        return f"{platform}:{subject}"
    return f"{platform}:h-{hashlib.sha256(subject.encode()).hexdigest()[:32]}"


class PlatformKeys:
    """Each platform's JWK Set: given inline, or fetched from its URL and kept a while."""

    def __init__(
        self, http: httpx.AsyncClient | None = None, monotonic: Any = time.monotonic
    ) -> None:
        self._http = http
        self._monotonic = monotonic
        self._sets: dict[str, tuple[float, list[Mapping[str, Any]]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._refetched: dict[str, float] = {}
        """When a key id not in the set last sent each platform's keys to be fetched again."""

    def use(self, http: httpx.AsyncClient) -> None:
        """The client keys are fetched with, made once the application runs."""
        self._http = http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def key(self, issuer: Issuer, key_id: str | None, algorithm: str) -> jwt.PyJWK:
        keys = await self._keys(issuer, refresh=False)
        found = _select(keys, key_id)
        if found is None and issuer.jwks_url is not None:
            last = self._refetched.get(issuer.issuer)
            now = self._monotonic()
            if last is None or now - last >= _REFETCH_AFTER_SECONDS:
                self._refetched[issuer.issuer] = now
                found = _select(await self._keys(issuer, refresh=True), key_id)
        if found is None:
            raise TokenRejected("TOKEN_KEY_UNKNOWN", "the token's key is not one of its platform's")
        try:
            return jwt.PyJWK(dict(found), algorithm=algorithm)
        except (jwt.PyJWKError, jwt.InvalidKeyError, KeyError, ValueError, TypeError):
            raise TokenRejected(
                "TOKEN_KEY_UNKNOWN", "the token's key does not fit its algorithm"
            ) from None

    async def _keys(self, issuer: Issuer, *, refresh: bool) -> list[Mapping[str, Any]]:
        if issuer.jwks is not None:
            return list(issuer.jwks.get("keys", []))
        assert issuer.jwks_url is not None
        cached = self._sets.get(issuer.issuer)
        now = self._monotonic()
        if cached is not None and not refresh and now - cached[0] < _KEYS_TTL_SECONDS:
            return cached[1]
        lock = self._locks.setdefault(issuer.issuer, asyncio.Lock())
        async with lock:
            cached = self._sets.get(issuer.issuer)
            if cached is not None and cached[0] > now:  # fetched while we waited
                return cached[1]
            if self._http is None:
                raise KeysUnavailable(issuer.platform)
            try:
                response = await self._http.get(issuer.jwks_url, timeout=5.0)
                response.raise_for_status()
                document = response.json()
                keys = [k for k in document["keys"] if isinstance(k, Mapping)]
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
                log.warning(
                    "platform_keys_unavailable",
                    platform=issuer.platform,
                    error_type=type(error).__name__,
                )
                if cached is not None:
                    return cached[1]  # the keys we had still say who signed what
                raise KeysUnavailable(issuer.platform) from None
            self._sets[issuer.issuer] = (self._monotonic(), keys)
            return keys


def _select(keys: list[Mapping[str, Any]], key_id: str | None) -> Mapping[str, Any] | None:
    usable = [k for k in keys if k.get("use", "sig") == "sig"]
    if key_id is not None:
        return next((k for k in usable if k.get("kid") == key_id), None)
    return usable[0] if len(usable) == 1 else None


class TokenVerifier:
    def __init__(
        self,
        issuers: Mapping[str, Issuer],
        keys: PlatformKeys,
        clock: Clock,
        *,
        skew_seconds: float = 60.0,
    ) -> None:
        self._issuers = issuers
        self._keys = keys
        self._clock = clock
        self._skew = skew_seconds

    async def verify(self, token: str) -> EndUser:
        """The user the token names; TokenRejected saying why it is not accepted."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenRejected("TOKEN_MALFORMED", "the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenRejected(
                "TOKEN_ALGORITHM_REFUSED", f"tokens are signed with one of {', '.join(ALGORITHMS)}"
            )
        issuer = self._issuers.get(str(unverified.get("iss", "")))
        if issuer is None:
            raise TokenRejected("TOKEN_ISSUER_UNKNOWN", "the token's issuer is no platform of ours")
        key = await self._keys.key(issuer, header.get("kid"), str(algorithm))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[str(algorithm)],
                audience=issuer.audience,
                issuer=issuer.issuer,
                # Times are checked below, on the gateway's clock.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["iss", "aud", "sub", "exp"],
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenRejected(
                "TOKEN_SIGNATURE_INVALID", "the token's signature does not verify"
            ) from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(
                "TOKEN_AUDIENCE_WRONG", "the token is for another audience"
            ) from None
        except jwt.MissingRequiredClaimError as missing:
            raise TokenRejected(
                "TOKEN_CLAIM_MISSING", f"the token has no {missing.claim} claim"
            ) from None
        except jwt.PyJWTError:
            raise TokenRejected("TOKEN_INVALID", "the token does not verify") from None
        self._check_times(claims)
        return self._user(issuer, claims)

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._clock.now().timestamp()
        expiry, not_before = claims.get("exp"), claims.get("nbf")
        if not isinstance(expiry, int | float) or isinstance(expiry, bool):
            raise TokenRejected("TOKEN_CLAIM_INVALID", "the token's exp is not a time")
        if now > expiry + self._skew:
            raise TokenRejected("TOKEN_EXPIRED", "the token has expired")
        if not_before is not None:
            if not isinstance(not_before, int | float) or isinstance(not_before, bool):
                raise TokenRejected("TOKEN_CLAIM_INVALID", "the token's nbf is not a time")
            if now + self._skew < not_before:
                raise TokenRejected("TOKEN_NOT_YET_VALID", "the token is not valid yet")

    def _user(self, issuer: Issuer, claims: Mapping[str, Any]) -> EndUser:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 512:
            raise TokenRejected("TOKEN_CLAIM_INVALID", "the token's sub is not a user")
        user = user_key(issuer.platform, subject)
        merchant = claims.get(MERCHANT_CLAIM)
        if merchant is None:
            return EndUser("viewer", user)
        if not isinstance(merchant, str):
            raise TokenRejected(
                "TOKEN_CLAIM_INVALID", f"the token's {MERCHANT_CLAIM} is not a USCC"
            )
        try:
            check_uscc(merchant)
        except InvalidIdentifier:
            raise TokenRejected(
                "TOKEN_CLAIM_INVALID", f"the token's {MERCHANT_CLAIM} is not a valid USCC"
            ) from None
        return EndUser("merchant", user, merchant)
