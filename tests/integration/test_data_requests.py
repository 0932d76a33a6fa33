"""Data-subject requests on both backends: made by the enterprise's merchant only (through
the gateway's credential over gRPC), answered by ops within 72 hours (gRPC and
integrity-ops), a completed deletion destroying the person's data as a withdrawal does,
and an interrupted withdrawal carried through."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from integrity.v1 import data_rights_pb2

from clients import AsyncIntegrityClient, IntegrityCallError
from service.adapters.subject_keys import PersonalDataDestroyed
from service.bootstrap import Application
from service.domain.callers import CallerKind, Viewer, ViewerKind
from service.domain.data_requests import (
    RESPONSE_HOURS,
    Answer,
    DataRequest,
    RequestKind,
    RequestState,
    open_request,
)
from service.domain.errors import FailedPrecondition, InvalidArgument
from service.domain.sealed import PiiKind
from tests.builders import new_uscc
from tests.clock import TestClock
from tests.conftest import OpsCommand, serving

USCC = new_uscc()
K = data_rights_pb2


def _name(request: DataRequest) -> str:
    return f"enterprises/{request.uscc}/dataRequests/{request.id}"


async def test_merchants_make_requests_and_ops_answer_them_in_time(
    app: Application, clock: TestClock, ops_command: OpsCommand
) -> None:
    clock.freeze()
    _caller, gateway = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    async with serving(app) as server:
        async with AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of=f"merchant:{USCC}:owner"
        ) as merchant:
            correction = await merchant.create_data_request(
                USCC, K.DATA_REQUEST_KIND_CORRECTION, "法定代表人姓名有误，应为王晓明"
            )
            assert correction.state == K.DATA_REQUEST_STATE_OPEN
            deadline = correction.deadline.ToDatetime(dt.UTC)
            assert deadline == clock.now() + dt.timedelta(hours=RESPONSE_HOURS)
            with pytest.raises(IntegrityCallError) as bad:
                await merchant.create_data_request(USCC, K.DATA_REQUEST_KIND_UNSPECIFIED, " ")
            assert bad.value.code.name == "INVALID_ARGUMENT"
            assert {v.field for v in bad.value.field_violations} == {"kind", "statement"}
        for someone in ("viewer:someone", "merchant:91110000802100433B:owner"):
            async with AsyncIntegrityClient(
                server.target, token=gateway, on_behalf_of=someone
            ) as other:
                with pytest.raises(IntegrityCallError) as denied:
                    await other.create_data_request(USCC, K.DATA_REQUEST_KIND_DELETION, "删除")
                assert denied.value.reason == "NOT_THE_MERCHANT"
                with pytest.raises(IntegrityCallError):
                    await other.list_data_requests(USCC)
        async with AsyncIntegrityClient(server.target, token=server.token) as platform:
            with pytest.raises(IntegrityCallError) as scope:
                await platform.list_pending_data_requests()
            assert scope.value.code.name == "PERMISSION_DENIED"

        # Near the deadline: ops see it among those due within the next few hours.
        soon = await ops_command.run("data-requests", "pending", "--due-within-hours", "6")
        assert soon.exit_code == 0 and correction.name not in soon.output
        clock.advance(dt.timedelta(hours=RESPONSE_HOURS - 5))
        soon = await ops_command.run("data-requests", "pending", "--due-within-hours", "6")
        assert correction.name in soon.output, soon.output
        taken = await ops_command.run(
            "data-requests", "take", correction.name, "--assignee", "ops-li"
        )
        assert taken.exit_code == 0 and "in_progress (ops-li)" in taken.output
        answered = await ops_command.run(
            "data-requests", "resolve", correction.name, "--completed",
            "--answer", "已按登记机关记录更正",
        )  # fmt: skip
        assert answered.exit_code == 0, answered.output
        async with AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of=f"merchant:{USCC}:owner"
        ) as merchant:
            (listed,) = await merchant.list_data_requests(USCC)
        assert listed.state == K.DATA_REQUEST_STATE_COMPLETED
        assert listed.answer == "已按登记机关记录更正"
        listing = await ops_command.run("data-requests", "list", USCC)
        assert "completed: 已按登记机关记录更正" in listing.output


async def test_a_completed_deletion_destroys_the_persons_data_and_a_refusal_keeps_it(
    app: Application,
) -> None:
    merchant = Viewer(ViewerKind.MERCHANT, "demo:owner", merchant_uscc=USCC)
    sealed = (await app.subject_keys.sealer(USCC)).seal(PiiKind.ID_NUMBER, "11010519491231002X")
    parent = f"enterprises/{USCC}"
    refused = await app.data_rights.open(merchant, parent, RequestKind.DELETION, "删除身份证号")
    await app.data_rights.take(_name(refused), "ops-li")
    await app.data_rights.resolve(
        _name(refused), Answer.REFUSED, "依据法律规定须保留至账户注销后两年"
    )
    assert await app.subject_keys.open(sealed) == "11010519491231002X"

    deletion = await app.data_rights.open(merchant, parent, RequestKind.DELETION, "请删除")
    await app.data_rights.take(_name(deletion), "ops-li")
    done = await app.data_rights.resolve(_name(deletion), Answer.COMPLETED, "已删除")
    assert done.state is RequestState.COMPLETED
    with pytest.raises(PersonalDataDestroyed):
        await app.subject_keys.open(sealed)
    with pytest.raises(FailedPrecondition) as twice:
        await app.data_rights.resolve(_name(deletion), Answer.COMPLETED, "再次")
    assert twice.value.reason == "DATA_REQUEST_ANSWERED"


async def test_an_interrupted_withdrawal_is_carried_through(app: Application) -> None:
    sealed = (await app.subject_keys.sealer(USCC)).seal(PiiKind.PERSON_NAME, "王小明")
    # As a process that stopped after recording the withdrawal, before destroying the keys.
    made = open_request("0b9e2f7e-0c55-4e0b-9a36-5c1a2b3c4d5e", USCC, RequestKind.WITHDRAWAL,
                        "", "demo:owner", app.clock.now())  # fmt: skip
    store = app.data_rights._store
    await store.add(dataclasses.replace(made, state=RequestState.IN_PROGRESS), scrub=True)
    assert await app.subject_keys.open(sealed) == "王小明"
    assert await app.data_rights.finish_interrupted() == 1
    with pytest.raises(PersonalDataDestroyed):
        await app.subject_keys.open(sealed)
    (finished,) = await app.data_rights.of_enterprise(
        (await app.credentials.create_caller(CallerKind.OPS, "ops"))[0], None, f"enterprises/{USCC}"
    )
    assert finished.state is RequestState.COMPLETED and finished.answer
    assert await app.data_rights.finish_interrupted() == 0


async def test_the_legal_representatives_data_unmasked_only_with_a_proof_of_identity(
    app: Application, clock: TestClock, log_stream: io.StringIO
) -> None:
    from tests.builders import import_rows, new_id_number, registry_row, verification_for

    id_number = new_id_number()
    row = registry_row(legal_representative={"name": "王小明", "id_number": id_number})
    uscc = str(row["uscc"])
    await import_rows(app, [row])
    _caller, gateway = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    async with serving(app) as server:
        async with AsyncIntegrityClient(server.target, token=server.token) as platform:
            await platform.create_verification(verification_for(row))
        async with AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of=f"merchant:{uscc}:owner"
        ) as merchant:
            before = await app.disclosures.verify()
            held = await merchant.export_personal_data(uscc, "王小明", id_number.lower())
            values = {(v.source.split(":")[0], v.field): v.value for v in held}
            assert values == {
                ("registry", "name"): "王小明",
                ("registry", "id_number"): id_number,
                ("verification", "name"): "王小明",
                ("verification", "id_number"): id_number,
                ("verification", "granted_by"): "王小明",
            }
            assert (await app.disclosures.verify()).checked == before.checked + 1
            for wrong in range(5):
                with pytest.raises(IntegrityCallError) as refused:
                    await merchant.export_personal_data(uscc, "王小明", new_id_number())
                assert refused.value.reason == "IDENTITY_NOT_PROVEN", wrong
            with pytest.raises(IntegrityCallError) as exhausted:
                await merchant.export_personal_data(uscc, "王小明", id_number)
            assert exhausted.value.code.name == "RESOURCE_EXHAUSTED"
            assert exhausted.value.retry_after_seconds and exhausted.value.retry_after_seconds > 0
            clock.set(clock.now() + dt.timedelta(hours=25))
            assert await merchant.export_personal_data(uscc, "王小明", id_number)
        async with AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of="viewer:someone"
        ) as viewer:
            with pytest.raises(IntegrityCallError) as denied:
                await viewer.export_personal_data(uscc, "王小明", id_number)
            assert denied.value.reason == "NOT_THE_MERCHANT"
        owner = Viewer(ViewerKind.MERCHANT, "demo:owner", merchant_uscc=uscc)
        await app.data_rights.open(owner, f"enterprises/{uscc}", RequestKind.WITHDRAWAL, "")
        async with AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of=f"merchant:{uscc}:owner"
        ) as merchant:
            with pytest.raises(IntegrityCallError) as destroyed:
                await merchant.export_personal_data(uscc, "王小明", id_number)
            assert destroyed.value.reason == "PERSONAL_DATA_DESTROYED"
    logged = log_stream.getvalue()
    assert "identity_proof_failed" in logged and id_number not in logged
    assert id_number.lower() not in logged


async def test_a_request_for_a_code_that_is_not_a_uscc_writes_nothing(app: Application) -> None:
    bad = "91330106MA27XXXXXX"  # the shape of a USCC, not its check character
    merchant = Viewer(ViewerKind.MERCHANT, "demo:owner", merchant_uscc=bad)
    with pytest.raises(InvalidArgument) as refused:
        await app.data_rights.open(merchant, f"enterprises/{bad}", RequestKind.WITHDRAWAL, "")
    assert [v.field for v in refused.value.violations] == ["parent"]
    assert await app.data_rights.pending() == []
    assert await app.subject_keys.destroyed_since(bad) is None
