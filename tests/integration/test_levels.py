"""Integrity levels in the running service: recomputed on change, shown by tier, versioned."""

from __future__ import annotations

import asyncio
import copy
import json
from importlib import resources
from pathlib import Path

from google.type import date_pb2
from integrity.v1 import archive_pb2, platform_data_pb2

from clients import AsyncIntegrityClient
from service.bootstrap import Application
from service.domain.callers import CallerKind
from tests.builders import import_rows, registry_row, verification_for
from tests.conftest import OpsCommand, RunningServer


async def gateway(app: Application, server: RunningServer, behalf: str) -> AsyncIntegrityClient:
    _caller, token = await app.credentials.create_caller(CallerKind.GATEWAY, f"gw-{behalf}")
    return AsyncIntegrityClient(server.target, token=token, on_behalf_of=behalf)


async def test_level_follows_the_archive_and_shows_by_tier(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    uscc = str(row["uscc"])
    first = await app.levels.current(uscc)
    assert first is not None and first.sufficient_data
    assert "IDENTITY_VERIFICATION" in {r.factor for r in first.reasons}

    await client.create_verification(verification_for(row))
    verified = await app.levels.current(uscc)
    assert verified is not None and verified.score > first.score
    assert "IDENTITY_VERIFICATION" not in {r.factor for r in verified.reasons}

    certification = platform_data_pb2.PlatformRecord(
        event_id="cert-1",
        uscc=uscc,
        certification=archive_pb2.Certification(
            record_id="V1",
            certifier="验厂机构",
            certified_date=date_pb2.Date(year=2026, month=1, day=5),
        ),
    )
    await client.ingest_platform_records("test-platform", [certification])
    certified = await app.levels.current(uscc)
    assert certified is not None and certified.score > verified.score

    async with await gateway(app, server, "viewer:u1") as viewer:
        shown = await viewer.get_archive(uscc)
    assert shown.integrity_level.level_class == certified.level_class
    assert shown.integrity_level.scorecard_version == "2026.1"
    assert shown.integrity_level.inputs_digest == certified.inputs_digest
    assert len(shown.integrity_level.reasons) <= 4
    async with await gateway(app, server, "anonymous:1.2.3.4") as anonymous:
        public = await anonymous.get_archive(uscc)
    assert not public.HasField("integrity_level")

    history = await app.levels.history(uscc)
    assert [h.score for h in history] == [certified.score, verified.score, first.score]
    as_of_first = await app.levels.current(uscc, first.compute_time)
    assert as_of_first == first


async def test_revocation_caps_the_level(app: Application) -> None:
    row = registry_row()
    await import_rows(app, [row])
    await import_rows(app, [dict(row, status="吊销", snapshot_time="2026-11-20T00:00:00+00:00")])
    capped = await app.levels.current(str(row["uscc"]))
    assert (
        capped is not None and capped.level_class == "C" and capped.cap_reason == "NOT_IN_BUSINESS"
    )


async def test_recomputing_unchanged_inputs_gives_the_same_level(app: Application) -> None:
    rows = [registry_row() for _ in range(3)]
    await import_rows(app, rows)
    before = {str(r["uscc"]): await app.levels.current(str(r["uscc"])) for r in rows}
    saved = await app.levels.recompute(before)
    assert saved == 0  # same inputs, same digest: nothing new to keep
    active, _shadow = await app.levels.scorecards()
    for uscc, level in before.items():
        inputs = await app.levels._store.load_inputs([uscc])
        facts, verification = inputs[uscc]
        again = app.levels.compute(active, uscc, facts, verification, level.compute_time)
        assert again == level


async def test_shadow_scorecard_runs_beside_the_active_one(
    app: Application, tmp_path: Path, ops_command: OpsCommand
) -> None:
    rows = [registry_row() for _ in range(4)]
    await import_rows(app, rows)
    document = json.loads(
        (resources.files("service.config.scorecards") / "2026.1.json").read_text(encoding="utf-8")
    )
    stricter = copy.deepcopy(document)
    stricter["version"] = "2026.2"
    for entry in stricter["classes"][:-1]:
        entry["min_score"] = 1001  # everyone lands in the last class
    path = tmp_path / "2026.2.json"
    path.write_text(json.dumps(stricter))

    def run(*args: str) -> str:
        result = ops_command(*args)
        assert result.exit_code == 0, result.output
        return result.output

    assert "loaded as shadow" in await asyncio.to_thread(
        run, "scorecard", "load", str(path), "--shadow"
    )
    await asyncio.to_thread(run, "level", "recompute", "--quiet")
    comparison = await app.levels.compare()
    assert comparison.shadow_version == "2026.2"
    assert sum(comparison.active.values()) == sum(comparison.shadow.values()) == 4
    assert comparison.shadow == {"C": 4}
    printed = await asyncio.to_thread(run, "scorecard", "compare")
    assert "2026.1" in printed and "2026.2" in printed
    # The active level did not move while the shadow ran.
    assert (await app.levels.current(str(rows[0]["uscc"]))).scorecard_version == "2026.1"

    broken = dict(stricter, classes=[{"name": "only", "min_score": 5}])
    path.write_text(json.dumps(broken))
    refused = await ops_command.run("scorecard", "load", str(path))
    assert refused.exit_code != 0 and "classes" in refused.output
    assert (await app.levels.scorecards())[0].version == "2026.1"  # nothing changed

    await asyncio.to_thread(run, "scorecard", "activate", "2026.2")
    await app.levels.recompute([str(r["uscc"]) for r in rows])
    assert (await app.levels.current(str(rows[0]["uscc"]))).scorecard_version == "2026.2"
