"""A verification's history and current state through real gRPC, on both backends."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from integrity.v1 import verification_pb2
from sqlalchemy import event

from clients import AsyncIntegrityClient, IntegrityCallError
from service.bootstrap import Application
from tests.builders import import_rows, registry_row, verification_for
from tests.clock import TestClock

V = verification_pb2
PENDING, VERIFIED = V.VERIFICATION_OUTCOME_PENDING, V.VERIFICATION_OUTCOME_VERIFIED


def outcomes(message: V.Verification) -> list[tuple[int, str, dt.datetime]]:
    return [
        (change.outcome, change.trigger, change.change_time.ToDatetime(tzinfo=dt.UTC))
        for change in message.history
    ]


async def test_a_retry_gets_the_verification_as_it_stands_now(
    app: Application, client: AsyncIntegrityClient, clock: TestClock
) -> None:
    clock.freeze()
    row = registry_row()
    request_id = str(uuid.uuid4())
    first = await client.create_verification(verification_for(row), request_id=request_id)
    made = clock.now()
    assert first.outcome == PENDING
    assert outcomes(first) == [(PENDING, "create", made)]
    assert first.update_time.ToDatetime(tzinfo=dt.UTC) == made

    await import_rows(app, [row])
    clock.advance(dt.timedelta(minutes=5))
    assert await app.rechecks.run_due(10) == 1

    retry = await client.create_verification(verification_for(row), request_id=request_id)
    assert retry.name == first.name
    assert retry.outcome == VERIFIED and list(retry.reasons) == []
    assert outcomes(retry) == [
        (PENDING, "create", made),
        (VERIFIED, "pending_recheck", clock.now()),
    ]
    assert [r.code for r in retry.history[0].reasons] == [
        V.VERIFICATION_REASON_CODE_REGISTRY_RECORD_NOT_FOUND
    ]
    assert retry.update_time.ToDatetime(tzinfo=dt.UTC) == clock.now()
    assert retry.create_time == first.create_time
    assert retry.registry_record.enterprise_name == row["name"]

    # Other content under the same id is still refused.
    with pytest.raises(IntegrityCallError) as caught:
        await client.create_verification(
            verification_for(row, rep_name="李四"), request_id=request_id
        )
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert caught.value.reason == "REQUEST_ID_REUSED"


@pytest.fixture
def history_queries(app: Application) -> Iterator[list[str]]:
    """Every statement that reads verification history, as the database receives it."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM verification_history" in statement:
            seen.append(statement)

    event.listen(app.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(app.engine.sync_engine, "before_cursor_execute", record)


async def test_history_through_get_and_list_in_one_query_per_page(
    app: Application,
    client: AsyncIntegrityClient,
    clock: TestClock,
    history_queries: list[str],
) -> None:
    clock.freeze()
    row = registry_row()
    created = []
    for _ in range(3):
        created.append(await client.create_verification(verification_for(row)))
        clock.advance(dt.timedelta(minutes=1))
    await import_rows(app, [row])
    outcome = await app.rechecks.recheck_enterprise(row["uscc"], trigger="batch", key="sweep-1")
    assert outcome.verification_id == created[-1].name.rsplit("/", 1)[1]

    fetched = await client.get_verification(created[-1].name)
    assert [(o, t) for o, t, _time in outcomes(fetched)] == [
        (PENDING, "create"),
        (VERIFIED, "batch"),
    ]

    history_queries.clear()
    page = await client.list_verifications(row["uscc"], page_size=2)
    assert len(history_queries) == 1
    newest, older = page.verifications
    assert [(o, t) for o, t, _time in outcomes(newest)] == [
        (PENDING, "create"),
        (VERIFIED, "batch"),
    ]
    assert newest.outcome == VERIFIED
    # Only each caller's newest was decided again.
    assert [(o, t) for o, t, _time in outcomes(older)] == [(PENDING, "create")]
    history_queries.clear()
    rest = await client.list_verifications(row["uscc"], page_token=page.next_page_token)
    assert len(history_queries) == 1
    [oldest] = rest.verifications
    assert oldest.name == created[0].name and len(oldest.history) == 1
