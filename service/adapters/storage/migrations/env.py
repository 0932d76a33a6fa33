"""Alembic environment: runs on the connection the service hands it (see migrate.py)."""

from __future__ import annotations

from alembic import context

from service.adapters.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; batch mode does that for later migrations.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
