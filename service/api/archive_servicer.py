"""ArchiveService and DisclosureService over gRPC."""

from __future__ import annotations

from google.protobuf import timestamp_pb2
from integrity.v1 import archive_pb2, archive_pb2_grpc, disclosure_pb2, disclosure_pb2_grpc

from service.api.archive_convert import TIERS, archive_to_proto, level_to_proto
from service.api.callers import Principal
from service.api.proto_values import timestamp_in, timestamp_out
from service.api.request_handling import ApiCall
from service.app.archive import ArchiveRead, ArchiveReader, ShownArchive
from service.app.disclosures import DisclosureQueries
from service.app.disputes import DisputeService
from service.app.ledger_log import DisclosureLog
from service.app.level_history import LevelHistoryQueries
from service.app.resource_names import disclosure_name, parse_archive_name
from service.domain.checkpoint import NoteVerifier, PublishedCheckpoint
from service.domain.visibility import Tier


def _read(
    principal: Principal, purpose: str, scenario: str, read_time: timestamp_pb2.Timestamp | None
) -> ArchiveRead:
    return ArchiveRead(
        caller=principal.caller,
        viewer=principal.viewer,
        purpose=purpose,
        scenario=scenario,
        read_time=None if read_time is None else timestamp_in(read_time),
    )


class ArchiveServicer(archive_pb2_grpc.ArchiveServiceServicer):
    def __init__(
        self, reader: ArchiveReader, levels: LevelHistoryQueries, disputes: DisputeService
    ) -> None:
        self._reader = reader
        self._levels = levels
        self._disputes = disputes

    async def _shown(self, shown: ShownArchive) -> archive_pb2.Archive:
        """The archive as its tier shows it, with the items under dispute marked."""
        message = archive_to_proto(shown)
        message.under_dispute.extend(sorted(await self._disputes.under_dispute(shown.archive.uscc)))
        return message

    async def ListIntegrityLevels(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: archive_pb2.ListIntegrityLevelsRequest, call: ApiCall
    ) -> archive_pb2.ListIntegrityLevelsResponse:
        principal = call.principal
        levels = await self._levels.list(
            principal.caller, principal.viewer, request.parent, request.page_size
        )
        return archive_pb2.ListIntegrityLevelsResponse(
            levels=[level_to_proto(level) for level in levels]
        )

    async def GetArchive(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: archive_pb2.GetArchiveRequest, call: ApiCall
    ) -> archive_pb2.GetArchiveResponse:
        uscc = parse_archive_name(request.name)
        read_time = request.read_time if request.HasField("read_time") else None
        shown = await self._reader.read(
            uscc, _read(call.principal, request.purpose, request.scenario, read_time)
        )
        return archive_pb2.GetArchiveResponse(archive=await self._shown(shown))

    async def LookupArchive(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: archive_pb2.LookupArchiveRequest, call: ApiCall
    ) -> archive_pb2.LookupArchiveResponse:
        read_time = request.read_time if request.HasField("read_time") else None
        shown = await self._reader.lookup(
            request.registered_name,
            _read(call.principal, request.purpose, request.scenario, read_time),
        )
        return archive_pb2.LookupArchiveResponse(archive=await self._shown(shown))


def checkpoint_to_proto(
    published: PublishedCheckpoint, verifier: NoteVerifier | None
) -> disclosure_pb2.LedgerCheckpoint:
    checkpoint = published.checkpoint
    return disclosure_pb2.LedgerCheckpoint(
        note=published.note,
        origin=checkpoint.origin,
        tree_size=checkpoint.size,
        root_hash=checkpoint.root,
        publish_time=timestamp_out(published.publish_time),
        verifier_key=str(verifier) if verifier is not None else "",
    )


class DisclosureServicer(disclosure_pb2_grpc.DisclosureServiceServicer):
    def __init__(self, queries: DisclosureQueries, ledger_log: DisclosureLog) -> None:
        self._queries = queries
        self._log = ledger_log

    async def ListDisclosures(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: disclosure_pb2.ListDisclosuresRequest, call: ApiCall
    ) -> disclosure_pb2.ListDisclosuresResponse:
        principal = call.principal
        page = await self._queries.list(
            principal.caller,
            principal.viewer,
            request.parent,
            request.page_size,
            request.page_token,
        )
        response = disclosure_pb2.ListDisclosuresResponse(
            disclosures=[
                disclosure_pb2.Disclosure(
                    name=disclosure_name(page.uscc, chained.sequence),
                    recipient=chained.entry.recipient_name,
                    recipient_kind=chained.entry.recipient_kind,
                    tier=TIERS[Tier(chained.entry.tier)],
                    purpose=chained.entry.purpose,
                    scenario=chained.entry.scenario,
                    fields=list(chained.entry.fields),
                    disclose_time=timestamp_out(chained.entry.disclose_time),
                    leaf_data=chained.entry.canonical(),
                    inclusion_proof=list(page.proofs.get(chained.sequence, ())),
                    sequence=chained.sequence,
                )
                for chained in page.entries
            ],
            next_page_token=page.next_page_token,
        )
        if page.checkpoint is not None:
            response.checkpoint.CopyFrom(checkpoint_to_proto(page.checkpoint, self._log.verifier))
        return response

    async def GetLedgerCheckpoint(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: disclosure_pb2.GetLedgerCheckpointRequest, call: ApiCall
    ) -> disclosure_pb2.GetLedgerCheckpointResponse:
        published = await self._log.checkpoint(request.tree_size)
        return disclosure_pb2.GetLedgerCheckpointResponse(
            checkpoint=checkpoint_to_proto(published, self._log.verifier)
        )

    async def GetLedgerConsistencyProof(  # type: ignore[override]  # an ApiCall
        self, request: disclosure_pb2.GetLedgerConsistencyProofRequest, call: ApiCall
    ) -> disclosure_pb2.GetLedgerConsistencyProofResponse:
        proof = await self._log.consistency(request.first_tree_size, request.second_tree_size)
        response = disclosure_pb2.GetLedgerConsistencyProofResponse(
            second=checkpoint_to_proto(proof.second, self._log.verifier),
            proof=list(proof.proof),
        )
        if proof.first is not None:
            response.first.CopyFrom(checkpoint_to_proto(proof.first, self._log.verifier))
        return response
