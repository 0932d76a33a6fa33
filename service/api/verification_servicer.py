"""VerificationService over gRPC: proto in, use case, proto out."""

from __future__ import annotations

from integrity.v1 import verification_pb2, verification_pb2_grpc

from service.api.callers import Principal
from service.api.convert import authorisation_draft, licence_draft, verification_to_proto
from service.api.request_handling import ApiCall
from service.app.merchant_access import require_own_merchant_or_ops
from service.app.resource_names import parse_enterprise_name, parse_verification_name
from service.app.verification_disclosure import DisclosingVerifications
from service.app.verifications import SubmitVerification
from service.domain.callers import Scope


def _reader(principal: Principal, uscc: str) -> str | None:
    """Callers see the verifications they made; ops see all (None: no filter). The gateway
    reads for an end user only the enterprise's own merchant's: every platform's
    verification of that enterprise."""
    if principal.viewer is not None:
        require_own_merchant_or_ops(principal.caller, principal.viewer, uscc, "verifications")
        return None
    return None if principal.caller.may(Scope.OPS) else principal.caller.id


class VerificationServicer(verification_pb2_grpc.VerificationServiceServicer):
    def __init__(self, verifications: DisclosingVerifications) -> None:
        self._verifications = verifications

    async def CreateVerification(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: verification_pb2.CreateVerificationRequest, call: ApiCall
    ) -> verification_pb2.CreateVerificationResponse:
        resource = request.verification
        caller = call.principal.caller
        command = SubmitVerification(
            caller=caller.id,
            parent=request.parent,
            request_id=request.request_id,
            licence=licence_draft(resource.licence) if resource.HasField("licence") else None,
            authorisation=authorisation_draft(resource.authorization)
            if resource.HasField("authorization")
            else None,
        )
        # The caller's deadline bounds the registry question, so that the answer (PENDING
        # when the registry cannot say in time) arrives before the caller gives up.
        time_left = call.grpc_context.time_remaining()
        verification = await self._verifications.submit(caller, command, time_left)
        return verification_pb2.CreateVerificationResponse(
            verification=verification_to_proto(verification)
        )

    async def GetVerification(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: verification_pb2.GetVerificationRequest, call: ApiCall
    ) -> verification_pb2.GetVerificationResponse:
        principal = call.principal
        uscc, _ = parse_verification_name(request.name)
        verification = await self._verifications.get(
            principal.caller, request.name, _reader(principal, uscc), principal.viewer
        )
        return verification_pb2.GetVerificationResponse(
            verification=verification_to_proto(verification)
        )

    async def ListVerifications(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: verification_pb2.ListVerificationsRequest, call: ApiCall
    ) -> verification_pb2.ListVerificationsResponse:
        principal = call.principal
        page = await self._verifications.list(
            principal.caller,
            request.parent,
            request.page_size,
            request.page_token,
            _reader(principal, parse_enterprise_name(request.parent)),
            principal.viewer,
        )
        return verification_pb2.ListVerificationsResponse(
            verifications=[verification_to_proto(v) for v in page.verifications],
            next_page_token=page.next_page_token,
        )
