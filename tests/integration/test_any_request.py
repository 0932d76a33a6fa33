"""Whatever arrives, every RPC answers OK or a specific status with an ErrorInfo, never
UNKNOWN or INTERNAL, and a refused call writes nothing (real gRPC, both backends).

Requests come from two generators: raw bytes (most are no message at all, some parse
into odd ones), and messages built from each request's descriptor with hostile values:
text with controls, invalid lengths and odd scripts, integers at their type's limits,
NaN and infinities, unknown enum numbers, timestamps beyond year 9999 or with bad nanos,
impossible dates, and, often enough to reach the use cases, plausible names and codes.
Calls go out one at a time from a thread on a blocking channel, so the database can be
counted between them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from service.adapters.storage.tables import metadata
from service.api.callers import METHOD_SCOPES
from service.bootstrap import Application, bootstrap, build_server
from service.domain.callers import CallerKind
from service.domain.checkpoint import NoteSigner
from service.domain.rate_limits import Limit, LimitClass
from service.settings import Settings
from tests.builders import import_rows, registry_row
from tests.clock import TestClock
from tests.conftest import _clean
from tests.rpc_details import detail_of

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_HOSTILE_TEXT = [
    "",
    " ",
    "\n",
    "x\x00y",
    "\u202e伪造",
    "\ufeff",
    "\U0001f600",
    "𠮷野家",
    "a" * 129,
    "字" * 600,
    "'; DROP TABLE verifications;--",
    "enterprises/\n",
    "../../etc/passwd",
]
# Just outside and at the edges of years 0001-9999, and the int64 extremes.
_TIMESTAMP_EDGES = [-(2**63), 2**63 - 1, -62_135_596_801, -62_135_596_800, 253_402_300_799,
                    253_402_300_800]  # fmt: skip
# Statuses that say the service did not know what to make of a request, or hung on it.
_NEVER = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED)
_ROOMY = Limit(per_second=1e6, burst=10**6)


def _text(plausible: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(plausible),
        st.sampled_from(_HOSTILE_TEXT),
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=100, max_size=700),
    )


def _scalar(field: FieldDescriptor, plausible: list[str]) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return _text(plausible)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=600)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 40)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=64)
    low, high = _INT_RANGES[kind]
    return st.one_of(st.integers(low, high), st.integers(-2, 1001), st.sampled_from([low, high]))


def _message(
    descriptor: Descriptor, plausible: list[str], depth: int = 0
) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of field values for the descriptor: a random subset of its fields."""
    if descriptor.full_name == "google.protobuf.Timestamp":
        return st.fixed_dictionaries(
            {},
            optional={
                "seconds": st.one_of(
                    st.sampled_from(_TIMESTAMP_EDGES),
                    st.integers(-(2**63), 2**63 - 1),
                    st.integers(1_600_000_000, 1_900_000_000),
                ),
                "nanos": st.one_of(
                    st.sampled_from([-1, 10**9, 2**31 - 1]), st.integers(-(2**31), 2**31 - 1)
                ),
            },
        )
    if descriptor.full_name == "google.type.Date":
        return st.fixed_dictionaries(
            {},
            optional={
                "year": st.one_of(
                    st.sampled_from([-1, 0, 10000, 2**31 - 1]),
                    st.integers(-(2**31), 2**31 - 1),
                    st.integers(1990, 2030),
                ),
                "month": st.integers(-1, 14),
                "day": st.integers(-1, 33),
            },
        )
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth >= 4:
                continue
            value = _message(field.message_type, plausible, depth + 1)
        else:
            value = _scalar(field, plausible)
        optional[field.name] = st.lists(value, max_size=3) if field.is_repeated else value
    return st.fixed_dictionaries({}, optional=optional)


def _fill(message: Message, values: dict[str, Any]) -> None:
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.is_repeated:
                for item in value:
                    _fill(getattr(message, name).add(), item)
            else:
                _fill(getattr(message, name), value)
                getattr(message, name).SetInParent()
        elif field.is_repeated:
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)


def _leaf_paths(descriptor: Descriptor, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every field reachable in a message, as a path of names (a repeated message: its first)."""
    paths: list[tuple[str, ...]] = []
    for field in descriptor.fields:
        path = (*prefix, field.name)
        paths.append(path)
        if (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and len(path) < 5
            and field.message_type.full_name
            not in ("google.protobuf.Timestamp", "google.type.Date")
        ):
            paths.extend(_leaf_paths(field.message_type, path))
    return paths


def _field_at(message: Message, path: tuple[str, ...]) -> tuple[Message, FieldDescriptor]:
    """The message holding the last field of the path, made present on the way."""
    for name in path[:-1]:
        field = message.DESCRIPTOR.fields_by_name[name]
        child = getattr(message, name)
        message = (child[0] if len(child) else child.add()) if field.is_repeated else child
    return message, message.DESCRIPTOR.fields_by_name[path[-1]]


def _mutations(baseline: Message, plausible: list[str]) -> st.SearchStrategy[bytes]:
    """The valid baseline request with one to three of its fields given hostile values."""
    paths = _leaf_paths(baseline.DESCRIPTOR)

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        message = type(baseline)()
        message.CopyFrom(baseline)
        for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
            holder, field = _field_at(message, path)
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                values = draw(_message(field.message_type, plausible, depth=3))
                target = getattr(holder, field.name)
                if field.is_repeated:
                    target = target.add()
                target.Clear()
                _fill(target, values)
                target.SetInParent()
            elif field.is_repeated:
                getattr(holder, field.name).append(draw(_scalar(field, plausible)))
            else:
                setattr(holder, field.name, draw(_scalar(field, plausible)))
        return message.SerializeToString()

    return mutated()


def _hostile_values(field: FieldDescriptor) -> list[Any]:
    """Values at and beyond the edges for one field: dicts for message fields."""
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        name = field.message_type.full_name
        if name == "google.protobuf.Timestamp":
            return [{"seconds": edge} for edge in _TIMESTAMP_EDGES] + [
                {"seconds": 1_700_000_000, "nanos": nanos} for nanos in (-1, 10**9)
            ]
        if name == "google.type.Date":
            return [
                {"year": 10000, "month": 1, "day": 1},
                {"year": -1, "month": 1, "day": 1},
                {"year": 2024, "month": 13, "day": 1},
                {"year": 2023, "month": 2, "day": 29},
                {"year": 2024, "month": 1, "day": 0},
                {"year": 2**31 - 1, "month": 12, "day": 31},
            ]
        return [{}]
    if kind == FieldDescriptor.TYPE_STRING:
        return _HOSTILE_TEXT
    if kind == FieldDescriptor.TYPE_BYTES:
        return [b"", b"\xff" * 700]
    if kind == FieldDescriptor.TYPE_BOOL:
        return [True]
    if kind == FieldDescriptor.TYPE_ENUM:
        return [-1, 999]
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return [float("nan"), float("inf"), -1.0, 1e308]
    low, high = _INT_RANGES[kind]
    return sorted(v for v in {low, -1, high, 2**53} if low <= v <= high)


def _edge_payloads(baseline: Message) -> list[bytes]:
    """The baseline with each field in turn set to each of its hostile values."""
    payloads = []
    for path in _leaf_paths(baseline.DESCRIPTOR):
        _holder, field = _field_at(type(baseline)(), path)
        for value in _hostile_values(field):
            message = type(baseline)()
            message.CopyFrom(baseline)
            holder, field = _field_at(message, path)
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                target = getattr(holder, field.name)
                target = target.add() if field.is_repeated else target
                target.Clear()
                _fill(target, value)
                target.SetInParent()
            elif field.is_repeated:
                getattr(holder, field.name).append(value)
            else:
                setattr(holder, field.name, value)
            payloads.append(message.SerializeToString())
    return payloads


def _payloads(
    request_type: type[Message], baseline: Message, plausible: list[str]
) -> st.SearchStrategy[bytes]:
    def serialized(values: dict[str, Any]) -> bytes:
        message = request_type()
        _fill(message, values)
        return message.SerializeToString()

    built = st.one_of(
        _mutations(baseline, plausible),
        _message(request_type.DESCRIPTOR, plausible).map(serialized),
    )
    # A built message with one byte changed: often invalid UTF-8 in a text field.
    corrupted = st.tuples(built, st.integers(0, 10**6), st.integers(0x80, 0xFF)).map(
        lambda t: (
            t[0]
            if not t[0]
            else t[0][: t[1] % len(t[0])] + bytes([t[2]]) + t[0][t[1] % len(t[0]) + 1 :]
        )
    )
    return st.one_of(built, built, corrupted, st.binary(max_size=300))


def _error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    return detail_of(error, error_details_pb2.ErrorInfo)


def _request_types() -> dict[str, type[Message]]:
    from google.protobuf import descriptor_pool, message_factory

    from service.bootstrap import SERVICE_NAMES

    pool = descriptor_pool.Default()
    types: dict[str, type[Message]] = {}
    for service_name in SERVICE_NAMES:
        service = pool.FindServiceByName(service_name)
        for method in service.methods:
            message_class = message_factory.GetMessageClass(method.input_type)
            types[f"/{service.full_name}/{method.name}"] = message_class
    return types


REQUEST_TYPES = _request_types()


def _baselines(row: dict[str, Any]) -> dict[str, Message]:
    """A valid request for every method, for the fuzzer to spoil a field or three of."""
    from google.type import date_pb2
    from integrity.v1 import (
        archive_pb2,
        disclosure_pb2,
        dispute_pb2,
        eligibility_pb2,
        platform_data_pb2,
    )
    from integrity.v1 import data_rights_pb2 as dr
    from integrity.v1 import verification_pb2 as v

    from tests.builders import verification_for

    uscc = str(row["uscc"])
    service = "/integrity.v1."
    return {
        f"{service}VerificationService/CreateVerification": v.CreateVerificationRequest(
            parent=f"enterprises/{uscc}",
            verification=verification_for(row),
            request_id=str(uuid.uuid4()),
        ),
        f"{service}VerificationService/GetVerification": v.GetVerificationRequest(
            name=f"enterprises/{uscc}/verifications/{uuid.uuid4()}"
        ),
        f"{service}VerificationService/ListVerifications": v.ListVerificationsRequest(
            parent=f"enterprises/{uscc}", page_size=10
        ),
        f"{service}ArchiveService/GetArchive": archive_pb2.GetArchiveRequest(
            name=f"enterprises/{uscc}/archive",
            purpose="access_assessment",
            scenario="store_opening",
        ),
        f"{service}ArchiveService/LookupArchive": archive_pb2.LookupArchiveRequest(
            registered_name=str(row["name"]), purpose="access_assessment", scenario="store_opening"
        ),
        f"{service}ArchiveService/ListIntegrityLevels": archive_pb2.ListIntegrityLevelsRequest(
            parent=f"enterprises/{uscc}", page_size=10
        ),
        f"{service}DisclosureService/ListDisclosures": disclosure_pb2.ListDisclosuresRequest(
            parent=f"enterprises/{uscc}", page_size=10
        ),
        f"{service}DisclosureService/GetLedgerCheckpoint": disclosure_pb2.GetLedgerCheckpointRequest(
            tree_size=1
        ),
        f"{service}DisclosureService/GetLedgerConsistencyProof": (
            disclosure_pb2.GetLedgerConsistencyProofRequest(first_tree_size=1, second_tree_size=2)
        ),
        f"{service}DisputeService/CreateDispute": dispute_pb2.CreateDisputeRequest(
            parent=f"enterprises/{uscc}",
            dispute=dispute_pb2.Dispute(item="judicial:J-1", statement="该记录已撤销"),
        ),
        f"{service}DisputeService/ListDisputes": dispute_pb2.ListDisputesRequest(
            parent=f"enterprises/{uscc}"
        ),
        f"{service}DisputeService/ListPendingDisputes": dispute_pb2.ListPendingDisputesRequest(
            due_within_days=7
        ),
        f"{service}DisputeService/TakeDispute": dispute_pb2.TakeDisputeRequest(
            name=f"enterprises/{uscc}/disputes/{uuid.uuid4()}", assignee="ops-1"
        ),
        f"{service}DisputeService/ResolveDispute": dispute_pb2.ResolveDisputeRequest(
            name=f"enterprises/{uscc}/disputes/{uuid.uuid4()}",
            resolution=dispute_pb2.DISPUTE_RESOLUTION_REJECTED,
            reason="依据充分",
        ),
        f"{service}DataRightsService/CreateDataRequest": dr.CreateDataRequestRequest(
            parent=f"enterprises/{uscc}",
            data_request=dr.DataRequest(kind=dr.DATA_REQUEST_KIND_CORRECTION, statement="住所有误"),
        ),
        f"{service}DataRightsService/ListDataRequests": dr.ListDataRequestsRequest(
            parent=f"enterprises/{uscc}"
        ),
        f"{service}DataRightsService/ListPendingDataRequests": dr.ListPendingDataRequestsRequest(
            due_within_hours=12
        ),
        f"{service}DataRightsService/TakeDataRequest": dr.TakeDataRequestRequest(
            name=f"enterprises/{uscc}/dataRequests/{uuid.uuid4()}", assignee="ops-1"
        ),
        f"{service}DataRightsService/ResolveDataRequest": dr.ResolveDataRequestRequest(
            name=f"enterprises/{uscc}/dataRequests/{uuid.uuid4()}",
            answer=dr.DATA_REQUEST_ANSWER_REFUSED,
            text="法律要求保留",
        ),
        f"{service}DataRightsService/ExportPersonalData": dr.ExportPersonalDataRequest(
            parent=f"enterprises/{uscc}",
            identity_proof=dr.IdentityProof(name="王小明", id_number="11010519491231002X"),
        ),
        f"{service}PlatformDataService/IngestPlatformRecords": platform_data_pb2.IngestPlatformRecordsRequest(
            platform="platforms/fuzz",
            records=[
                platform_data_pb2.PlatformRecord(
                    event_id=f"e-{uuid.uuid4()}",
                    uscc=uscc,
                    store=archive_pb2.Store(
                        store_id="S1",
                        address="杭州市西湖区文三路1号",
                        main_categories=["女装"],
                        status=archive_pb2.STORE_STATUS_OPEN,
                        opening_date=date_pb2.Date(year=2021, month=4, day=1),
                    ),
                )
            ],
        ),
        f"{service}EligibilityService/CheckEligibility": eligibility_pb2.CheckEligibilityRequest(
            uscc=uscc, policy="store_opening"
        ),
    }


def test_every_method_is_fuzzed() -> None:
    assert set(REQUEST_TYPES) == set(METHOD_SCOPES)


@pytest.fixture
async def roomy_app(settings: Settings, clock: TestClock) -> Any:
    # Rate limits would answer most calls RESOURCE_EXHAUSTED and hide what lies behind.
    # The log signs checkpoints, so that its proofs are asked for too.
    roomy = dataclasses.replace(
        settings,
        rate_limits=dict.fromkeys(LimitClass, _ROOMY),
        ledger_signer=NoteSigner.generate("integrity.test/disclosures"),
    )
    application = await bootstrap(roomy, clock=clock)
    await _clean(application)
    yield application
    await application.close()


async def _row_counts(app: Application) -> dict[str, int]:
    async with app.engine.connect() as connection:
        return {
            table.name: int(
                (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            )
            for table in metadata.sorted_tables
        }


@pytest.mark.parametrize("method", sorted(REQUEST_TYPES), ids=lambda m: m.rsplit("/", 1)[-1])
async def test_any_request_gets_a_specific_answer(roomy_app: Application, method: str) -> None:
    app = roomy_app
    row = registry_row()
    await import_rows(app, [row])
    uscc = str(row["uscc"])
    await app.policies.load(
        {
            "platform": "fuzz",
            "policy": "store_opening",
            "version": 1,
            "description": "fuzz",
            "announce_time": "2026-01-01T00:00:00+00:00",
            "effective_time": "2026-01-08T00:00:00+00:00",
            "conditions": [{"kind": "business_status"}],
        }
    )
    _p, platform = await app.credentials.create_caller(CallerKind.PLATFORM, "fuzz", platform="fuzz")
    _g, gateway = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    _o, ops = await app.credentials.create_caller(CallerKind.OPS, "ops")
    identities = [
        (("authorization", f"Bearer {platform}"),),
        (("authorization", f"Bearer {ops}"),),
        (("authorization", f"Bearer {gateway}"), ("x-on-behalf-of", f"merchant:{uscc}:u1")),
        (("authorization", f"Bearer {gateway}"), ("x-on-behalf-of", "anonymous:10.0.0.1")),
    ]
    plausible = [
        uscc,
        f"enterprises/{uscc}",
        f"enterprises/{uscc}/archive",
        f"enterprises/{uscc}/verifications/{uuid.uuid4()}",
        str(row["name"]),
        str(uuid.uuid4()),
        "platforms/fuzz",
        "fuzz",
        "store_opening",
        "eligibility_evaluation",
        "王小明",
        "110105198005170012",
    ]
    baselines = _baselines(row)
    grpc_server, _health = build_server(app)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    loop = asyncio.get_running_loop()

    def counts() -> dict[str, int]:
        return asyncio.run_coroutine_threadsafe(_row_counts(app), loop).result(timeout=30)

    def fuzz() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call: Callable[..., bytes] = channel.unary_unary(method)

            def check(payload: bytes, who: tuple[tuple[str, str], ...]) -> None:
                before = counts()
                try:
                    call(payload, metadata=who, timeout=20)
                except grpc.RpcError as error:
                    code = error.code()  # type: ignore[attr-defined]
                    details = error.details()  # type: ignore[attr-defined]
                    assert code not in _NEVER, (code, details)
                    info = _error_info(error)
                    assert info is not None and info.reason, (code, details)
                    after = counts()
                    if info.reason == "IDENTITY_NOT_PROVEN":
                        # The one refusal that must write: a wrong identity proof is counted.
                        before["identity_proof_failures"] += 1
                    assert after == before, (code, info.reason)

            # Every field at its edges, for a platform and for ops; then a random search.
            for payload in _edge_payloads(baselines[method]):
                for who in identities[:2]:
                    check(payload, who)

            @settings(
                max_examples=150,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(
                payload=_payloads(REQUEST_TYPES[method], baselines[method], plausible),
                who=st.sampled_from(identities),
            )
            def any_request(payload: bytes, who: tuple[tuple[str, str], ...]) -> None:
                check(payload, who)

            any_request()

    try:
        await asyncio.to_thread(fuzz)
    finally:
        await grpc_server.stop(None)


async def test_an_unparseable_request_is_refused_like_any_other(
    server: Any, log_stream: Any
) -> None:
    from integrity.v1 import eligibility_pb2

    valid = eligibility_pb2.CheckEligibilityRequest(uscc="X", policy="store_opening")
    spoiled = valid.SerializeToString().replace(b"store_opening", b"store\xff\xfeopening")
    async with grpc.aio.insecure_channel(server.target) as channel:
        call = channel.unary_unary("/integrity.v1.EligibilityService/CheckEligibility")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(spoiled, metadata=(("authorization", f"Bearer {server.token}"),))
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = _error_info(error)
    assert info is not None and info.reason == "REQUEST_MALFORMED"
    request_ids = [v for k, v in error.trailing_metadata() or () if k == "x-request-id"]
    assert request_ids and request_ids[0]
    lines = [line for line in log_stream.getvalue().splitlines() if request_ids[0] in line]
    assert any('"event": "rpc"' in line and '"code": "INVALID_ARGUMENT"' in line for line in lines)
