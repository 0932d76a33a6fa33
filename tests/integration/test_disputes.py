"""Disputes kept in the database on both backends: opened by the enterprise's merchant only,
answered by ops through review, never answered twice, and listed by deadline."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from integrity.v1 import dispute_pb2

from clients import AsyncIntegrityClient, IntegrityCallError
from service.bootstrap import Application
from service.domain.callers import Caller, CallerKind, Viewer, ViewerKind
from service.domain.disputes import RESPONSE_DAYS, Dispute, DisputeState, Resolution
from service.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
)
from tests.clock import TestClock
from tests.conftest import OpsCommand, serving

USCC = "91330106MA27XXXXXX"
MERCHANT = Viewer(ViewerKind.MERCHANT, "demo:owner", merchant_uscc=USCC)
PARENT = f"enterprises/{USCC}"


def _name(dispute: Dispute) -> str:
    return f"enterprises/{dispute.uscc}/disputes/{dispute.id}"


async def _ops(app: Application) -> Caller:
    caller, _token = await app.credentials.create_caller(CallerKind.OPS, "ops desk")
    return caller


async def test_the_merchant_opens_and_ops_answer_through_review(
    app: Application, clock: TestClock
) -> None:
    clock.freeze()
    opened = await app.disputes.open(
        MERCHANT, PARENT, "judicial:J-1", "该记录已撤销", "(2025)浙01执1号"
    )
    assert opened.deadline == clock.now() + dt.timedelta(days=RESPONSE_DAYS)
    assert await app.disputes.under_dispute(USCC) == {"judicial:J-1"}
    ops = await _ops(app)
    assert [d.id for d in await app.disputes.of_enterprise(ops, None, PARENT)] == [opened.id]
    assert [d.id for d in await app.disputes.of_enterprise(ops, MERCHANT, PARENT)] == [opened.id]

    taken = await app.disputes.take(_name(opened), "ops-zhang")
    assert taken.state is DisputeState.IN_REVIEW
    assert await app.disputes.under_dispute(USCC) == {"judicial:J-1"}
    rejected = await app.disputes.resolve(_name(opened), Resolution.REJECTED, "法院确认该记录有效")
    assert rejected.state is DisputeState.REJECTED
    stored = (await app.disputes.of_enterprise(ops, MERCHANT, PARENT))[0]
    assert stored.reason == "法院确认该记录有效" and stored.resolve_time == clock.now()
    assert await app.disputes.under_dispute(USCC) == frozenset()
    with pytest.raises(FailedPrecondition) as again:
        await app.disputes.resolve(_name(opened), Resolution.CORRECTED, "已更正")
    assert again.value.reason == "DISPUTE_NOT_IN_REVIEW" or again.value.reason == "DISPUTE_RESOLVED"


async def test_only_the_enterprises_merchant_opens_and_reads_its_disputes(app: Application) -> None:
    other = Viewer(ViewerKind.MERCHANT, "x:owner", merchant_uscc="91110000802100433B")
    viewer = Viewer(ViewerKind.LOGGED_IN, "demo:someone")
    for who in (other, viewer, None):
        with pytest.raises(PermissionDenied):
            await app.disputes.open(who, PARENT, "public.status", "不对")
    await app.disputes.open(MERCHANT, PARENT, "public.status", "不对")
    platform, _ = await app.credentials.create_caller(CallerKind.PLATFORM, "p", platform="p")
    with pytest.raises(PermissionDenied):
        await app.disputes.of_enterprise(platform, None, PARENT)
    with pytest.raises(InvalidArgument) as bad:
        await app.disputes.open(MERCHANT, PARENT, "everything", "")
    assert {v.field for v in bad.value.violations} == {"item", "statement"}


async def test_two_ops_answering_at_once_do_not_both_win(app: Application) -> None:
    opened = await app.disputes.open(MERCHANT, PARENT, "integrity_level", "等级偏低")
    await app.disputes.take(_name(opened), "ops-zhang")
    results = await asyncio.gather(
        app.disputes.resolve(_name(opened), Resolution.REJECTED, "依据充分"),
        app.disputes.resolve(_name(opened), Resolution.CORRECTED, "已更正"),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, FailedPrecondition)]
    assert len(refused) == 1 and refused[0].reason in ("DISPUTE_CHANGED", "DISPUTE_RESOLVED")


async def test_an_item_is_under_one_dispute_at_a_time(app: Application) -> None:
    results = await asyncio.gather(
        *(app.disputes.open(MERCHANT, PARENT, "public.status", f"第{n}次") for n in range(4)),
        return_exceptions=True,
    )
    opened = [r for r in results if isinstance(r, Dispute)]
    refused = [r for r in results if isinstance(r, AlreadyExists)]
    assert len(opened) == 1 and len(refused) == 3, results
    assert refused[0].reason == "DISPUTE_ALREADY_OPEN"
    await app.disputes.open(MERCHANT, PARENT, "public.identity", "另一项")  # another item: fine
    await app.disputes.take(_name(opened[0]), "ops-zhang")
    with pytest.raises(AlreadyExists):
        await app.disputes.open(MERCHANT, PARENT, "public.status", "仍在审核中")
    await app.disputes.resolve(_name(opened[0]), Resolution.REJECTED, "登记机关记录为吊销")
    again = await app.disputes.open(MERCHANT, PARENT, "public.status", "补充了新证据")
    assert again.state is DisputeState.OPEN


async def test_ops_see_what_is_due_nearest_first(app: Application, clock: TestClock) -> None:
    clock.freeze()
    first = await app.disputes.open(MERCHANT, PARENT, "public.status", "状态有误")
    clock.advance(dt.timedelta(days=5))
    second = await app.disputes.open(MERCHANT, PARENT, "public.identity", "名称有误")
    assert [d.id for d in await app.disputes.pending()] == [first.id, second.id]
    clock.advance(dt.timedelta(days=RESPONSE_DAYS - 8))  # first due in 3 days, second in 8
    assert [d.id for d in await app.disputes.pending(dt.timedelta(days=7))] == [first.id]


async def test_a_dispute_over_grpc_from_the_gateway_and_answered_with_integrity_ops(
    app: Application, clock: TestClock, ops_command: OpsCommand
) -> None:
    clock.freeze()
    _caller, gateway = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    async with serving(app) as server:
        async with AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of=f"merchant:{USCC}:owner"
        ) as merchant:
            opened = await merchant.create_dispute(
                USCC, "public.status", "我司仍在营业", "营业执照副本"
            )
            assert opened.state == dispute_pb2.DISPUTE_STATE_OPEN
            with pytest.raises(IntegrityCallError) as bad:
                await merchant.create_dispute(USCC, "nonsense", "")
            assert bad.value.code.name == "INVALID_ARGUMENT"
            assert {v.field for v in bad.value.field_violations} == {"item", "statement"}
        async with AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of="viewer:someone"
        ) as viewer:
            with pytest.raises(IntegrityCallError) as denied:
                await viewer.create_dispute(USCC, "public.status", "不对")
            assert denied.value.reason == "NOT_THE_MERCHANT"
        async with AsyncIntegrityClient(server.target, token=server.token) as platform:
            with pytest.raises(IntegrityCallError) as scope:
                await platform.list_pending_disputes()
            assert scope.value.code.name == "PERMISSION_DENIED"

        pending = await ops_command.run("disputes", "pending", "--due-within-days", "30")
        assert pending.exit_code == 0 and opened.name in pending.output, pending.output
        taken = await ops_command.run("disputes", "take", opened.name, "--assignee", "ops-zhang")
        assert taken.exit_code == 0 and "in_review (ops-zhang)" in taken.output
        resolved = await ops_command.run(
            "disputes", "resolve", opened.name, "--rejected", "--reason", "登记机关记录为吊销"
        )
        assert resolved.exit_code == 0, resolved.output
        async with AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of=f"merchant:{USCC}:owner"
        ) as merchant:
            (answered,) = await merchant.list_disputes(USCC)
        assert answered.state == dispute_pb2.DISPUTE_STATE_REJECTED
        assert answered.reason == "登记机关记录为吊销"
        listed = await ops_command.run("disputes", "list", USCC)
        assert "rejected: 登记机关记录为吊销" in listed.output


async def test_every_viewer_sees_the_items_under_dispute_until_they_are_answered(
    app: Application,
) -> None:
    from tests.builders import import_rows, registry_row

    row = registry_row()
    await import_rows(app, [row])
    uscc = str(row["uscc"])
    merchant = Viewer(ViewerKind.MERCHANT, "demo:owner", merchant_uscc=uscc)
    opened = await app.disputes.open(merchant, f"enterprises/{uscc}", "public.status", "仍在营业")
    _caller, gateway = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    async with serving(app) as server:
        async with AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of="anonymous:198.51.100.7"
        ) as anonymous:
            assert list((await anonymous.get_archive(uscc)).under_dispute) == ["public.status"]
        await app.disputes.take(_name(opened), "ops-zhang")
        await app.disputes.resolve(_name(opened), Resolution.REJECTED, "登记机关记录为吊销")
        async with AsyncIntegrityClient(server.target, token=server.token) as platform:
            archive = await platform.get_archive(
                uscc, purpose="access_assessment", scenario="store_opening"
            )
            assert list(archive.under_dispute) == []
