"""Registry sources' wire answers (docs/registry-wire.md) and clients wired for tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.pool import NullPool

from service.adapters.pii_vault import AesGcmVault
from service.adapters.registry_http.breaker import BreakerPolicy, CircuitBreaker
from service.adapters.registry_http.government import GovernmentRegistryClient
from service.adapters.registry_http.keepalive import KeepAliveTransport
from service.adapters.registry_http.limits import LocalLimiter, SourceLimiter, SourceLimits
from service.adapters.registry_http.provider import DataProviderClient
from service.adapters.registry_http.source_http import SourceHttp
from service.adapters.registry_http.transport import RetryPolicy, SourceTransport
from service.adapters.subject_keys import SubjectKeyring, key_store_engine
from service.app.ports import Clock
from service.domain.licence import LicenceTerm
from service.domain.sealed import PiiKind, SealedLegalRepresentative, SealedValue
from service.domain.verification import LicenceSubmission
from service.settings import PiiKeys, Settings
from tests.builders import new_id_number, new_uscc
from tests.clock import TestClock

TOKEN = "gov-token"
APP_ID = "app-1"
SECRET = "provider-secret"
REP_NAME = "张三"


_KEY_STORES = tempfile.TemporaryDirectory(prefix="integrity-key-stores-")


@dataclass(frozen=True)
class WireKeys:
    """What registry clients seal with: the service's vault (shareholders) and the
    per-enterprise keys (legal representatives), the latter in a key store of its own,
    a real SQLite file."""

    vault: AesGcmVault
    keyring: SubjectKeyring

    async def seal(self, uscc: str, kind: PiiKind, plaintext: str) -> SealedValue:
        return (await self.keyring.sealer(uscc)).seal(kind, plaintext)

    async def open(self, sealed: SealedValue) -> str:
        return await self.keyring.open(sealed)


def vault() -> WireKeys:
    keys = PiiKeys.generate()
    service_vault = AesGcmVault(keys.encryption_keys, keys.active_key_id, keys.digest_key)
    store = Path(_KEY_STORES.name) / f"{uuid.uuid4().hex}.keys.db"
    keyring = SubjectKeyring(
        # No pool: nothing outlives the test's event loop (tests make one of these each).
        key_store_engine(f"sqlite:///{store}", poolclass=NullPool),
        service_vault,
        TestClock().now,
    )
    return WireKeys(service_vault, keyring)


def gov_document(uscc: str | None = None, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "uscc": uscc or new_uscc(),
        "name": "杭州某某科技有限公司",
        "enterpriseType": "有限责任公司（自然人投资或控股）",
        "legalRepresentative": REP_NAME,
        "registeredCapital": "1000.00",
        "capitalCurrency": "CNY",
        "establishmentDate": "2018-03-01",
        "term": {"start": "2018-03-01", "end": None, "openEnded": True},
        "registrationAuthority": "杭州市西湖区市场监督管理局",
        "approvalDate": "2024-05-10",
        "status": "存续（在营、开业、在册）",
        "address": "浙江省杭州市西湖区文三路100号",
        "businessScope": "技术开发",
        "shareholders": [
            {
                "name": REP_NAME,
                "kind": "natural_person",
                "subscribedCapital": "600.00",
                "ratio": "0.6",
            }
        ],
        "changes": [
            {"date": "2024-05-10", "item": "法定代表人变更", "before": "李四", "after": REP_NAME}
        ],
        "publishedAt": "2026-11-20T00:00:00Z",
    }
    document.update(overrides)
    return document


def provider_answer(uscc: str, id_number: str | None = None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "creditCode": uscc,
        "companyName": "杭州某某科技有限公司",
        "regStatus": "存续",
        "legalPerson": REP_NAME,
        "legalPersonIdNo": id_number,
        "verifyResult": {"companyName": "1", "legalPerson": "1", "legalPersonIdNo": "1"},
        "termStart": "2018-03-01",
        "termEnd": "长期",
        "regAddress": "浙江省杭州市西湖区文三路100号",
        "updateTime": "2026-11-20 08:00:00",
    }
    data.update(overrides)
    return {"code": "0000", "msg": "success", "requestId": "r-1", "data": data}


async def submission(
    keys: WireKeys,
    uscc: str,
    *,
    name: str = "杭州某某科技有限公司",
    rep_name: str = REP_NAME,
    id_number: str | None = None,
) -> LicenceSubmission:
    sealer = await keys.keyring.sealer(uscc)
    return LicenceSubmission(
        uscc=uscc,
        enterprise_name=name,
        legal_representative=SealedLegalRepresentative(
            sealer.seal(PiiKind.PERSON_NAME, rep_name),
            sealer.seal(PiiKind.ID_NUMBER, id_number or new_id_number()),
        ),
        registered_address="浙江省杭州市西湖区文三路100号",
        term=LicenceTerm(dt.date(2018, 3, 1), None, open_ended=True),
    )


QUICK_RETRIES = RetryPolicy(max_attempts=3, backoff_base_seconds=0.001, backoff_max_seconds=0.01)
# Rate enough not to hold anything back.
UNHURRIED = SourceLimits(max_concurrency=4, max_rate=1000)


async def no_wait(seconds: float) -> None:
    """The transport's waits between attempts, not waited: a test does not depend on
    real time passing (a test that needs the waits passes a sleep of its own)."""
    await asyncio.sleep(0)


def transport(
    url: str,
    *,
    name: str = "government_registry",
    limiter: SourceLimiter | None = None,
    breaker: CircuitBreaker | None = None,
    retry: RetryPolicy = QUICK_RETRIES,
    sleep: Callable[[float], Awaitable[None]] = no_wait,
) -> SourceTransport:
    return SourceTransport(
        name,
        # The transport the service uses (bootstrap.py), so these tests see its behaviour.
        SourceHttp(url, KeepAliveTransport(8)),
        limiter or LocalLimiter(UNHURRIED),
        breaker or CircuitBreaker(BreakerPolicy()),
        retry,
        sleep=sleep,
    )


def gov_client(
    url: str,
    keys: WireKeys,
    clock: Clock,
    *,
    budget: float = 5.0,
    token: str = TOKEN,
    **options: Any,
) -> GovernmentRegistryClient:
    return GovernmentRegistryClient(
        transport(url, **options), token, keys.vault, keys.keyring, clock, budget_seconds=budget
    )


def provider_client(
    url: str,
    keys: WireKeys,
    clock: Clock,
    *,
    budget: float = 5.0,
    app_id: str = APP_ID,
    secret: str = SECRET,
    **options: Any,
) -> DataProviderClient:
    return DataProviderClient(
        transport(url, name="data_provider", **options),
        app_id,
        secret,
        keys.keyring,
        clock,
        budget_seconds=budget,
    )


def scripted_sources(
    server: Any, database_url: str, pii_keys: PiiKeys, *, timeout: float = 5
) -> Settings:
    """The service asking a scripted server (tests/scripted_http.py) as its government
    registry and its data provider."""
    return Settings(
        pii_keys=pii_keys,
        database_url=database_url,
        registry_timeout_seconds=timeout,
        registry_sources=("gov", "provider"),
        gov_registry_url=server.url,
        gov_registry_token=TOKEN,
        provider_url=server.url,
        provider_app_id=APP_ID,
        provider_secret=SECRET,
    )
