"""Platforms feed the business integrity archive: per-record checks, idempotency, own data only."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.type import date_pb2
from integrity.v1 import archive_pb2, platform_data_pb2

from clients import AsyncIntegrityClient, IntegrityCallError
from service.bootstrap import Application
from service.domain.callers import CallerKind
from tests.builders import new_uscc
from tests.conftest import RunningServer

P = platform_data_pb2
A = archive_pb2


def day(value: str) -> date_pb2.Date:
    d = dt.date.fromisoformat(value)
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def store(
    event: str, uscc: str, store_id: str = "S1", address: str = "杭州市西湖区文三路1号"
) -> P.PlatformRecord:
    return P.PlatformRecord(
        event_id=event,
        uscc=uscc,
        store=A.Store(
            store_id=store_id,
            address=address,
            main_categories=["女装", "童装"],
            status=A.STORE_STATUS_OPEN,
            opening_date=day("2021-04-01"),
        ),
    )


def good_batch(uscc: str) -> list[P.PlatformRecord]:
    return [
        store("e-1", uscc),
        P.PlatformRecord(event_id="e-2", uscc=uscc, membership=P.Membership(member_since=day("2018-05-20"))),
        P.PlatformRecord(
            event_id="e-3",
            uscc=uscc,
            trade=A.TradeSummary(as_of_date=day("2026-10-31"), cumulative_transactions=12000, buyers=3400, repeat_purchase_rate=0.42),
        ),
        P.PlatformRecord(
            event_id="e-4",
            uscc=uscc,
            conduct=A.ConductRecord(
                record_id="C9", kind=A.CONDUCT_KIND_PUNISHMENT, severity=A.SEVERITY_SERIOUS,
                date=day("2026-03-03"), rule="虚假发货", description="延迟发货",
            ),
        ),
        P.PlatformRecord(
            event_id="e-5",
            uscc=uscc,
            certification=A.Certification(record_id="V1", certifier="第三方验厂机构", certified_date=day("2025-09-01"), valid_until=day("2026-09-01")),
        ),
    ]  # fmt: skip


async def ops_view(app: Application, server: RunningServer, uscc: str) -> archive_pb2.Archive:
    _ops, token = await app.credentials.create_caller(CallerKind.OPS, "ops")
    async with AsyncIntegrityClient(server.target, token=token) as ops:
        return await ops.get_archive(uscc)


async def test_records_reach_the_archive(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    uscc = new_uscc()
    response = await client.ingest_platform_records("test-platform", good_batch(uscc))
    assert (response.accepted, response.duplicates, response.rejected) == (5, 0, 0)
    archive = await ops_view(app, server, uscc)
    [platform] = archive.business_integrity.platforms
    assert platform.platform == "test-platform"
    assert platform.member_since == day("2018-05-20")
    assert [s.store_id for s in platform.stores] == ["S1"]
    assert list(platform.stores[0].main_categories) == ["女装", "童装"]
    assert platform.trade.buyers == 3400 and platform.trade.repeat_purchase_rate == pytest.approx(
        0.42
    )
    assert platform.conduct_records[0].severity == A.SEVERITY_SERIOUS
    assert platform.certifications[0].certifier == "第三方验厂机构"


async def test_retries_are_idempotent_by_event_id(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    uscc = new_uscc()
    await client.ingest_platform_records("test-platform", good_batch(uscc))
    again = await client.ingest_platform_records("test-platform", good_batch(uscc))
    assert (again.accepted, again.duplicates, again.rejected) == (0, 5, 0)
    clash = await client.ingest_platform_records(
        "test-platform", [store("e-1", uscc, address="别处1号")]
    )
    assert clash.results[0].outcome == P.RECORD_OUTCOME_REJECTED
    assert clash.results[0].violations[0].reason == "EVENT_ID_REUSED"
    archive = await ops_view(app, server, uscc)
    assert archive.business_integrity.platforms[0].stores[0].address == "杭州市西湖区文三路1号"


async def test_bad_records_are_rejected_by_index_and_good_ones_kept(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    uscc = new_uscc()
    future = (app.clock.now().date() + dt.timedelta(days=30)).isoformat()
    batch = [
        store("ok-1", uscc),
        store("bad-1", "91330106MA0000000X"),  # check character wrong
        P.PlatformRecord(event_id="bad-2", uscc=uscc),  # no record kind
        P.PlatformRecord(
            event_id="bad-3",
            uscc=uscc,
            trade=A.TradeSummary(
                as_of_date=day(future),
                cumulative_transactions=5,
                buyers=9,
                repeat_purchase_rate=1.5,
            ),
        ),
        store("bad 4!", uscc, address="'; DROP TABLE archive_facts;--"),
        store("ok-2", uscc, store_id="S2"),
    ]
    response = await client.ingest_platform_records("test-platform", batch)
    assert (response.accepted, response.rejected) == (2, 4)
    by_index = {r.index: r for r in response.results}
    assert by_index[0].outcome == by_index[5].outcome == P.RECORD_OUTCOME_ACCEPTED
    assert {v.field for v in by_index[1].violations} == {"uscc"}
    assert [v.reason for v in by_index[2].violations] == ["RECORD_KIND_REQUIRED"]
    assert {v.reason for v in by_index[3].violations} == {
        "DATE_FUTURE",
        "BUYERS_EXCEED_TRANSACTIONS",
        "RATE_INVALID",
    }
    assert {v.field for v in by_index[4].violations} == {"event_id", "store.address"}
    archive = await ops_view(app, server, uscc)
    assert [s.store_id for s in archive.business_integrity.platforms[0].stores] == ["S1", "S2"]


async def test_a_platform_writes_only_its_own_data(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    uscc = new_uscc()
    with pytest.raises(IntegrityCallError) as caught:
        await client.ingest_platform_records("another-platform", good_batch(uscc))
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.reason == "NOT_YOUR_PLATFORM"
    with pytest.raises(IntegrityCallError) as caught:
        await ops_view(app, server, uscc)
    assert caught.value.code == grpc.StatusCode.NOT_FOUND  # nothing was written


async def test_batch_size_is_bounded(client: AsyncIntegrityClient) -> None:
    with pytest.raises(IntegrityCallError) as caught:
        await client.ingest_platform_records("test-platform", [])
    assert caught.value.field_violations[0].reason == "BATCH_SIZE_INVALID"


async def test_a_replaced_record_keeps_its_history(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    uscc = new_uscc()
    await client.ingest_platform_records("test-platform", [store("v1", uscc)])
    between = app.clock.now()
    closed = store("v2", uscc)
    closed.store.status = A.STORE_STATUS_CLOSED
    await client.ingest_platform_records("test-platform", [closed])
    _ops, token = await app.credentials.create_caller(CallerKind.OPS, "ops")
    async with AsyncIntegrityClient(server.target, token=token) as ops:
        now = await ops.get_archive(uscc)
        then = await ops.get_archive(uscc, read_time=between)
    assert now.business_integrity.platforms[0].stores[0].status == A.STORE_STATUS_CLOSED
    assert then.business_integrity.platforms[0].stores[0].status == A.STORE_STATUS_OPEN
