"""DisputeService over gRPC: proto in, use case, proto out."""

from __future__ import annotations

import datetime as dt

from integrity.v1 import dispute_pb2, dispute_pb2_grpc

from service.api.proto_values import timestamp_out
from service.api.request_handling import ApiCall
from service.app.disputes import DisputeService
from service.app.merchant_access import page_size_of
from service.app.resource_names import dispute_name
from service.domain.disputes import Dispute, Resolution
from service.domain.errors import FieldViolation, InvalidArgument

_STATES = {
    "open": dispute_pb2.DISPUTE_STATE_OPEN,
    "in_review": dispute_pb2.DISPUTE_STATE_IN_REVIEW,
    "corrected": dispute_pb2.DISPUTE_STATE_CORRECTED,
    "rejected": dispute_pb2.DISPUTE_STATE_REJECTED,
}
_RESOLUTIONS = {
    dispute_pb2.DISPUTE_RESOLUTION_CORRECTED: Resolution.CORRECTED,
    dispute_pb2.DISPUTE_RESOLUTION_REJECTED: Resolution.REJECTED,
}
MAX_DUE_WITHIN_DAYS = 3660


def dispute_to_proto(dispute: Dispute) -> dispute_pb2.Dispute:
    message = dispute_pb2.Dispute(
        name=dispute_name(dispute.uscc, dispute.id),
        item=dispute.item,
        statement=dispute.statement,
        evidence=dispute.evidence,
        state=_STATES[dispute.state.value],
        open_time=timestamp_out(dispute.open_time),
        deadline=timestamp_out(dispute.deadline),
        assignee=dispute.assignee,
        reason=dispute.reason,
    )
    if dispute.resolve_time is not None:
        message.resolve_time.CopyFrom(timestamp_out(dispute.resolve_time))
    return message


class DisputeServicer(dispute_pb2_grpc.DisputeServiceServicer):
    def __init__(self, disputes: DisputeService) -> None:
        self._disputes = disputes

    async def CreateDispute(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: dispute_pb2.CreateDisputeRequest, call: ApiCall
    ) -> dispute_pb2.CreateDisputeResponse:
        wanted = request.dispute
        dispute = await self._disputes.open(
            call.principal.viewer, request.parent, wanted.item, wanted.statement, wanted.evidence
        )
        return dispute_pb2.CreateDisputeResponse(dispute=dispute_to_proto(dispute))

    async def ListDisputes(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: dispute_pb2.ListDisputesRequest, call: ApiCall
    ) -> dispute_pb2.ListDisputesResponse:
        principal = call.principal
        found = await self._disputes.of_enterprise(
            principal.caller, principal.viewer, request.parent
        )
        return dispute_pb2.ListDisputesResponse(disputes=[dispute_to_proto(d) for d in found])

    async def ListPendingDisputes(  # type: ignore[override]  # an ApiCall
        self, request: dispute_pb2.ListPendingDisputesRequest, call: ApiCall
    ) -> dispute_pb2.ListPendingDisputesResponse:
        days = request.due_within_days
        if not 0 <= days <= MAX_DUE_WITHIN_DAYS:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "due_within_days",
                        f"must be 0 to {MAX_DUE_WITHIN_DAYS}",
                        "DAYS_OUT_OF_RANGE",
                    )
                ]
            )
        size = page_size_of(request.page_size, 100, 1000)
        window = dt.timedelta(days=days) if days else None
        found = await self._disputes.pending(window, size)
        return dispute_pb2.ListPendingDisputesResponse(
            disputes=[dispute_to_proto(d) for d in found]
        )

    async def TakeDispute(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: dispute_pb2.TakeDisputeRequest, call: ApiCall
    ) -> dispute_pb2.TakeDisputeResponse:
        dispute = await self._disputes.take(request.name, request.assignee[:160])
        return dispute_pb2.TakeDisputeResponse(dispute=dispute_to_proto(dispute))

    async def ResolveDispute(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: dispute_pb2.ResolveDisputeRequest, call: ApiCall
    ) -> dispute_pb2.ResolveDisputeResponse:
        resolution = _RESOLUTIONS.get(request.resolution)
        if resolution is None:
            raise InvalidArgument(
                [FieldViolation("resolution", "must be CORRECTED or REJECTED", "REQUIRED")]
            )
        dispute = await self._disputes.resolve(request.name, resolution, request.reason)
        return dispute_pb2.ResolveDisputeResponse(dispute=dispute_to_proto(dispute))
