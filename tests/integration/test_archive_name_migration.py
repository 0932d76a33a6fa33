"""Upgrading to named registry facts: the registry facts already held are found by name."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from service.adapters.storage.archive_store import SqlArchiveStore
from service.adapters.storage.engine import create_engine
from service.adapters.storage.migrate import migrate
from service.adapters.storage.tables import archive_facts
from service.domain.names import normalise_name
from tests.integration.test_level_revisit_migration import fresh_url, upgrade_to

__all__ = ["fresh_url"]  # the fixture, used by name

EARLIER = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def fact_row(
    fact_id: int, uscc: str, kind: str, payload: dict[str, object], **extra: object
) -> dict[str, object]:
    return {
        "id": fact_id, "uscc": uscc, "kind": kind, "fact_key": "record", "platform": "",
        "payload": payload, "source": "registry", "recorded_time": EARLIER,
        "superseded_time": None, **extra,
    }  # fmt: skip


async def test_registry_facts_from_before_the_upgrade_are_found_by_name(fresh_url: str) -> None:
    engine = create_engine(fresh_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to("0012"))
            rows = [
                fact_row(1, "91330106MA2B3C4D5E", "registry", {"name": "杭州（西湖）茶业有限公司"}),
                fact_row(
                    2,
                    "91330106MA2B3C4D5E",
                    "registry",
                    {"name": "杭州旧名有限公司"},
                    superseded_time=EARLIER,
                ),
                fact_row(3, "91330106MA2B3C4D5E", "judicial", {"name": "not a registry fact"}),
            ]
            await connection.execute(archive_facts.insert(), rows)
        await migrate(engine)
        async with engine.connect() as connection:
            keys = dict(
                (row.id, row.name_normalised)
                for row in await connection.execute(
                    select(archive_facts.c.id, archive_facts.c.name_normalised)
                )
            )
        store = SqlArchiveStore(engine, engine)
        found = await store.usccs_named(normalise_name("杭州(西湖)茶业有限公司"))
        renamed = await store.usccs_named(normalise_name("杭州旧名有限公司"))
    finally:
        await engine.dispose()
    assert keys == {
        1: normalise_name("杭州（西湖）茶业有限公司"),
        2: normalise_name("杭州旧名有限公司"),
        3: None,
    }
    assert found == ["91330106MA2B3C4D5E"]
    assert renamed == []  # a superseded name no longer finds the enterprise
