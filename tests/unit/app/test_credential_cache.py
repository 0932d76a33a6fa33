"""Credentials remembered between calls are forgotten by a revocation, even one that
overtakes a lookup in flight."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import pytest

from service.app.credentials import CredentialService, StoredCredential
from service.domain.callers import Caller, CallerKind
from service.domain.errors import Unauthenticated

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


class Clock:
    def now(self) -> dt.datetime:
        return NOW


class GatedStore:
    """Holds credentials in memory; a lookup can be held open at the gate."""

    def __init__(self) -> None:
        self.credentials: dict[str, StoredCredential] = {}
        self.lookups = 0
        self.gate: asyncio.Event | None = None
        self.looking = asyncio.Event()

    async def add_caller(self, caller: Caller, now: dt.datetime) -> None:
        self.caller = caller

    async def active_platform_caller(self, platform: str) -> Caller | None:
        return None

    async def add_credential(
        self, key_id: str, caller_id: str, secret_hash: bytes, now: dt.datetime
    ) -> None:
        self.credentials[key_id] = StoredCredential(self.caller, secret_hash)

    async def find_credential(self, key_id: str) -> StoredCredential | None:
        self.lookups += 1
        found = self.credentials.get(key_id)
        self.looking.set()
        if self.gate is not None:
            await self.gate.wait()
        return found

    async def revoke(self, caller_or_key_id: str, now: dt.datetime) -> int:
        return 1 if self.credentials.pop(caller_or_key_id, None) else 0

    async def list_callers(self) -> Sequence[tuple[Caller, bool]]:
        return []


async def test_a_lookup_overtaken_by_a_revocation_is_not_remembered() -> None:
    store = GatedStore()
    service = CredentialService(store, Clock(), cache_seconds=60)
    caller, token = await service.create_caller(CallerKind.OPS, "ops")
    key_id = token.split("_")[1]
    store.gate = asyncio.Event()
    in_flight = asyncio.ensure_future(service.authenticate(token))
    await store.looking.wait()  # read the credential while it was still active
    await service.revoke(key_id)
    store.gate.set()
    assert (await in_flight).id == caller.id  # the call began before the revocation
    store.gate = None
    with pytest.raises(Unauthenticated):
        await service.authenticate(token)  # a later call asks the store again
    assert store.lookups == 2


async def test_a_verified_token_is_remembered_until_revoked() -> None:
    store = GatedStore()
    service = CredentialService(store, Clock(), cache_seconds=60)
    caller, token = await service.create_caller(CallerKind.OPS, "ops")
    for _ in range(3):
        assert (await service.authenticate(token)).id == caller.id
    assert store.lookups == 1
    await service.revoke(token.split("_")[1])
    with pytest.raises(Unauthenticated):
        await service.authenticate(token)
