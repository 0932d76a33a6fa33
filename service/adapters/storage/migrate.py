"""Bring a database's schema up to date with the Alembic migrations in ./migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.app.ports import PiiVault

MIGRATIONS = Path(__file__).parent / "migrations"
# Replicas starting together on PostgreSQL take turns: the first migrates, the rest find
# the schema current. Any constant works; this one spells "INTG".
_PG_MIGRATION_LOCK = 0x494E5447


def _upgrade(connection: Connection, vault: Any, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    # Migrations that encrypt existing personal data need the vault (see 0006).
    config.attributes["pii_vault"] = vault
    command.upgrade(config, revision)


async def migrate(
    engine: AsyncEngine, vault: PiiVault | None = None, revision: str = "head"
) -> None:
    """vault: needed once a database holds personal data that a migration must encrypt."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, vault, revision)
