"""Re-verification batches and their items, claimed by workers under leases.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from service.adapters.storage.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "reverification_batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("selection", Json, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("finish_time", UtcDateTime),
        sa.Column("item_count", sa.Integer, nullable=False),
    )
    op.create_table(
        "batch_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "batch_id",
            sa.String(36),
            sa.ForeignKey("reverification_batches.id"),
            nullable=False,
        ),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_holder", sa.String(64)),
        sa.Column("lease_expiry", UtcDateTime),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("applied", sa.Boolean),
        sa.Column("verifications_checked", sa.Integer),
        sa.Column("outcome_before", sa.String(16)),
        sa.Column("outcome_after", sa.String(16)),
        sa.Column("reasons", Json),
        sa.Column("level_class_before", sa.String(32)),
        sa.Column("level_class_after", sa.String(32)),
        sa.Column("error", sa.Text),
        sa.Column("finish_time", UtcDateTime),
        sa.UniqueConstraint("batch_id", "uscc", name="uq_batch_items_batch_uscc"),
    )
    op.create_index("ix_batch_items_claim", "batch_items", ["batch_id", "state", "id"])
    op.create_index("ix_batch_items_lease", "batch_items", ["state", "lease_expiry"])


def downgrade() -> None:
    op.drop_index("ix_batch_items_lease", "batch_items")
    op.drop_index("ix_batch_items_claim", "batch_items")
    op.drop_table("batch_items")
    op.drop_table("reverification_batches")
