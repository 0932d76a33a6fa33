"""Bring a database's schema up to date with the Alembic migrations in ./migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection, sqlite_file
from service.app.ports import PiiVault
from service.domain.errors import FailedPrecondition

MIGRATIONS = Path(__file__).parent / "migrations"
# Replicas starting together on PostgreSQL take turns: the first migrates, the rest find
# the schema current. Any constant works; this one spells "INTG".
_PG_MIGRATION_LOCK = 0x494E5447


_RUN_MIGRATE = "run `integrity-ops migrate` first"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection, vault: Any, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    config = _config()
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


async def require_current_schema(engine: AsyncEngine) -> None:
    """Refuse a database whose schema is not the one this code queries, without changing
    anything (not even creating a missing SQLite file): for commands that only read."""
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is not None and not path.exists():
        raise _not_current(f"there is no database at {path}: {_RUN_MIGRATE}")
    async with read_connection(engine) as connection:
        current = await connection.run_sync(
            lambda sync: set(MigrationContext.configure(sync).get_current_heads())
        )
    scripts = ScriptDirectory.from_config(_config())
    heads = set(scripts.get_heads())
    if current == heads:
        return
    if not current:
        raise _not_current(f"the database has no schema yet: {_RUN_MIGRATE}")
    at, needed = ", ".join(sorted(current)), ", ".join(sorted(heads))
    try:
        for revision in current:
            scripts.get_revision(revision)
    except CommandError:
        raise _not_current(
            f"the database schema is at revision {at}, newer than this version of the "
            f"service knows ({needed}): run a version that knows it"
        ) from None
    raise _not_current(
        f"the database schema is at revision {at}, this version of the service needs "
        f"{needed}: {_RUN_MIGRATE}"
    )


def _not_current(message: str) -> FailedPrecondition:
    return FailedPrecondition(message, reason="SCHEMA_NOT_CURRENT")
