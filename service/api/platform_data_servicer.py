"""PlatformDataService over gRPC: proto records in, per-record results out."""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from integrity.v1 import platform_data_pb2, platform_data_pb2_grpc

from service.api.request_handling import ApiCall
from service.app.ingestion import PlatformIngestion, RecordOutcome
from service.domain.licence import DateParts
from service.domain.platform_ingest import RecordDraft

_OUTCOMES = {
    RecordOutcome.ACCEPTED: platform_data_pb2.RECORD_OUTCOME_ACCEPTED,
    RecordOutcome.DUPLICATE: platform_data_pb2.RECORD_OUTCOME_DUPLICATE,
    RecordOutcome.REJECTED: platform_data_pb2.RECORD_OUTCOME_REJECTED,
}


def _enum_prefix(enum_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum_name).upper() + "_"


def _value(message: Message, field: FieldDescriptor) -> Any:
    value = getattr(message, field.name)
    if field.message_type is not None and field.message_type.full_name == "google.type.Date":
        if not message.HasField(field.name):
            return None
        return DateParts(value.year, value.month, value.day)
    if field.enum_type is not None:
        known = field.enum_type.values_by_number.get(value)
        if known is None or value == 0:
            return ""
        return known.name.removeprefix(_enum_prefix(field.enum_type.name)).lower()
    if field.is_repeated:
        return list(value)
    return value


def record_draft(message: platform_data_pb2.PlatformRecord) -> RecordDraft:
    kind = message.WhichOneof("record") or ""
    values: dict[str, Any] = {}
    if kind:
        record = getattr(message, kind)
        values = {field.name: _value(record, field) for field in record.DESCRIPTOR.fields}
    return RecordDraft(event_id=message.event_id, uscc=message.uscc, kind=kind, values=values)


class PlatformDataServicer(platform_data_pb2_grpc.PlatformDataServiceServicer):
    def __init__(self, ingestion: PlatformIngestion) -> None:
        self._ingestion = ingestion

    async def IngestPlatformRecords(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: platform_data_pb2.IngestPlatformRecordsRequest, call: ApiCall
    ) -> platform_data_pb2.IngestPlatformRecordsResponse:
        report = await self._ingestion.ingest(
            call.principal.caller,
            request.platform,
            [record_draft(record) for record in request.records],
        )
        return platform_data_pb2.IngestPlatformRecordsResponse(
            accepted=report.count(RecordOutcome.ACCEPTED),
            duplicates=report.count(RecordOutcome.DUPLICATE),
            rejected=report.count(RecordOutcome.REJECTED),
            results=[
                platform_data_pb2.RecordResult(
                    index=result.index,
                    event_id=result.event_id,
                    outcome=_OUTCOMES[result.outcome],
                    violations=[
                        platform_data_pb2.RecordViolation(
                            field=v.field, description=v.description, reason=v.reason
                        )
                        for v in result.violations
                    ],
                )
                for result in report.results
            ],
        )
