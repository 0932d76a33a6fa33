"""Batch items the registry could not answer for wait for a next attempt.

Revision ID: 0012
Revises: 0011

`unanswered` counts an item's tries the registry could not answer (they use none of its
attempts); a waiting item is handed out again once `next_attempt_time` has come.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.adapters.storage.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_items") as table:
        table.add_column(sa.Column("unanswered", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("next_attempt_time", UtcDateTime))


def downgrade() -> None:
    with op.batch_alter_table("batch_items") as table:
        table.drop_column("next_attempt_time")
        table.drop_column("unanswered")
