"""Deciding a submission against the registry: the one place that asks the registry.

A new verification, a PENDING re-check and a re-verification batch all decide here, so
they decide alike.
"""

from __future__ import annotations

import asyncio

import structlog

from service.app.ports import Clock, Registry, RegistryUnavailable
from service.domain.identifiers.uscc import RegionScope, parse_uscc
from service.domain.licence import china_today
from service.domain.verification import (
    Decision,
    LicenceSubmission,
    ReasonCode,
    decide,
    decide_out_of_scope,
    decide_without_record,
)

log = structlog.get_logger(__name__)


class RegistryCheck:
    def __init__(self, registry: Registry, clock: Clock, *, timeout_seconds: float) -> None:
        self._registry = registry
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
        try:
            async with asyncio.timeout(self._timeout):
                record = await self._registry.lookup(uscc.value)
        except (RegistryUnavailable, TimeoutError):
            log.warning("registry_unavailable", uscc=uscc.value)
            return decide_without_record(ReasonCode.REGISTRY_UNAVAILABLE)
        if record is None:
            return decide_without_record(ReasonCode.REGISTRY_RECORD_NOT_FOUND)
        return decide(submission, record, china_today(self._clock.now()))
