"""Disputes: a merchant's objection to an item of its archive, level or verification.

Revision ID: 0015
Revises: 0014

One row per dispute, its state kept on it (service/domain/disputes.py). The index on
(state, deadline) answers ops' "which are near their deadline"; the one on (uscc, state)
the archive's "which of this enterprise's items are under dispute".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.adapters.storage.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("item", sa.String(128), nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("opened_by", sa.String(160), nullable=False),
        sa.Column("open_time", UtcDateTime, nullable=False),
        sa.Column("deadline", UtcDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(160), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("resolve_time", UtcDateTime),
    )
    op.create_index("ix_disputes_state_deadline", "disputes", ["state", "deadline"])
    op.create_index("ix_disputes_uscc_state", "disputes", ["uscc", "state"])


def downgrade() -> None:
    op.drop_table("disputes")
