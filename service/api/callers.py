"""Who is calling: the credential check and the RPC -> scope table, in one place.

Every RPC of the integrity API needs a credential (`authorization: Bearer <token>`) with
the scope below. The server refuses to start if it serves a method the table does not
name, or the table names a method it does not serve, so a new RPC is closed until someone
decides who may call it. Health checks and reflection are not API methods and stay open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from service.app.credentials import CredentialService
from service.app.ports import Clock
from service.domain.callers import (
    Caller,
    CallerKind,
    Scope,
    Viewer,
    ViewerKind,
    parse_on_behalf_of,
)
from service.domain.errors import PermissionDenied, ResourceExhausted, Unauthenticated
from service.domain.rate_limits import LimitClass, RateLimiter

ON_BEHALF_OF_HEADER = "x-on-behalf-of"

METHOD_SCOPES: dict[str, Scope] = {
    "/integrity.v1.VerificationService/CreateVerification": Scope.VERIFY,
    "/integrity.v1.VerificationService/GetVerification": Scope.VERIFY,
    "/integrity.v1.VerificationService/ListVerifications": Scope.VERIFY,
    "/integrity.v1.ArchiveService/GetArchive": Scope.READ_ARCHIVE,
    "/integrity.v1.ArchiveService/LookupArchive": Scope.READ_ARCHIVE,
    "/integrity.v1.ArchiveService/ListIntegrityLevels": Scope.READ_ARCHIVE,
    "/integrity.v1.DisclosureService/ListDisclosures": Scope.READ_ARCHIVE,
    "/integrity.v1.DisclosureService/GetLedgerCheckpoint": Scope.READ_ARCHIVE,
    "/integrity.v1.DisclosureService/GetLedgerConsistencyProof": Scope.READ_ARCHIVE,
    "/integrity.v1.PlatformDataService/IngestPlatformRecords": Scope.INGEST,
    "/integrity.v1.EligibilityService/CheckEligibility": Scope.CHECK_ELIGIBILITY,
    # The merchant's, through the gateway (the use case checks it is the enterprise's).
    "/integrity.v1.DisputeService/CreateDispute": Scope.ACT_FOR_USERS,
    "/integrity.v1.DisputeService/ListDisputes": Scope.READ_ARCHIVE,
    "/integrity.v1.DisputeService/ListPendingDisputes": Scope.OPS,
    "/integrity.v1.DisputeService/TakeDispute": Scope.OPS,
    "/integrity.v1.DisputeService/ResolveDispute": Scope.OPS,
    "/integrity.v1.DataRightsService/CreateDataRequest": Scope.ACT_FOR_USERS,
    "/integrity.v1.DataRightsService/ListDataRequests": Scope.READ_ARCHIVE,
    "/integrity.v1.DataRightsService/ListPendingDataRequests": Scope.OPS,
    "/integrity.v1.DataRightsService/TakeDataRequest": Scope.OPS,
    "/integrity.v1.DataRightsService/ResolveDataRequest": Scope.OPS,
    "/integrity.v1.DataRightsService/ExportPersonalData": Scope.ACT_FOR_USERS,
}


MERCHANT_READS = frozenset(
    {
        "/integrity.v1.VerificationService/GetVerification",
        "/integrity.v1.VerificationService/ListVerifications",
    }
)
"""Methods the gateway may call for an end user though it has not their scope: the
enterprise's own merchant reads its verifications. The servicer checks the user is that
enterprise's merchant (service/app/merchant_access.py)."""


@dataclass(frozen=True)
class Principal:
    caller: Caller
    # Set when the gateway acts for an end user.
    viewer: Viewer | None = None


def _bearer(metadata: dict[str, str]) -> str:
    value = metadata.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "send the caller's credential as 'authorization: Bearer <token>'",
            reason="CREDENTIAL_MISSING",
        )
    return token.strip()


def _limit_class(principal: Principal) -> tuple[LimitClass, str] | None:
    caller, viewer = principal.caller, principal.viewer
    if viewer is not None:
        limit_class = {
            ViewerKind.ANONYMOUS: LimitClass.ANONYMOUS,
            ViewerKind.LOGGED_IN: LimitClass.LOGGED_IN,
            ViewerKind.MERCHANT: LimitClass.MERCHANT,
        }[viewer.kind]
        return limit_class, f"{caller.id}:{viewer.user_key}"
    if caller.may(Scope.OPS):
        return None
    if caller.kind is CallerKind.PLATFORM:
        return LimitClass.PLATFORM, caller.id
    return LimitClass.GATEWAY, caller.id


class CallGate:
    """Admits a call: its credential, its scope, whom it acts for, and its rate."""

    def __init__(
        self,
        credentials: CredentialService,
        limiter: RateLimiter,
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._limiter = limiter
        self._clock = clock
        self._monotonic = monotonic

    async def admit(self, method: str, metadata: dict[str, str]) -> Principal:
        principal = await authorise_call(self._credentials, method, metadata)
        limited = _limit_class(principal)
        if limited is not None:
            wait = self._limiter.take(*limited, self._monotonic(), self._clock.now())
            if wait is not None:
                raise ResourceExhausted(
                    f"rate limit for {limited[0].value} callers reached; retry in {wait:.1f}s",
                    retry_after_seconds=wait,
                    reason="RATE_LIMITED",
                )
        return principal


async def authorise_call(
    credentials: CredentialService, method: str, metadata: dict[str, str]
) -> Principal:
    """The principal for a call; raises when the call may not be made."""
    caller = await credentials.authenticate(_bearer(metadata))
    required = METHOD_SCOPES.get(method)
    for_a_user = (
        method in MERCHANT_READS
        and caller.may(Scope.ACT_FOR_USERS)
        and ON_BEHALF_OF_HEADER in metadata
    )
    if required is None or not (caller.may(required) or caller.may(Scope.OPS) or for_a_user):
        raise PermissionDenied(
            f"this credential may not call {method.rsplit('/', 1)[-1]}",
            reason="SCOPE_MISSING",
        )
    viewer = None
    if ON_BEHALF_OF_HEADER in metadata:
        if not caller.may(Scope.ACT_FOR_USERS):
            raise PermissionDenied(
                "only the merchant gateway acts on behalf of users", reason="ON_BEHALF_OF_DENIED"
            )
        viewer = parse_on_behalf_of(metadata[ON_BEHALF_OF_HEADER])
    return Principal(caller, viewer)
