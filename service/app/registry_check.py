"""Deciding a submission against the registry sources: the one place that asks them.

A new verification, a PENDING re-check and a re-verification batch all decide here, so
they decide alike. The registration source (the imported snapshot or the government
registry) and, when one is configured, the data provider are asked at once, each within
the timeout; service/domain/reconciliation.py decides from their answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import structlog

from service.app.ports import Clock, DataProvider, Registry, RegistryUnavailable
from service.domain.identifiers.uscc import RegionScope, parse_uscc
from service.domain.licence import china_today
from service.domain.reconciliation import (
    Missing,
    ProviderAnswer,
    RegistrationAnswer,
    reconcile,
)
from service.domain.registry_sources import SourceKind
from service.domain.verification import (
    Decision,
    LicenceSubmission,
    ReasonCode,
    decide_out_of_scope,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")


class RegistryCheck:
    def __init__(
        self,
        registry: Registry,
        clock: Clock,
        *,
        timeout_seconds: float,
        registry_source: SourceKind = SourceKind.REGISTRY_SNAPSHOT,
        provider: DataProvider | None = None,
    ) -> None:
        """registry: the registration source, of kind registry_source; provider: the
        data provider, if the deployment has one."""
        self._registry = registry
        self._registry_source = registry_source
        self._provider = provider
        self._clock = clock
        self._timeout = timeout_seconds

    async def decide(self, submission: LicenceSubmission) -> Decision:
        """The decision for a submission whose USCC is valid (it was validated on submit)."""
        uscc = parse_uscc(submission.uscc)
        if uscc.region_scope is not RegionScope.MAINLAND:
            return decide_out_of_scope(
                ReasonCode.OUT_OF_SCOPE_REGION,
                "registered in Hong Kong, Macao or Taiwan: the service covers enterprises "
                "registered in mainland China only",
            )
        if not uscc.is_market_regulated:
            return decide_out_of_scope(
                ReasonCode.NOT_AN_ENTERPRISE,
                "registered by an authority other than market regulation: not an enterprise "
                "or individual business",
            )
        registration, provider = await asyncio.gather(
            self._registration(uscc.value), self._provider_answer(submission)
        )
        return reconcile(
            submission,
            self._registry_source,
            registration,
            provider,
            china_today(self._clock.now()),
        )

    async def _registration(self, uscc: str) -> RegistrationAnswer:
        return await self._ask(self._registry_source, uscc, self._registry.lookup(uscc))

    async def _provider_answer(self, submission: LicenceSubmission) -> ProviderAnswer | None:
        if self._provider is None:
            return None
        ask = self._provider.verify(submission)
        return await self._ask(SourceKind.DATA_PROVIDER, submission.uscc, ask)

    async def _ask(self, source: SourceKind, uscc: str, answer: Awaitable[T | None]) -> T | Missing:
        """One source's answer within the timeout; a source that cannot say is unavailable,
        which is not the same as having no record."""
        try:
            async with asyncio.timeout(self._timeout):
                record = await answer
        except (RegistryUnavailable, TimeoutError) as error:
            reason = str(error) or type(error).__name__
            log.warning("registry_unavailable", uscc=uscc, source=source.value, reason=reason)
            return Missing.UNAVAILABLE
        return Missing.NO_RECORD if record is None else record
