"""Closed accounts and legal holds: what the retention purge reads.

Revision ID: 0018
Revises: 0017

enterprise_closures: one row per enterprise whose account is closed (reopening removes
it), with when it was purged; legal_holds: the records a court order or an audit keeps
from the purge (service/domain/retention.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.adapters.storage.types import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enterprise_closures",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("close_time", UtcDateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("purge_time", UtcDateTime),
    )
    op.create_index("ix_enterprise_closures_close_time", "enterprise_closures", ["close_time"])
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("item", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("place_time", UtcDateTime, nullable=False),
        sa.Column("release_time", UtcDateTime),
    )
    op.create_index("ix_legal_holds_uscc", "legal_holds", ["uscc"])


def downgrade() -> None:
    op.drop_table("legal_holds")
    op.drop_table("enterprise_closures")
