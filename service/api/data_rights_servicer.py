"""DataRightsService over gRPC: proto in, use case, proto out."""

from __future__ import annotations

import datetime as dt

from integrity.v1 import data_rights_pb2, data_rights_pb2_grpc

from service.api.proto_values import timestamp_out
from service.api.request_handling import ApiCall
from service.app.data_rights import DataRightsService
from service.app.merchant_access import page_size_of
from service.app.personal_data_access import PersonalDataAccess
from service.app.resource_names import data_request_name
from service.domain.data_requests import Answer, DataRequest, RequestKind
from service.domain.errors import FieldViolation, InvalidArgument

_KINDS = {
    data_rights_pb2.DATA_REQUEST_KIND_CORRECTION: RequestKind.CORRECTION,
    data_rights_pb2.DATA_REQUEST_KIND_DELETION: RequestKind.DELETION,
    data_rights_pb2.DATA_REQUEST_KIND_WITHDRAWAL: RequestKind.WITHDRAWAL,
}
_KINDS_OUT = {kind: number for number, kind in _KINDS.items()}
_STATES = {
    "open": data_rights_pb2.DATA_REQUEST_STATE_OPEN,
    "in_progress": data_rights_pb2.DATA_REQUEST_STATE_IN_PROGRESS,
    "completed": data_rights_pb2.DATA_REQUEST_STATE_COMPLETED,
    "refused": data_rights_pb2.DATA_REQUEST_STATE_REFUSED,
}
_ANSWERS = {
    data_rights_pb2.DATA_REQUEST_ANSWER_COMPLETED: Answer.COMPLETED,
    data_rights_pb2.DATA_REQUEST_ANSWER_REFUSED: Answer.REFUSED,
}
MAX_DUE_WITHIN_HOURS = 8760


def data_request_to_proto(request: DataRequest) -> data_rights_pb2.DataRequest:
    message = data_rights_pb2.DataRequest(
        name=data_request_name(request.uscc, request.id),
        kind=_KINDS_OUT[request.kind],
        statement=request.statement,
        state=_STATES[request.state.value],
        open_time=timestamp_out(request.open_time),
        deadline=timestamp_out(request.deadline),
        assignee=request.assignee,
        answer=request.answer,
    )
    if request.answer_time is not None:
        message.answer_time.CopyFrom(timestamp_out(request.answer_time))
    return message


class DataRightsServicer(data_rights_pb2_grpc.DataRightsServiceServicer):
    def __init__(self, rights: DataRightsService, access: PersonalDataAccess) -> None:
        self._rights = rights
        self._access = access

    async def ExportPersonalData(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: data_rights_pb2.ExportPersonalDataRequest, call: ApiCall
    ) -> data_rights_pb2.ExportPersonalDataResponse:
        principal = call.principal
        proof = request.identity_proof
        held = await self._access.export(
            principal.caller, principal.viewer, request.parent, proof.name, proof.id_number
        )
        return data_rights_pb2.ExportPersonalDataResponse(
            values=[
                data_rights_pb2.HeldPersonalValue(source=v.source, field=v.field, value=v.value)
                for v in held
            ]
        )

    async def CreateDataRequest(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: data_rights_pb2.CreateDataRequestRequest, call: ApiCall
    ) -> data_rights_pb2.CreateDataRequestResponse:
        wanted = request.data_request
        made = await self._rights.open(
            call.principal.viewer, request.parent, _KINDS.get(wanted.kind), wanted.statement
        )
        return data_rights_pb2.CreateDataRequestResponse(data_request=data_request_to_proto(made))

    async def ListDataRequests(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: data_rights_pb2.ListDataRequestsRequest, call: ApiCall
    ) -> data_rights_pb2.ListDataRequestsResponse:
        principal = call.principal
        found = await self._rights.of_enterprise(principal.caller, principal.viewer, request.parent)
        return data_rights_pb2.ListDataRequestsResponse(
            data_requests=[data_request_to_proto(r) for r in found]
        )

    async def ListPendingDataRequests(  # type: ignore[override]  # an ApiCall
        self, request: data_rights_pb2.ListPendingDataRequestsRequest, call: ApiCall
    ) -> data_rights_pb2.ListPendingDataRequestsResponse:
        hours = request.due_within_hours
        if not 0 <= hours <= MAX_DUE_WITHIN_HOURS:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "due_within_hours",
                        f"must be 0 to {MAX_DUE_WITHIN_HOURS}",
                        "HOURS_OUT_OF_RANGE",
                    )
                ]
            )
        size = page_size_of(request.page_size, 100, 1000)
        window = dt.timedelta(hours=hours) if hours else None
        found = await self._rights.pending(window, size)
        return data_rights_pb2.ListPendingDataRequestsResponse(
            data_requests=[data_request_to_proto(r) for r in found]
        )

    async def TakeDataRequest(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: data_rights_pb2.TakeDataRequestRequest, call: ApiCall
    ) -> data_rights_pb2.TakeDataRequestResponse:
        taken = await self._rights.take(request.name, request.assignee[:160])
        return data_rights_pb2.TakeDataRequestResponse(data_request=data_request_to_proto(taken))

    async def ResolveDataRequest(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: data_rights_pb2.ResolveDataRequestRequest, call: ApiCall
    ) -> data_rights_pb2.ResolveDataRequestResponse:
        answer = _ANSWERS.get(request.answer)
        if answer is None:
            raise InvalidArgument(
                [FieldViolation("answer", "must be COMPLETED or REFUSED", "REQUIRED")]
            )
        answered = await self._rights.resolve(request.name, answer, request.text)
        return data_rights_pb2.ResolveDataRequestResponse(
            data_request=data_request_to_proto(answered)
        )
