"""Each current level's revisit time: when its inputs next change meaning.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from service.adapters.storage.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("integrity_levels", sa.Column("revisit_time", UtcDateTime))
    op.create_index("ix_integrity_levels_revisit_time", "integrity_levels", ["revisit_time"])
    # Levels computed before this revision carry no revisit time, so nobody knows when
    # they go stale: each enterprise's current level is revisited once, soon, and from
    # then on at its own time.
    levels = sa.table(
        "integrity_levels",
        sa.column("id"),
        sa.column("uscc"),
        sa.column("role"),
        sa.column("revisit_time", UtcDateTime),
    )
    current = sa.select(sa.func.max(levels.c.id)).group_by(levels.c.uscc, levels.c.role)
    op.execute(
        levels.update()
        .where(levels.c.id.in_(current.scalar_subquery()))
        .values(revisit_time=dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    )


def downgrade() -> None:
    op.drop_index("ix_integrity_levels_revisit_time", "integrity_levels")
    op.drop_column("integrity_levels", "revisit_time")
