"""The archive's registry facts carry the enterprise's name as a lookup key.

Revision ID: 0013
Revises: 0012

An archive read by exact registered name found only enterprises in the imported snapshot;
those known from the government registry's answers (recorded as registry facts) were not
found. `name_normalised` is the name's comparison key (service/domain/names.py) on
registry facts, set as they are recorded and indexed; the registry facts already held get
theirs here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.domain.names import normalise_name

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The open registry facts that have a name: the name lookup's own conditions. "Has a name"
# keeps it from a read of registry facts by USCC, which meets the rest as well and which
# a planner without statistics would then scan this whole index for.
_NAMED = "kind = 'registry' AND superseded_time IS NULL AND name_normalised IS NOT NULL"
_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("archive_facts") as table:
        table.add_column(sa.Column("name_normalised", sa.String(200)))
    op.create_index(
        "ix_archive_facts_registry_name",
        "archive_facts",
        ["name_normalised"],
        sqlite_where=sa.text(_NAMED),
        postgresql_where=sa.text(_NAMED),
    )
    facts = sa.table(
        "archive_facts",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("name_normalised", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(facts.c.id, facts.c.payload).where(facts.c.kind == "registry")
    ).all()
    keys = [
        {"fact_id": row.id, "key": normalise_name(str(row.payload["name"]))}
        for row in rows
        if isinstance(row.payload, dict) and row.payload.get("name")
    ]
    for start in range(0, len(keys), _BATCH):
        connection.execute(
            facts.update()
            .where(facts.c.id == sa.bindparam("fact_id"))
            .values(name_normalised=sa.bindparam("key")),
            keys[start : start + _BATCH],
        )


def downgrade() -> None:
    op.drop_index("ix_archive_facts_registry_name", table_name="archive_facts")
    with op.batch_alter_table("archive_facts") as table:
        table.drop_column("name_normalised")
