"""Issuing, revoking and checking caller credentials.

A token is "ik_<key id>_<secret>". Only SHA-256 of the secret is stored: it is 256 random
bits, so a fast hash is safe and keeps authentication cheap. Checked credentials are
cached briefly; a revocation reaches other replicas within that time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from service.app.ports import Clock
from service.domain.callers import (
    DEFAULT_SCOPES,
    Caller,
    CallerKind,
    Scope,
    check_platform_code,
)
from service.domain.errors import AlreadyExists, NotFound, Unauthenticated

CREDENTIAL_MARK = "ik"


@dataclass(frozen=True)
class StoredCredential:
    caller: Caller
    secret_hash: bytes


class CallerStore(Protocol):
    async def add_caller(self, caller: Caller, now: dt.datetime) -> None: ...

    async def active_platform_caller(self, platform: str) -> Caller | None: ...

    async def add_credential(
        self, key_id: str, caller_id: str, secret_hash: bytes, now: dt.datetime
    ) -> None: ...

    async def find_credential(self, key_id: str) -> StoredCredential | None: ...

    async def revoke(self, caller_or_key_id: str, now: dt.datetime) -> int: ...

    async def list_callers(self) -> Sequence[tuple[Caller, bool]]: ...


_MAX_VERIFIED = 10_000


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _split(token: str) -> tuple[str, str] | None:
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != CREDENTIAL_MARK or not key_id or not secret or len(token) > 200:
        return None
    return key_id, secret


class CredentialService:
    def __init__(self, store: CallerStore, clock: Clock, *, cache_seconds: float = 5.0) -> None:
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[StoredCredential, float]] = {}
        # Tokens that matched their stored hash, until the cached credential expires: the
        # same caller presents the same token on every call, and hashing it each time was
        # a visible share of the cheapest call. Only matching tokens are kept, so this holds
        # at most one entry per credential in use.
        self._verified: dict[str, tuple[Caller, float]] = {}
        self._revocations = 0

    async def create_caller(
        self,
        kind: CallerKind,
        name: str,
        *,
        platform: str | None = None,
        scopes: Iterable[Scope] | None = None,
    ) -> tuple[Caller, str]:
        """A new caller and its first token. The token is shown once and never stored."""
        if kind is CallerKind.PLATFORM:
            if platform is None:
                raise ValueError("a platform caller needs its platform code")
            check_platform_code(platform)
            if await self._store.active_platform_caller(platform) is not None:
                raise AlreadyExists(
                    f"platform {platform} already has a caller; add a credential to it",
                    reason="PLATFORM_CALLER_EXISTS",
                )
        elif platform is not None:
            raise ValueError("only platform callers speak for a platform")
        caller = Caller(
            id=str(uuid.uuid4()),
            kind=kind,
            name=name,
            platform=platform,
            scopes=frozenset(scopes) if scopes is not None else DEFAULT_SCOPES[kind],
        )
        await self._store.add_caller(caller, self._clock.now())
        return caller, await self.add_credential(caller.id)

    async def add_credential(self, caller_id: str) -> str:
        """Another token for a caller, for rotation: issue the new one, then revoke the old."""
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        await self._store.add_credential(key_id, caller_id, _hash(secret), self._clock.now())
        return f"{CREDENTIAL_MARK}_{key_id}_{secret}"

    async def revoke(self, caller_or_key_id: str) -> None:
        if not await self._store.revoke(caller_or_key_id, self._clock.now()):
            raise NotFound(f"no active caller or credential {caller_or_key_id}")
        self._cache.clear()
        self._verified.clear()
        self._revocations += 1

    async def list_callers(self) -> Sequence[tuple[Caller, bool]]:
        return await self._store.list_callers()

    async def authenticate(self, token: str) -> Caller:
        now = time.monotonic()
        verified = self._verified.get(token)
        if verified is not None and verified[1] >= now:
            return verified[0]
        parts = _split(token)
        if parts is None:
            raise Unauthenticated("malformed credential", reason="CREDENTIAL_MALFORMED")
        key_id, secret = parts
        cached = self._cache.get(key_id)
        # A lookup that a revocation in this process overtook may have read the credential
        # still active: it answers this call (which began before the revocation) but is
        # not remembered for later ones.
        revocations = self._revocations
        if cached is None or cached[1] < now:
            stored = await self._store.find_credential(key_id)
            if stored is None:
                self._cache.pop(key_id, None)
                raise Unauthenticated("unknown or revoked credential", reason="CREDENTIAL_INVALID")
            cached = (stored, now + self._cache_seconds)
            if revocations == self._revocations:
                self._cache[key_id] = cached
        if not hmac.compare_digest(cached[0].secret_hash, _hash(secret)):
            raise Unauthenticated("unknown or revoked credential", reason="CREDENTIAL_INVALID")
        if revocations == self._revocations:
            if len(self._verified) >= _MAX_VERIFIED:
                self._verified.clear()
            self._verified[token] = (cached[0].caller, cached[1])
        return cached[0].caller
