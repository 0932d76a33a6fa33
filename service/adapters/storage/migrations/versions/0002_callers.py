"""Callers and their credentials.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from service.adapters.storage.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "callers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("platform", sa.String(32)),
        sa.Column("scopes", Json, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("revoke_time", UtcDateTime),
    )
    op.create_table(
        "credentials",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("caller_id", sa.String(36), sa.ForeignKey("callers.id"), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("revoke_time", UtcDateTime),
    )
    op.create_index("ix_credentials_caller_id", "credentials", ["caller_id"])


def downgrade() -> None:
    op.drop_table("credentials")
    op.drop_table("callers")
