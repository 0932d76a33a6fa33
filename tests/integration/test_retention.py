"""The two-year retention of a closed account, on both backends, through integrity-ops:
nothing goes before two years or once the account is reopened; then the purge destroys the
legal representative's data and deletes what platforms reported and the levels, but keeps
what a legal hold (a court order) and an open dispute name, until the hold is released."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from service.adapters.storage.tables import archive_facts, integrity_levels
from service.adapters.subject_keys import PersonalDataDestroyed
from service.bootstrap import Application
from service.domain.callers import Viewer, ViewerKind
from service.domain.sealed import PiiKind
from tests.clock import TestClock
from tests.conftest import OpsCommand
from tests.integration.test_archive import seed

YEARS = dt.timedelta(days=366 * 2)


async def _platform_facts(app: Application, uscc: str) -> set[tuple[str, str]]:
    async with app.engine.connect() as connection:
        rows = await connection.execute(
            select(archive_facts.c.kind, archive_facts.c.fact_key).where(
                archive_facts.c.uscc == uscc,
                archive_facts.c.kind.in_(["membership", "conduct", "store", "trade"]),
            )
        )
        return {(row.kind, row.fact_key) for row in rows}


async def _levels(app: Application, uscc: str) -> int:
    async with app.engine.connect() as connection:
        return int(
            await connection.scalar(
                select(func.count())
                .select_from(integrity_levels)
                .where(integrity_levels.c.uscc == uscc)
            )
        )


async def test_a_closed_account_is_purged_after_two_years_but_for_what_holds_keep(
    app: Application, clock: TestClock, ops_command: OpsCommand
) -> None:
    row = await seed(app)  # a judicial listing, a membership and conduct record C-1
    uscc = str(row["uscc"])
    await app.levels.archive_changed([uscc])
    sealed = (await app.subject_keys.sealer(uscc)).seal(PiiKind.ID_NUMBER, "11010519491231002X")
    assert await _levels(app, uscc) >= 1
    before = await _platform_facts(app, uscc)
    assert ("conduct", "conduct:C-1") in before and len(before) >= 2

    closed = await ops_command.run("retention", "close", uscc, "--reason", "商户申请注销账户")
    assert closed.exit_code == 0, closed.output
    hold = await ops_command.run(
        "retention", "hold", uscc, "--item", "conduct:test-platform:C-1",
        "--reason", "(2026)浙0106民初123号 保全裁定",
    )  # fmt: skip
    assert hold.exit_code == 0, hold.output
    (hold_id,) = re.findall(r"^([0-9a-f-]{36})  ", hold.output, re.MULTILINE)
    bad = await ops_command.run("retention", "hold", uscc, "--item", "everything", "--reason", " ")
    assert bad.exit_code != 0 and "item" in bad.output and "reason" in bad.output
    merchant = Viewer(ViewerKind.MERCHANT, "demo:owner", merchant_uscc=uscc)
    await app.disputes.open(merchant, f"enterprises/{uscc}", "integrity_level", "等级有误")

    # Within the two years: nothing.
    clock.set(clock.now() + YEARS - dt.timedelta(days=2))
    early = await ops_command.run("retention", "purge")
    assert early.exit_code == 0 and "0 accounts purged" in early.output
    assert await _platform_facts(app, uscc) == before

    clock.set(clock.now() + dt.timedelta(days=3))
    purged = await ops_command.run("retention", "purge")
    assert purged.exit_code == 0 and "1 accounts purged" in purged.output, purged.output
    assert "conduct:test-platform:C-1" in purged.output and "integrity_level" in purged.output
    assert await _platform_facts(app, uscc) == {("conduct", "conduct:C-1")}  # the court's record
    assert await _levels(app, uscc) >= 1  # the disputed level
    with pytest.raises(PersonalDataDestroyed):
        await app.subject_keys.open(sealed)
    # Public records stay: the registry facts and the judicial listing.
    async with app.engine.connect() as connection:
        public = set(
            (
                await connection.execute(
                    select(archive_facts.c.kind).where(archive_facts.c.uscc == uscc)
                )
            ).scalars()
        )
    assert {"registry", "judicial"} <= public
    again = await ops_command.run("retention", "purge")
    assert "0 accounts purged" in again.output  # done once

    # The court releases its hold: the record it kept goes now.
    released = await ops_command.run("retention", "release", hold_id)
    assert released.exit_code == 0 and "released" in released.output, released.output
    assert await _platform_facts(app, uscc) == set()
    listed = await ops_command.run("retention", "holds", uscc)
    assert "1 holds" in listed.output


async def test_a_reopened_account_is_not_purged(
    app: Application, clock: TestClock, ops_command: OpsCommand
) -> None:
    row = await seed(app)
    uscc = str(row["uscc"])
    before = await _platform_facts(app, uscc)
    closed = await ops_command.run("retention", "close", uscc, "--reason", "商户申请注销")
    assert closed.exit_code == 0
    clock.set(clock.now() + dt.timedelta(days=30))
    assert (await ops_command.run("retention", "reopen", uscc)).exit_code == 0
    clock.set(clock.now() + YEARS)
    assert "0 accounts purged" in (await ops_command.run("retention", "purge")).output
    assert await _platform_facts(app, uscc) == before
    twice = await ops_command.run("retention", "reopen", uscc)
    assert twice.exit_code != 0 and "not closed" in twice.output
