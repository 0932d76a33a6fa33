"""Migration 0007: verifications made before it get their first history entry, their
decision time and, when PENDING, a re-check due at once; downgrading removes it all."""

from __future__ import annotations

import dataclasses
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData, Table, inspect, select

from service.adapters.storage.engine import create_engine
from service.adapters.storage.migrate import MIGRATIONS, migrate
from service.adapters.storage.tables import verification_history, verifications
from service.adapters.storage.verification_rows import verification_to_row
from service.domain.verification import Decision, Outcome
from service.settings import PiiKeys
from tests.integration.test_level_revisit_migration import fresh_url, upgrade_to
from tests.integration.test_personal_data_migration import (
    _LATER_COLUMNS,
    CREATED,
    sample_verification,
    vault_of,
)

__all__ = ["fresh_url"]  # the fixture, used by name

# The verifications table as revision 0006 left it.
verifications_0006 = Table(
    "verifications",
    MetaData(),
    *(column._copy() for column in verifications.columns if column.name not in _LATER_COLUMNS),
)


def old_row(verification: Any) -> dict[str, Any]:
    row = verification_to_row(verification)
    return {k: v for k, v in row.items() if k not in _LATER_COLUMNS}


def downgrade_to(revision: str, vault: Any) -> Any:
    def downgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        config.attributes["pii_vault"] = vault
        command.downgrade(config, revision)

    return downgrade


async def test_verifications_from_before_get_history_and_pending_ones_a_schedule(
    fresh_url: str, pii_keys: PiiKeys
) -> None:
    vault = vault_of(pii_keys)
    pending = sample_verification(vault, "caller-1")
    verified = dataclasses.replace(
        sample_verification(vault, "caller-2"), decision=Decision(Outcome.VERIFIED, (), (), None)
    )
    engine = create_engine(fresh_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to("0006"))
            await connection.execute(verifications_0006.insert(), [old_row(pending)])
            await connection.execute(verifications_0006.insert(), [old_row(verified)])
        await migrate(engine, vault)
        async with engine.connect() as connection:
            history = (await connection.execute(select(verification_history))).mappings().all()
            rows = {
                row["id"]: row
                for row in (await connection.execute(select(verifications))).mappings()
            }
        assert sorted((h["verification_id"], h["sequence"], h["outcome"]) for h in history) == (
            sorted([(pending.id, 1, "pending"), (verified.id, 1, "verified")])
        )
        assert {h["trigger"] for h in history} == {"create"}
        assert {h["idempotency_key"] for h in history} == {pending.request_id, verified.request_id}
        assert all(row["update_time"] == CREATED for row in rows.values())
        assert rows[pending.id]["recheck_time"] == CREATED
        assert rows[pending.id]["pending_since"] == CREATED
        assert rows[verified.id]["recheck_time"] is None
        assert rows[verified.id]["recheck_attempts"] == 0

        async with engine.begin() as connection:
            await connection.run_sync(downgrade_to("0006", vault))

        def shape(connection: Connection) -> tuple[set[str], set[str]]:
            inspector = inspect(connection)
            columns = {c["name"] for c in inspector.get_columns("verifications")}
            return set(inspector.get_table_names()), columns

        async with engine.connect() as connection:
            tables, columns = await connection.run_sync(shape)
            kept = (await connection.execute(select(verifications_0006.c.id))).scalars().all()
    finally:
        await engine.dispose()
    assert not tables & {"verification_history", "enterprise_rechecks", "outbox"}
    assert not columns & _LATER_COLUMNS
    assert sorted(kept) == sorted([pending.id, verified.id])
