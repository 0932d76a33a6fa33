"""The migrations build exactly the schema the code queries, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.adapters.storage.tables import metadata
from service.bootstrap import Application


async def test_migrated_schema_matches_the_tables(app: Application) -> None:
    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, metadata))

    async with app.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
