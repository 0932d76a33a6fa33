"""Marks of one-time work on the data: done once, never looked for again.

Revision ID: 0019
Revises: 0018

The reseal of legal-representative values sealed with the service key
(legacy_reseal.py) scans whole tables; once a table is done nothing writes such values
again, so its mark spares every later start-up the scan. The mark lives with the data it
speaks of: a database restored from before the reseal comes without it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.adapters.storage.types import UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_marks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("mark_time", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("data_marks")
