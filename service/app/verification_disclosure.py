"""Verification answers are disclosures: each is recorded before it leaves.

A verification carries the registry's record of the enterprise, the result for each
submitted field and the legal representative (masked), so an answer to a platform tells it
something about the enterprise, like an archive read does. Each answer is recorded as one
ledger entry, with the field groups it showed, before it is returned; if it cannot be,
the call fails and nothing is shown. A verification created but not recorded is not lost:
the platform's retry with the same request id returns it, and that answer is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.app.ports import Clock, DisclosureLedger
from service.app.resource_names import parse_enterprise_name
from service.app.verifications import SubmitVerification, VerificationPage, VerificationService
from service.domain.callers import Caller, Scope, Viewer
from service.domain.disclosure import disclosed_to, verification_fields
from service.domain.verification import AuthorisationScope, Verification
from service.domain.visibility import Tier

# The purpose the legal representative authorised, as every verification must have it.
VERIFICATION_PURPOSE = AuthorisationScope.IDENTITY_VERIFICATION.value
CREATE_SCENARIO = "create_verification"
GET_SCENARIO = "get_verification"
LIST_SCENARIO = "list_verifications"


class DisclosingVerifications:
    """The verification use cases, each answer recorded in the disclosure ledger."""

    def __init__(
        self, verifications: VerificationService, ledger: DisclosureLedger, clock: Clock
    ) -> None:
        self._verifications = verifications
        self._ledger = ledger
        self._clock = clock

    async def submit(
        self, caller: Caller, command: SubmitVerification, time_left: float | None = None
    ) -> Verification:
        """time_left: as for VerificationService.submit."""
        verification = await self._verifications.submit(command, time_left)
        await self._record(caller, verification.uscc, CREATE_SCENARIO, [verification])
        return verification

    async def get(
        self, caller: Caller, name: str, reader: str | None, viewer: Viewer | None = None
    ) -> Verification:
        """viewer: the end user the gateway reads for (the enterprise's merchant)."""
        verification = await self._verifications.get(name, reader)
        await self._record(caller, verification.uscc, GET_SCENARIO, [verification], viewer)
        return verification

    async def list(
        self,
        caller: Caller,
        parent: str,
        page_size: int,
        page_token: str,
        reader: str | None,
        viewer: Viewer | None = None,
    ) -> VerificationPage:
        page = await self._verifications.list(parent, page_size, page_token, reader)
        # An empty page shows nothing of the enterprise.
        if page.verifications:
            uscc = parse_enterprise_name(parent)
            await self._record(caller, uscc, LIST_SCENARIO, page.verifications, viewer)
        return page

    async def _record(
        self,
        caller: Caller,
        uscc: str,
        scenario: str,
        shown: Sequence[Verification],
        viewer: Viewer | None = None,
    ) -> None:
        fields = frozenset().union(*(verification_fields(v.decision) for v in shown))
        tier = Tier.OPS if caller.may(Scope.OPS) else Tier.PLATFORM
        if viewer is not None:
            tier = Tier.MERCHANT
        await self._ledger.record(
            disclosed_to(
                caller,
                uscc,
                tier=tier.value,
                purpose=VERIFICATION_PURPOSE,
                scenario=scenario,
                fields=fields,
                at=self._clock.now(),
            )
        )
