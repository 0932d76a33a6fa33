"""Deciding a submission against the registry sources: the one place that asks them.

A new verification, a PENDING re-check and a re-verification batch all decide here, so
they decide alike. The registration source (the imported snapshot or the government
registry) and, when one is configured, the data provider are asked at once, each within
the timeout; service/domain/reconciliation.py decides from their answers.

A caller that cannot wait the whole timeout (a platform's gRPC deadline) says how long it
can: the sources are then asked within that, and answer unavailable in time rather than
late; the answer it gets is PENDING, not a deadline exceeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import structlog

from service.app.ports import (
    Clock,
    DataProvider,
    Registry,
    RegistryReadAhead,
    RegistryUnavailable,
)
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
    decide_withdrawn,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

SOURCES_SHARE = 0.9
"""The sources' share of a caller's time shorter than the timeout, as the settings give
them of the timeout (Settings.registry_source_budget_seconds): the rest is for reading,
sealing and deciding before the answers are cut off."""


@dataclass(frozen=True)
class _Within:
    cut_off: float
    """Seconds after which a source's answer is no longer waited for."""
    sources: float | None
    """The time the sources are given; None: their own budget, inside the timeout."""

    @classmethod
    def of(cls, timeout: float, caller_seconds: float | None) -> _Within:
        if caller_seconds is None or caller_seconds >= timeout:
            return cls(timeout, None)
        caller_seconds = max(0.0, caller_seconds)
        return cls(caller_seconds, caller_seconds * SOURCES_SHARE)


def _submitted(submission: LicenceSubmission) -> tuple[object, ...]:
    """What the provider judges of a submission: two alike get the same answer."""
    rep = submission.legal_representative
    id_digest = rep.id_number.digest if rep.id_number is not None else None
    return (
        submission.enterprise_name,
        rep.name.digest,
        id_digest,
        submission.registered_address,
        submission.term,
    )


class RegistryCheck:
    def __init__(
        self,
        registry: Registry,
        clock: Clock,
        *,
        timeout_seconds: float,
        registry_source: SourceKind = SourceKind.REGISTRY_SNAPSHOT,
        provider: DataProvider | None = None,
        read_ahead: Sequence[RegistryReadAhead] = (),
    ) -> None:
        """registry: the registration source, of kind registry_source; provider: the
        data provider, if the deployment has one; read_ahead: what prepares for many
        questions at once (the archive's side of the registration source, the keys its
        answers are sealed with), if anything."""
        self._registry = registry
        self._read_ahead = read_ahead
        self._registry_source = registry_source
        self._provider = provider
        self._clock = clock
        self._timeout = timeout_seconds

    async def read_ahead(self, usccs: Sequence[str]) -> None:
        """Enterprises about to be decided (a batch's chunk): prepared for in one go."""
        if self._read_ahead and usccs:
            await asyncio.gather(*(part.read_ahead(usccs) for part in self._read_ahead))

    async def decide(
        self, submission: LicenceSubmission, within_seconds: float | None = None
    ) -> Decision:
        """The decision for a submission whose USCC is valid (it was validated on submit);
        within_seconds: how long the caller can wait for it, if less than the timeout."""
        return (await self.decide_all([submission], within_seconds))[0]

    async def decide_all(
        self, submissions: Sequence[LicenceSubmission], within_seconds: float | None = None
    ) -> list[Decision]:
        """The decisions for submissions of ONE enterprise, on one answer of its
        registration source; the provider, which judges what was submitted, is asked once
        per distinct submission."""
        # Nothing is sent anywhere for a person who withdrew their authorisation: those
        # are decided without asking (decide() would say the same of their records).
        live = [s for s in submissions if not s.legal_representative.destroyed]
        answered = iter(await self._decide_live(live, within_seconds))
        return [
            decide_withdrawn() if s.legal_representative.destroyed else next(answered)
            for s in submissions
        ]

    async def _decide_live(
        self, submissions: Sequence[LicenceSubmission], within_seconds: float | None
    ) -> list[Decision]:
        if not submissions:
            return []
        uscc = parse_uscc(submissions[0].uscc)
        if any(s.uscc != uscc.value for s in submissions):
            raise ValueError("decide_all takes the submissions of one enterprise")
        if uscc.region_scope is not RegionScope.MAINLAND:
            decision = decide_out_of_scope(
                ReasonCode.OUT_OF_SCOPE_REGION,
                "registered in Hong Kong, Macao or Taiwan: the service covers enterprises "
                "registered in mainland China only",
            )
            return [decision] * len(submissions)
        if not uscc.is_market_regulated:
            decision = decide_out_of_scope(
                ReasonCode.NOT_AN_ENTERPRISE,
                "registered by an authority other than market regulation: not an enterprise "
                "or individual business",
            )
            return [decision] * len(submissions)
        distinct = list({_submitted(s): s for s in submissions}.items())
        within = _Within.of(self._timeout, within_seconds)
        answers: list[ProviderAnswer | None]
        if self._provider is None:
            # One source: asked directly (a batch sweep asks this for every enterprise).
            registration = await self._registration(uscc.value, within)
            answers = [None] * len(distinct)
        else:
            registration, answers = await asyncio.gather(
                self._registration(uscc.value, within),
                asyncio.gather(*(self._provider_answer(s, within) for _, s in distinct)),
            )
        provider = {content: answer for (content, _), answer in zip(distinct, answers, strict=True)}
        today = china_today(self._clock.now())
        return [
            reconcile(
                submission,
                self._registry_source,
                registration,
                provider[_submitted(submission)],
                today,
            )
            for submission in submissions
        ]

    async def _registration(self, uscc: str, within: _Within) -> RegistrationAnswer:
        ask = self._registry.lookup(uscc, within.sources)
        return await self._ask(self._registry_source, uscc, ask, within)

    async def _provider_answer(
        self, submission: LicenceSubmission, within: _Within
    ) -> ProviderAnswer | None:
        if self._provider is None:
            return None
        ask = self._provider.verify(submission, within.sources)
        return await self._ask(SourceKind.DATA_PROVIDER, submission.uscc, ask, within)

    async def _ask(
        self, source: SourceKind, uscc: str, answer: Awaitable[T | None], within: _Within
    ) -> T | Missing:
        """One source's answer within the timeout; a source that cannot say is unavailable,
        which is not the same as having no record."""
        try:
            async with asyncio.timeout(within.cut_off):
                record = await answer
        except (RegistryUnavailable, TimeoutError) as error:
            reason = str(error) or type(error).__name__
            log.warning("registry_unavailable", uscc=uscc, source=source.value, reason=reason)
            return Missing.UNAVAILABLE
        return Missing.NO_RECORD if record is None else record
