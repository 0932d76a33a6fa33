"""Eligibility checks over gRPC: policies by effective time, reasons, suspension, ledger, caches."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from integrity.v1 import eligibility_pb2

from clients import AsyncIntegrityClient, IntegrityCallError
from service.adapters.storage.policies import SqlPolicyStore
from service.bootstrap import Application, bootstrap, build_server
from service.domain.callers import CallerKind
from service.settings import Settings
from tests.builders import import_rows, registry_row, verification_for
from tests.clock import TEST_EPOCH, TestClock
from tests.conftest import OpsCommand

E = eligibility_pb2
T0 = TEST_EPOCH


def policy(
    version: int, effective: dt.datetime, conditions: list[dict[str, Any]], platform: str = "shop"
) -> dict[str, Any]:
    return {
        "platform": platform,
        "policy": "store_opening",
        "version": version,
        "description": "store opening",
        "announce_time": (effective - dt.timedelta(days=7)).isoformat(),
        "effective_time": effective.isoformat(),
        "conditions": conditions,
    }


STRICT = [
    {"kind": "business_status"},
    {"kind": "licence_valid_for_days", "days": 30},
    {
        "kind": "identity_verified",
        "within_days": 365,
        "supplementary_information": ["legal representative's authorisation"],
    },
    {
        "kind": "min_class",
        "class": "AA",
        "on_unmet": "review",
        "supplementary_information": ["recent tax certificate"],
    },
]


class Rig:
    def __init__(self, app: Application, clock: TestClock, port: int, token: str) -> None:
        self.app, self.clock, self.port, self.token = app, clock, port, token

    def client(self) -> AsyncIntegrityClient:
        return AsyncIntegrityClient(f"127.0.0.1:{self.port}", token=self.token)


@pytest.fixture
async def rig(settings: Settings, clock: TestClock) -> AsyncIterator[Rig]:
    app = await bootstrap(settings, clock=clock)
    from tests.conftest import _clean

    await _clean(app)
    _caller, token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "Shop", platform="shop"
    )
    server, _health = build_server(app)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield Rig(app, clock, port, token)
    await server.stop(None)
    await app.close()


async def test_decisions_with_reasons_and_supplementary_information(rig: Rig) -> None:
    await rig.app.policies.load(policy(1, T0 - dt.timedelta(days=1), STRICT))
    good, revoked = registry_row(), registry_row(status="revoked")
    await import_rows(rig.app, [good, revoked])
    async with rig.client() as client:
        await client.create_verification(verification_for(good))
        allowed = await client.check_eligibility(good["uscc"], "store_opening")
        denied = await client.check_eligibility(revoked["uscc"], "store_opening")
    # The good enterprise is verified and in business, but its class is below A: review.
    assert allowed.decision == E.ELIGIBILITY_DECISION_REVIEW
    assert [u.reason_code for u in allowed.unmet_conditions] == ["CLASS_TOO_LOW"]
    assert list(allowed.supplementary_information) == ["recent tax certificate"]
    assert allowed.policy_version == "platforms/shop/policies/store_opening@1"
    assert allowed.level_class
    assert denied.decision == E.ELIGIBILITY_DECISION_DENY
    assert {u.reason_code for u in denied.unmet_conditions} >= {
        "BUSINESS_STATUS_NOT_ALLOWED",
        "IDENTITY_NOT_VERIFIED",
    }
    assert "legal representative's authorisation" in denied.supplementary_information


async def test_the_policy_in_force_at_the_moment_of_the_check(rig: Rig) -> None:
    takes_effect = T0 + dt.timedelta(hours=1)
    await rig.app.policies.load(
        policy(1, T0 - dt.timedelta(days=30), [{"kind": "business_status"}])
    )
    await rig.app.policies.load(policy(2, takes_effect, [{"kind": "onsite_certification"}]))
    row = registry_row()
    await import_rows(rig.app, [row])
    async with rig.client() as client:
        rig.clock.set(takes_effect - dt.timedelta(minutes=1))
        before = await client.check_eligibility(row["uscc"], "store_opening")
        rig.clock.set(takes_effect + dt.timedelta(minutes=1))
        after = await client.check_eligibility(row["uscc"], "store_opening")
    assert before.policy_version.endswith("@1") and before.decision == E.ELIGIBILITY_DECISION_ALLOW
    assert after.policy_version.endswith("@2") and after.decision == E.ELIGIBILITY_DECISION_DENY
    assert [u.reason_code for u in after.unmet_conditions] == ["NO_VALID_CERTIFICATION"]
    await rig.app.policies.retire("shop", "store_opening", 2)
    async with rig.client() as client:
        again = await client.check_eligibility(row["uscc"], "store_opening")
    assert again.policy_version.endswith("@1")


async def test_no_policy_in_force_and_bad_requests(rig: Rig) -> None:
    await rig.app.policies.load(policy(1, T0 + dt.timedelta(days=7), [{"kind": "business_status"}]))
    row = registry_row()
    async with rig.client() as client:
        with pytest.raises(IntegrityCallError) as caught:
            await client.check_eligibility(
                row["uscc"], "store_opening"
            )  # announced, not yet effective
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        assert caught.value.reason == "POLICY_NOT_IN_FORCE"
        with pytest.raises(IntegrityCallError) as caught:
            await client.check_eligibility("not-a-code", "")
        assert {v.field for v in caught.value.field_violations} == {"uscc", "policy"}
        for bad_policy in ("Store_Opening", "store opening", "店铺", "s" * 65, "x" * 200, "a\tb"):
            with pytest.raises(IntegrityCallError) as caught:
                await client.check_eligibility(row["uscc"], bad_policy)
            assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert [v.field for v in caught.value.field_violations] == ["policy"]
            assert bad_policy not in caught.value.message


async def test_suspension_denies_with_its_own_reason_across_processes(
    rig: Rig, ops_command: OpsCommand
) -> None:
    await rig.app.policies.load(policy(1, T0 - dt.timedelta(days=1), [{"kind": "business_status"}]))
    row = registry_row()
    await import_rows(rig.app, [row])
    uscc = str(row["uscc"])
    async with rig.client() as client:
        assert (
            await client.check_eligibility(uscc, "store_opening")
        ).decision == E.ELIGIBILITY_DECISION_ALLOW
        await rig.app.follower.start()
        # Another process (ops) suspends the enterprise; the server learns of it from the change log.
        result = await ops_command.run("enterprise", "suspend", uscc, "--reason", "impersonation")
        assert result.exit_code == 0, result.output
        assert uscc in await rig.app.follower.poll()
        suspended = await client.check_eligibility(uscc, "store_opening")
        assert suspended.decision == E.ELIGIBILITY_DECISION_DENY
        assert [u.reason_code for u in suspended.unmet_conditions] == ["ENTERPRISE_SUSPENDED"]
        await ops_command.run("enterprise", "restore", uscc)
        await rig.app.follower.poll()
        assert (
            await client.check_eligibility(uscc, "store_opening")
        ).decision == E.ELIGIBILITY_DECISION_ALLOW


async def test_a_retirement_elsewhere_reaches_the_book_whatever_its_clock(rig: Rig) -> None:
    effective = T0 - dt.timedelta(days=1)
    for version in (1, 2, 3):
        await rig.app.policies.load(policy(version, effective, [{"kind": "business_status"}]))
    row = registry_row()
    await import_rows(rig.app, [row])
    await rig.app.follower.start()
    elsewhere = SqlPolicyStore(rig.app.engine)  # another host's ops command
    async with rig.client() as client:

        async def version_used() -> str:
            checked = await client.check_eligibility(str(row["uscc"]), "store_opening")
            return checked.policy_version.rpartition("@")[2]

        assert await version_used() == "3"
        await elsewhere.retire("shop", "store_opening", 3, T0)
        await rig.app.follower.poll()
        assert await version_used() == "2"
        # This host's clock is an hour behind: its retirement is not the latest retire time.
        await elsewhere.retire("shop", "store_opening", 2, T0 - dt.timedelta(hours=1))
        await rig.app.follower.poll()
        assert await version_used() == "1"


async def test_changes_in_this_process_reach_the_next_check_at_once(rig: Rig) -> None:
    conditions = [{"kind": "no_recent_punishment", "min_severity": "serious", "within_days": 90}]
    await rig.app.policies.load(policy(1, T0 - dt.timedelta(days=1), conditions))
    row = registry_row()
    await import_rows(rig.app, [row])
    from google.type import date_pb2
    from integrity.v1 import archive_pb2, platform_data_pb2

    async with rig.client() as client:
        assert (
            await client.check_eligibility(row["uscc"], "store_opening")
        ).decision == E.ELIGIBILITY_DECISION_ALLOW
        punishment = platform_data_pb2.PlatformRecord(
            event_id="p-1",
            uscc=row["uscc"],
            conduct=archive_pb2.ConductRecord(
                record_id="P1", kind=archive_pb2.CONDUCT_KIND_PUNISHMENT, severity=archive_pb2.SEVERITY_SEVERE,
                date=date_pb2.Date(year=2026, month=11, day=1), rule="售假",
            ),
        )  # fmt: skip
        await client.ingest_platform_records("shop", [punishment])
        after = await client.check_eligibility(row["uscc"], "store_opening")
    assert [u.reason_code for u in after.unmet_conditions] == ["RECENT_PUNISHMENT"]


async def test_a_failed_level_update_neither_hides_the_facts_nor_outlives_a_retry(
    rig: Rig,
) -> None:
    from google.type import date_pb2
    from integrity.v1 import archive_pb2, platform_data_pb2
    from sqlalchemy import update

    from service.adapters.storage.tables import scorecards

    conditions = [{"kind": "no_recent_punishment", "min_severity": "serious", "within_days": 90}]
    await rig.app.policies.load(policy(1, T0 - dt.timedelta(days=1), conditions))
    row = registry_row()
    uscc = str(row["uscc"])
    await import_rows(rig.app, [row])
    await rig.app.follower.start()  # this process following the change log, as replicas do
    levels_before = len(await rig.app.levels.history(uscc))

    async def set_scorecard_state(old: str, new: str) -> None:
        async with rig.app.engine.begin() as connection:
            await connection.execute(
                update(scorecards).where(scorecards.c.state == old).values(state=new)
            )

    punishment = platform_data_pb2.PlatformRecord(
        event_id="p-1",
        uscc=uscc,
        conduct=archive_pb2.ConductRecord(
            record_id="P1", kind=archive_pb2.CONDUCT_KIND_PUNISHMENT, severity=archive_pb2.SEVERITY_SEVERE,
            date=date_pb2.Date(year=2026, month=11, day=1), rule="售假",
        ),
    )  # fmt: skip
    async with rig.client() as client:
        assert (
            await client.check_eligibility(uscc, "store_opening")
        ).decision == E.ELIGIBILITY_DECISION_ALLOW
        # With no active scorecard the level cannot be worked out: the call fails after
        # the record is committed.
        await set_scorecard_state("active", "parked")
        with pytest.raises(IntegrityCallError) as failed:
            await client.ingest_platform_records("shop", [punishment])
        assert failed.value.code == grpc.StatusCode.FAILED_PRECONDITION
        after = await client.check_eligibility(uscc, "store_opening")
        assert [u.reason_code for u in after.unmet_conditions] == ["RECENT_PUNISHMENT"]
        await set_scorecard_state("parked", "active")
        assert uscc in await rig.app.follower.poll()  # other processes hear of it too
        # The platform retries: the record is already held, and the level catches up.
        retried = await client.ingest_platform_records("shop", [punishment])
        assert retried.results[0].outcome == platform_data_pb2.RECORD_OUTCOME_DUPLICATE
    assert len(await rig.app.levels.history(uscc)) == levels_before + 1


async def test_every_decision_is_in_the_ledger(rig: Rig) -> None:
    await rig.app.policies.load(policy(1, T0 - dt.timedelta(days=1), [{"kind": "business_status"}]))
    row = registry_row()
    await import_rows(rig.app, [row])
    async with rig.client() as client:
        for _ in range(3):
            await client.check_eligibility(row["uscc"], "store_opening")
    entries = await rig.app.ledger.list_for_subject(str(row["uscc"]), 10, None)
    assert len(entries) == 3
    assert {(e.entry.purpose, e.entry.scenario, e.entry.recipient_name) for e in entries} == {
        ("eligibility_evaluation", "store_opening", "Shop")
    }
    assert (await rig.app.disclosures.verify()).first_broken is None


def test_malformed_policies_are_refused_and_change_nothing(
    ops_command: OpsCommand, tmp_path: Path
) -> None:
    bad = policy(
        1,
        T0,
        [{"kind": "min_class", "class": "Z"}, {"kind": "teleport"}],
        platform=f"bad-{tmp_path.name[-6:].lower().replace('_', '-')}",
    )
    bad["effective_time"] = (T0 - dt.timedelta(days=30)).isoformat()  # before the announcement
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = ops_command("policy", "load", str(path))
    assert result.exit_code != 0
    for field in ("conditions[0].class", "conditions[1].kind", "effective_time"):
        assert field in result.output
    assert bad["platform"] not in ops_command("policy", "list").output
    good = dict(bad, conditions=[{"kind": "business_status"}], effective_time=T0.isoformat())
    path.write_text(json.dumps(good))
    loaded = ops_command("policy", "load", str(path))
    assert loaded.exit_code == 0 and "loaded" in loaded.output
    changed = dict(good, description="other")
    path.write_text(json.dumps(changed))
    clash = ops_command("policy", "load", str(path))
    assert clash.exit_code != 0 and "load a new version" in clash.output
