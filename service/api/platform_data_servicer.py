"""PlatformDataService over gRPC: proto records in, per-record results out."""

from __future__ import annotations

from integrity.v1 import platform_data_pb2, platform_data_pb2_grpc

from service.adapters.platform_messages import record_draft
from service.api.request_handling import ApiCall
from service.app.ingestion import PlatformIngestion, RecordOutcome

_OUTCOMES = {
    RecordOutcome.ACCEPTED: platform_data_pb2.RECORD_OUTCOME_ACCEPTED,
    RecordOutcome.DUPLICATE: platform_data_pb2.RECORD_OUTCOME_DUPLICATE,
    RecordOutcome.REJECTED: platform_data_pb2.RECORD_OUTCOME_REJECTED,
}


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
