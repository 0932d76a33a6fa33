"""The JSON API under /v1: the service's answers, for the end user the request is from.

Bodies are the service's messages in the protobuf JSON mapping (proto_schema.py gives
their schemas); errors are problem details (problems.py). Each route names the user (a
token, or the client address), calls integrity-server for that user, and returns what it
answered: tiers, purposes and rate limits are the service's, and the gateway adds none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from integrity.v1 import (
    archive_pb2,
    data_rights_pb2,
    disclosure_pb2,
    dispute_pb2,
    verification_pb2,
)
from pydantic import BaseModel, ConfigDict, Field

from clients import AsyncIntegrityClient
from gateway.addresses import client_address
from gateway.data_export import export
from gateway.identity import EndUser, TokenRejected, anonymous
from gateway.problems import problem
from gateway.proto_schema import reference
from gateway.sessions import SESSION_COOKIE

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
BODIES: dict[str, Any] = {
    "integrity.v1.Archive": archive_pb2.Archive.DESCRIPTOR,
    "integrity.v1.ListIntegrityLevelsResponse": archive_pb2.ListIntegrityLevelsResponse.DESCRIPTOR,
    "integrity.v1.ListDisclosuresResponse": disclosure_pb2.ListDisclosuresResponse.DESCRIPTOR,
    "integrity.v1.ListVerificationsResponse": (
        verification_pb2.ListVerificationsResponse.DESCRIPTOR
    ),
    "integrity.v1.LedgerCheckpoint": disclosure_pb2.LedgerCheckpoint.DESCRIPTOR,
    "integrity.v1.Dispute": dispute_pb2.Dispute.DESCRIPTOR,
    "integrity.v1.ListDisputesResponse": dispute_pb2.ListDisputesResponse.DESCRIPTOR,
    "integrity.v1.DataRequest": data_rights_pb2.DataRequest.DESCRIPTOR,
    "integrity.v1.HeldPersonalValue": data_rights_pb2.HeldPersonalValue.DESCRIPTOR,
    "integrity.v1.ListDataRequestsResponse": data_rights_pb2.ListDataRequestsResponse.DESCRIPTOR,
    "integrity.v1.GetLedgerConsistencyProofResponse": (
        disclosure_pb2.GetLedgerConsistencyProofResponse.DESCRIPTOR
    ),
}
"""Every message a route answers with: their schemas go into the OpenAPI document."""

router = APIRouter(prefix="/v1")

Purpose = Annotated[
    str,
    Query(max_length=64, description="The declared purpose of the read (platform reads)"),
]
Scenario = Annotated[str, Query(max_length=64, description="The declared scenario")]
PageSize = Annotated[int, Query(alias="pageSize", ge=0, le=INT32_MAX)]
PageToken = Annotated[str, Query(alias="pageToken", max_length=1024)]


def _ok(body: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"content": {"application/json": {"schema": reference(body)}}}}


def _answer(message: Message, status: int = 200) -> JSONResponse:
    # Archives and disclosures are a user's view of an enterprise: never kept by a cache.
    return JSONResponse(
        MessageToDict(message), status_code=status, headers={"Cache-Control": "no-store"}
    )


async def end_user(request: Request, *, session_allowed: bool = True) -> EndUser:
    """The token's user, or the anonymous visitor at the client's address.

    session_allowed: whether a page's session cookie names the user. Only for reads: a
    write through /v1 needs the token itself, so no other site's page can make a logged-in
    browser send one (the pages' forms carry CSRF tokens instead)."""
    state = request.app.state
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRejected("TOKEN_MALFORMED", "send the token as Authorization: Bearer")
        user: EndUser = await state.verifier.verify(token.strip())
        return user
    # A page's link to the JSON of what it shows (a merchant's disclosures): the same
    # session, for these read-only routes (the cookie is SameSite=Lax).
    session = state.sessions.decode(request.cookies.get(SESSION_COOKIE), state.clock.now())
    if session is not None and session_allowed:
        found: EndUser = session.user
        return found
    peer = request.client.host if request.client is not None else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return anonymous(client_address(peer, forwarded, state.settings.trusted_proxies))


async def _client(request: Request) -> AsyncIntegrityClient:
    client: AsyncIntegrityClient = request.app.state.upstream.for_user(await end_user(request))
    return client


@router.get(
    "/enterprises/{uscc}/archive",
    operation_id="getArchive",
    summary="An enterprise's archive, at the tier of the user asking",
    responses=_ok("integrity.v1.Archive"),
)
async def get_archive(
    request: Request, uscc: str, purpose: Purpose = "", scenario: Scenario = ""
) -> JSONResponse:
    client = await _client(request)
    return _answer(await client.get_archive(uscc, purpose=purpose, scenario=scenario))


@router.get(
    "/archives:lookup",
    operation_id="lookupArchive",
    summary="An enterprise's archive by its exact registered name",
    responses=_ok("integrity.v1.Archive"),
)
async def lookup_archive(
    request: Request,
    registered_name: Annotated[str, Query(alias="registeredName", min_length=1, max_length=200)],
    purpose: Purpose = "",
    scenario: Scenario = "",
) -> JSONResponse:
    client = await _client(request)
    archive = await client.lookup_archive(registered_name, purpose=purpose, scenario=scenario)
    return _answer(archive)


@router.get(
    "/enterprises/{uscc}/levels",
    operation_id="listIntegrityLevels",
    summary="The enterprise's integrity levels over time, newest first (its own merchant)",
    responses=_ok("integrity.v1.ListIntegrityLevelsResponse"),
)
async def list_integrity_levels(
    request: Request,
    uscc: str,
    page_size: PageSize = 0,
) -> JSONResponse:
    client = await _client(request)
    levels = await client.list_integrity_levels(uscc, page_size=page_size)
    return _answer(archive_pb2.ListIntegrityLevelsResponse(levels=levels))


@router.get(
    "/enterprises/{uscc}/verifications",
    operation_id="listVerifications",
    summary="The enterprise's verifications and their history, newest first (its own merchant)",
    responses=_ok("integrity.v1.ListVerificationsResponse"),
)
async def list_verifications(
    request: Request,
    uscc: str,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> JSONResponse:
    client = await _client(request)
    page = await client.list_verifications(uscc, page_size=page_size, page_token=page_token)
    return _answer(page)


@router.get(
    "/enterprises/{uscc}/disclosures",
    operation_id="listDisclosures",
    summary="Who was shown the enterprise's data, newest first, with inclusion proofs "
    "(the enterprise's own merchant)",
    responses=_ok("integrity.v1.ListDisclosuresResponse"),
)
async def list_disclosures(
    request: Request,
    uscc: str,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> JSONResponse:
    client = await _client(request)
    page = await client.list_disclosures(uscc, page_size=page_size, page_token=page_token)
    return _answer(page)


@router.get(
    "/enterprises/{uscc}:export",
    operation_id="exportEnterpriseData",
    summary="Everything the service holds about the enterprise, for its own merchant: "
    "archive, levels, verifications and the disclosure ledger with proofs",
    responses=_ok("EnterpriseDataExport"),
)
async def export_enterprise_data(request: Request, uscc: str) -> JSONResponse:
    return await exported(request, await end_user(request), uscc)


class IdentityProof(BaseModel):
    """The legal representative's name and ID number, as the service holds them."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=64)
    idNumber: str = Field(min_length=1, max_length=32)


@router.post(
    "/enterprises/{uscc}:export",
    operation_id="exportEnterpriseDataUnmasked",
    summary="The same download, with every value held of the legal representative unmasked, "
    "for a request that proves that person's identity (403 IDENTITY_NOT_PROVEN otherwise; "
    "429 after 5 wrong proofs in a day)",
    responses=_ok("EnterpriseDataExport"),
)
async def export_enterprise_data_unmasked(
    request: Request, uscc: str, body: IdentityProof
) -> JSONResponse:
    user = await end_user(request, session_allowed=False)
    return await exported(request, user, uscc, (body.name, body.idNumber))


async def exported(
    request: Request, user: EndUser, uscc: str, proof: tuple[str, str] | None = None
) -> JSONResponse:
    """The enterprise's download for its merchant, as an attachment; for anyone else a 403
    before anything is read, so no part of the archive goes out on the way."""
    if user.kind != "merchant" or user.merchant_uscc != uscc:
        return problem(
            403, "NOT_THE_MERCHANT", "only the enterprise's own merchant downloads its data"
        )
    client: AsyncIntegrityClient = request.app.state.upstream.for_user(user)
    document = await export(client, uscc, request.app.state.clock.now(), proof)
    disposition = f'attachment; filename="enterprise-{uscc}.json"'
    return JSONResponse(
        document, headers={"Cache-Control": "no-store", "Content-Disposition": disposition}
    )


class NewDispute(BaseModel):
    """What a merchant disputes: the service checks the item and the texts."""

    model_config = ConfigDict(extra="forbid", strict=True)

    item: str = Field(
        max_length=128,
        description="The disputed item: a record as the level's reasons name it "
        "(judicial:<id>, conduct:<platform>:<id>, certification:<platform>:<id>, "
        "verification:<id>), a public field group (public.status, ...) or integrity_level",
    )
    statement: str = Field(max_length=2000, description="What is wrong")
    evidence: str = Field(
        default="", max_length=500, description="A reference to the evidence (a document number)"
    )


@router.get(
    "/enterprises/{uscc}/disputes",
    operation_id="listDisputes",
    summary="The enterprise's disputes and their answers, newest first (its own merchant)",
    responses=_ok("integrity.v1.ListDisputesResponse"),
)
async def list_disputes(request: Request, uscc: str) -> JSONResponse:
    client = await _client(request)
    return _answer(dispute_pb2.ListDisputesResponse(disputes=await client.list_disputes(uscc)))


@router.post(
    "/enterprises/{uscc}/disputes",
    operation_id="createDispute",
    summary="The enterprise's own merchant disputes an item; every viewer sees it marked "
    "until ops answer (within 20 days). One unanswered dispute per item (409).",
    status_code=201,
    responses=_ok("integrity.v1.Dispute", 201),
)
async def create_dispute(request: Request, uscc: str, body: NewDispute) -> JSONResponse:
    user = await end_user(request, session_allowed=False)
    client: AsyncIntegrityClient = request.app.state.upstream.for_user(user)
    dispute = await client.create_dispute(uscc, body.item, body.statement, body.evidence)
    return _answer(dispute, 201)


REQUEST_KINDS = {
    "correction": data_rights_pb2.DATA_REQUEST_KIND_CORRECTION,
    "deletion": data_rights_pb2.DATA_REQUEST_KIND_DELETION,
    "withdrawal": data_rights_pb2.DATA_REQUEST_KIND_WITHDRAWAL,
}


class NewDataRequest(BaseModel):
    """What a merchant asks of its data."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["correction", "deletion", "withdrawal"] = Field(
        description="correction (say what is wrong and what is right), deletion of the legal "
        "representative's personal data (where the law allows), or withdrawal of the legal "
        "representative's authorisation: at once and for good, the person's data is destroyed"
    )
    statement: str = Field(
        default="", max_length=2000, description="What is asked; required but for a withdrawal"
    )


@router.get(
    "/enterprises/{uscc}/dataRequests",
    operation_id="listDataRequests",
    summary="The enterprise's data requests and their answers, newest first (its own merchant)",
    responses=_ok("integrity.v1.ListDataRequestsResponse"),
)
async def list_data_requests(request: Request, uscc: str) -> JSONResponse:
    client = await _client(request)
    found = await client.list_data_requests(uscc)
    return _answer(data_rights_pb2.ListDataRequestsResponse(data_requests=found))


@router.post(
    "/enterprises/{uscc}/dataRequests",
    operation_id="createDataRequest",
    summary="The enterprise's own merchant asks to correct or delete its data, or withdraws "
    "the legal representative's authorisation (answered at once, completed). Others are "
    "answered within 72 hours.",
    status_code=201,
    responses=_ok("integrity.v1.DataRequest", 201),
)
async def create_data_request(request: Request, uscc: str, body: NewDataRequest) -> JSONResponse:
    user = await end_user(request, session_allowed=False)
    client: AsyncIntegrityClient = request.app.state.upstream.for_user(user)
    made = await client.create_data_request(uscc, REQUEST_KINDS[body.kind], body.statement)
    return _answer(made, 201)


@router.get(
    "/ledger/checkpoint",
    operation_id="getLedgerCheckpoint",
    summary="A signed checkpoint of the disclosure log: the latest, or of a tree size",
    responses=_ok("integrity.v1.LedgerCheckpoint"),
)
async def get_ledger_checkpoint(
    request: Request,
    tree_size: Annotated[int, Query(alias="treeSize", ge=0, le=INT64_MAX)] = 0,
) -> JSONResponse:
    client = await _client(request)
    return _answer(await client.get_ledger_checkpoint(tree_size))


@router.get(
    "/ledger/consistency",
    operation_id="getLedgerConsistencyProof",
    summary="A proof that a checkpoint extends the log at an earlier size",
    responses=_ok("integrity.v1.GetLedgerConsistencyProofResponse"),
)
async def get_ledger_consistency_proof(
    request: Request,
    first_tree_size: Annotated[int, Query(alias="firstTreeSize", ge=0, le=INT64_MAX)],
    second_tree_size: Annotated[int, Query(alias="secondTreeSize", ge=0, le=INT64_MAX)] = 0,
) -> JSONResponse:
    client = await _client(request)
    return _answer(await client.get_ledger_consistency_proof(first_tree_size, second_tree_size))


def problem_schema() -> Mapping[str, Any]:
    return {
        "type": "object",
        "required": ["type", "title", "status", "reason"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "reason": {"type": "string"},
            "request_id": {"type": "string"},
            "retry_after_seconds": {"type": "number"},
            "field_violations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "description", "reason"],
                    "properties": {
                        "field": {"type": "string"},
                        "description": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    }
