"""Upgrading to revisit times: levels computed before it fall due once, soon."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, select

from service.adapters.storage.engine import create_engine
from service.adapters.storage.migrate import MIGRATIONS, migrate
from service.adapters.storage.tables import integrity_levels
from tests.conftest import PG_ADMIN_DSN, _admin, drop_database

EARLIER = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own: the shared ones are at the head revision already."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    name = f"integrity_upgrade_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    await drop_database(name)


def upgrade_to(revision: str) -> Any:
    def upgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    return upgrade


def level_row(level_id: int, uscc: str, role: str = "active") -> dict[str, Any]:
    return {
        "id": level_id, "uscc": uscc, "role": role, "scorecard_version": "2026.1",
        "level_class": "B", "sufficient_data": True, "score": 500, "reasons": [],
        "improvements": [], "cap_reason": "", "inputs_digest": "0" * 64,
        "compute_time": EARLIER,
    }  # fmt: skip


async def test_current_levels_from_before_the_upgrade_fall_due_once(fresh_url: str) -> None:
    engine = create_engine(fresh_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to("0004"))
            old = [level_row(1, "X"), level_row(2, "X"), level_row(3, "Y")]
            old.append(level_row(4, "X", "shadow"))
            await connection.execute(integrity_levels.insert(), old)
        await migrate(engine)
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(integrity_levels.c.id, integrity_levels.c.revisit_time).order_by(
                    integrity_levels.c.id
                )
            )
            revisits = {row.id: row.revisit_time for row in rows}
    finally:
        await engine.dispose()
    # The superseded level 1 is not due; every current one is, from long ago.
    assert revisits[1] is None
    assert all(revisits[i] is not None and revisits[i] < EARLIER for i in (2, 3, 4))
