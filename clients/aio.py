"""Async Python client for the enterprise integrity service."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Self

import grpc
from integrity.v1 import (
    archive_pb2,
    archive_pb2_grpc,
    data_rights_pb2,
    data_rights_pb2_grpc,
    disclosure_pb2,
    disclosure_pb2_grpc,
    dispute_pb2,
    dispute_pb2_grpc,
    eligibility_pb2,
    eligibility_pb2_grpc,
    platform_data_pb2,
    platform_data_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)

from clients._channel import (
    call_metadata,
    new_request_id,
    parent_of,
    read_time_of,
)
from clients.errors import from_rpc_error
from clients.tls import ClientTls, open_channel


class AsyncIntegrityClient:
    """Typed async access to every RPC. Failed calls raise IntegrityCallError.

    Use as `async with AsyncIntegrityClient("host:port") as client: ...`, or pass a
    channel you manage yourself.
    """

    def __init__(
        self,
        target: str = "",
        *,
        channel: grpc.aio.Channel | None = None,
        token: str = "",
        on_behalf_of: str = "",
        timeout: float = 10.0,
        metadata: tuple[tuple[str, str], ...] = (),
        tls: ClientTls | None = None,
    ) -> None:
        """token: the caller's credential. on_behalf_of: for the merchant gateway, the end
        user it acts for ("anonymous:<address>", "viewer:<id>", "merchant:<uscc>:<id>").
        tls: connect over TLS (see ClientTls); None: plain text, for a server on loopback."""
        if channel is None and not target:
            raise ValueError("give a target or a channel")
        metadata = call_metadata(token, on_behalf_of) + metadata
        if channel is not None and tls is not None:
            raise ValueError("give tls for a channel the client opens, not with a channel")
        self._owns_channel = channel is None
        self._channel: grpc.aio.Channel = channel or open_channel(grpc.aio, target, tls)
        self._timeout = timeout
        self._metadata = metadata
        self._verifications = verification_pb2_grpc.VerificationServiceStub(self._channel)
        self._archives = archive_pb2_grpc.ArchiveServiceStub(self._channel)
        self._disclosures = disclosure_pb2_grpc.DisclosureServiceStub(self._channel)
        self._platform_data = platform_data_pb2_grpc.PlatformDataServiceStub(self._channel)
        self._eligibility = eligibility_pb2_grpc.EligibilityServiceStub(self._channel)
        self._disputes = dispute_pb2_grpc.DisputeServiceStub(self._channel)
        self._data_rights = data_rights_pb2_grpc.DataRightsServiceStub(self._channel)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close(None)

    async def _call(self, method: Any, request: Any, timeout: float | None) -> Any:
        try:
            return await method(request, timeout=timeout or self._timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None

    async def create_verification(
        self,
        verification: verification_pb2.Verification,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> verification_pb2.Verification:
        """Verify licence data. Pass the same request_id to retry safely; one is made if absent."""
        request = verification_pb2.CreateVerificationRequest(
            parent=parent_of(verification.licence.uscc),
            verification=verification,
            request_id=request_id or new_request_id(),
        )
        response = await self._call(self._verifications.CreateVerification, request, timeout)
        result: verification_pb2.Verification = response.verification
        return result

    async def get_verification(
        self, name: str, *, timeout: float | None = None
    ) -> verification_pb2.Verification:
        """One verification by resource name (enterprises/{uscc}/verifications/{id})."""
        request = verification_pb2.GetVerificationRequest(name=name)
        response = await self._call(self._verifications.GetVerification, request, timeout)
        result: verification_pb2.Verification = response.verification
        return result

    async def list_verifications(
        self,
        uscc: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> verification_pb2.ListVerificationsResponse:
        """One page of an enterprise's verifications, newest first."""
        request = verification_pb2.ListVerificationsRequest(
            parent=parent_of(uscc), page_size=page_size, page_token=page_token
        )
        response: verification_pb2.ListVerificationsResponse = await self._call(
            self._verifications.ListVerifications, request, timeout
        )
        return response

    async def iter_verifications(
        self, uscc: str, *, page_size: int = 0
    ) -> AsyncIterator[verification_pb2.Verification]:
        """Every verification of an enterprise, newest first, fetching pages as needed."""
        token = ""
        while True:
            page = await self.list_verifications(uscc, page_size=page_size, page_token=token)
            for verification in page.verifications:
                yield verification
            token = page.next_page_token
            if not token:
                return

    async def get_archive(
        self,
        uscc: str,
        *,
        purpose: str = "",
        scenario: str = "",
        read_time: dt.datetime | None = None,
        timeout: float | None = None,
    ) -> archive_pb2.Archive:
        """An enterprise's archive as this caller may see it; platforms give purpose and
        scenario. read_time reads it as it was then."""
        request = archive_pb2.GetArchiveRequest(
            name=f"enterprises/{uscc}/archive",
            purpose=purpose,
            scenario=scenario,
            read_time=read_time_of(read_time),
        )
        response = await self._call(self._archives.GetArchive, request, timeout)
        result: archive_pb2.Archive = response.archive
        return result

    async def lookup_archive(
        self,
        registered_name: str,
        *,
        purpose: str = "",
        scenario: str = "",
        read_time: dt.datetime | None = None,
        timeout: float | None = None,
    ) -> archive_pb2.Archive:
        """An enterprise's archive by its exact registered name."""
        request = archive_pb2.LookupArchiveRequest(
            registered_name=registered_name,
            purpose=purpose,
            scenario=scenario,
            read_time=read_time_of(read_time),
        )
        response = await self._call(self._archives.LookupArchive, request, timeout)
        result: archive_pb2.Archive = response.archive
        return result

    async def list_integrity_levels(
        self, uscc: str, *, page_size: int = 0, timeout: float | None = None
    ) -> list[archive_pb2.IntegrityLevel]:
        """The enterprise's levels over time, newest first (its merchant, ops)."""
        request = archive_pb2.ListIntegrityLevelsRequest(
            parent=parent_of(uscc), page_size=page_size
        )
        response: archive_pb2.ListIntegrityLevelsResponse = await self._call(
            self._archives.ListIntegrityLevels, request, timeout
        )
        return list(response.levels)

    async def list_disclosures(
        self,
        uscc: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> disclosure_pb2.ListDisclosuresResponse:
        """One page of who was shown the enterprise's data, newest first (its merchant, ops)."""
        request = disclosure_pb2.ListDisclosuresRequest(
            parent=parent_of(uscc), page_size=page_size, page_token=page_token
        )
        response: disclosure_pb2.ListDisclosuresResponse = await self._call(
            self._disclosures.ListDisclosures, request, timeout
        )
        return response

    async def get_ledger_checkpoint(
        self, tree_size: int = 0, *, timeout: float | None = None
    ) -> disclosure_pb2.LedgerCheckpoint:
        """The disclosure log's signed checkpoint of that size, or the latest (0)."""
        request = disclosure_pb2.GetLedgerCheckpointRequest(tree_size=tree_size)
        response: disclosure_pb2.GetLedgerCheckpointResponse = await self._call(
            self._disclosures.GetLedgerCheckpoint, request, timeout
        )
        return response.checkpoint

    async def get_ledger_consistency_proof(
        self, first_tree_size: int, second_tree_size: int = 0, *, timeout: float | None = None
    ) -> disclosure_pb2.GetLedgerConsistencyProofResponse:
        """A proof that the log's checkpoint of the second size (0: the latest) extends the
        log at the first size; check it with clients.ledger_verifier."""
        request = disclosure_pb2.GetLedgerConsistencyProofRequest(
            first_tree_size=first_tree_size, second_tree_size=second_tree_size
        )
        response: disclosure_pb2.GetLedgerConsistencyProofResponse = await self._call(
            self._disclosures.GetLedgerConsistencyProof, request, timeout
        )
        return response

    async def create_dispute(
        self,
        uscc: str,
        item: str,
        statement: str,
        evidence: str = "",
        *,
        timeout: float | None = None,
    ) -> dispute_pb2.Dispute:
        """The enterprise's merchant disputes an item (the gateway, for its merchant)."""
        request = dispute_pb2.CreateDisputeRequest(
            parent=parent_of(uscc),
            dispute=dispute_pb2.Dispute(item=item, statement=statement, evidence=evidence),
        )
        response: dispute_pb2.CreateDisputeResponse = await self._call(
            self._disputes.CreateDispute, request, timeout
        )
        return response.dispute

    async def list_disputes(
        self, uscc: str, *, timeout: float | None = None
    ) -> list[dispute_pb2.Dispute]:
        """The enterprise's disputes, newest first (its merchant, ops)."""
        request = dispute_pb2.ListDisputesRequest(parent=parent_of(uscc))
        response: dispute_pb2.ListDisputesResponse = await self._call(
            self._disputes.ListDisputes, request, timeout
        )
        return list(response.disputes)

    async def list_pending_disputes(
        self, *, due_within_days: int = 0, page_size: int = 0, timeout: float | None = None
    ) -> list[dispute_pb2.Dispute]:
        """Ops: the disputes still to be answered, the nearest deadline first."""
        request = dispute_pb2.ListPendingDisputesRequest(
            due_within_days=due_within_days, page_size=page_size
        )
        response: dispute_pb2.ListPendingDisputesResponse = await self._call(
            self._disputes.ListPendingDisputes, request, timeout
        )
        return list(response.disputes)

    async def take_dispute(
        self, name: str, assignee: str, *, timeout: float | None = None
    ) -> dispute_pb2.Dispute:
        """Ops: take a dispute into review."""
        request = dispute_pb2.TakeDisputeRequest(name=name, assignee=assignee)
        response: dispute_pb2.TakeDisputeResponse = await self._call(
            self._disputes.TakeDispute, request, timeout
        )
        return response.dispute

    async def resolve_dispute(
        self,
        name: str,
        resolution: dispute_pb2.DisputeResolution.ValueType,
        reason: str,
        *,
        timeout: float | None = None,
    ) -> dispute_pb2.Dispute:
        """Ops: resolve a dispute in review, with the reason the merchant is shown."""
        request = dispute_pb2.ResolveDisputeRequest(name=name, resolution=resolution, reason=reason)
        response: dispute_pb2.ResolveDisputeResponse = await self._call(
            self._disputes.ResolveDispute, request, timeout
        )
        return response.dispute

    async def create_data_request(
        self,
        uscc: str,
        kind: data_rights_pb2.DataRequestKind.ValueType,
        statement: str = "",
        *,
        timeout: float | None = None,
    ) -> data_rights_pb2.DataRequest:
        """The enterprise's merchant makes a request (the gateway, for its merchant); a
        withdrawal comes back completed."""
        request = data_rights_pb2.CreateDataRequestRequest(
            parent=parent_of(uscc),
            data_request=data_rights_pb2.DataRequest(kind=kind, statement=statement),
        )
        response: data_rights_pb2.CreateDataRequestResponse = await self._call(
            self._data_rights.CreateDataRequest, request, timeout
        )
        return response.data_request

    async def list_data_requests(
        self, uscc: str, *, timeout: float | None = None
    ) -> list[data_rights_pb2.DataRequest]:
        """The enterprise's data requests, newest first (its merchant, ops)."""
        request = data_rights_pb2.ListDataRequestsRequest(parent=parent_of(uscc))
        response: data_rights_pb2.ListDataRequestsResponse = await self._call(
            self._data_rights.ListDataRequests, request, timeout
        )
        return list(response.data_requests)

    async def list_pending_data_requests(
        self, *, due_within_hours: int = 0, page_size: int = 0, timeout: float | None = None
    ) -> list[data_rights_pb2.DataRequest]:
        """Ops: the requests still to be answered, the nearest deadline first."""
        request = data_rights_pb2.ListPendingDataRequestsRequest(
            due_within_hours=due_within_hours, page_size=page_size
        )
        response: data_rights_pb2.ListPendingDataRequestsResponse = await self._call(
            self._data_rights.ListPendingDataRequests, request, timeout
        )
        return list(response.data_requests)

    async def take_data_request(
        self, name: str, assignee: str, *, timeout: float | None = None
    ) -> data_rights_pb2.DataRequest:
        """Ops: take a request in hand."""
        request = data_rights_pb2.TakeDataRequestRequest(name=name, assignee=assignee)
        response: data_rights_pb2.TakeDataRequestResponse = await self._call(
            self._data_rights.TakeDataRequest, request, timeout
        )
        return response.data_request

    async def resolve_data_request(
        self,
        name: str,
        answer: data_rights_pb2.DataRequestAnswer.ValueType,
        text: str,
        *,
        timeout: float | None = None,
    ) -> data_rights_pb2.DataRequest:
        """Ops: answer a request in hand, with what the merchant is shown."""
        request = data_rights_pb2.ResolveDataRequestRequest(name=name, answer=answer, text=text)
        response: data_rights_pb2.ResolveDataRequestResponse = await self._call(
            self._data_rights.ResolveDataRequest, request, timeout
        )
        return response.data_request

    async def export_personal_data(
        self, uscc: str, name: str, id_number: str, *, timeout: float | None = None
    ) -> list[data_rights_pb2.HeldPersonalValue]:
        """The legal representative's data as held, unmasked, for a request proving the
        person's identity (the gateway, for the enterprise's merchant)."""
        request = data_rights_pb2.ExportPersonalDataRequest(
            parent=parent_of(uscc),
            identity_proof=data_rights_pb2.IdentityProof(name=name, id_number=id_number),
        )
        response: data_rights_pb2.ExportPersonalDataResponse = await self._call(
            self._data_rights.ExportPersonalData, request, timeout
        )
        return list(response.values)

    async def ingest_platform_records(
        self,
        platform: str,
        records: Sequence[platform_data_pb2.PlatformRecord],
        *,
        timeout: float | None = None,
    ) -> platform_data_pb2.IngestPlatformRecordsResponse:
        """Feed the business integrity archive for your own platform (its code, e.g. "1688").

        Safe to retry: each record's event_id makes it idempotent. Read the per-record
        results: a bad record is rejected on its own while the others are kept.
        """
        request = platform_data_pb2.IngestPlatformRecordsRequest(
            platform=f"platforms/{platform}", records=list(records)
        )
        response: platform_data_pb2.IngestPlatformRecordsResponse = await self._call(
            self._platform_data.IngestPlatformRecords, request, timeout
        )
        return response

    async def check_eligibility(
        self, uscc: str, policy: str, *, timeout: float | None = None
    ) -> eligibility_pb2.CheckEligibilityResponse:
        """Decide ALLOW, DENY or REVIEW for an enterprise under your platform's policy in force."""
        request = eligibility_pb2.CheckEligibilityRequest(uscc=uscc, policy=policy)
        response: eligibility_pb2.CheckEligibilityResponse = await self._call(
            self._eligibility.CheckEligibility, request, timeout
        )
        return response
