"""Scorecards, integrity levels, eligibility policies, and the change log.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from service.adapters.storage.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "scorecards",
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("document", Json, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("load_time", UtcDateTime, nullable=False),
        sa.Column("state_time", UtcDateTime, nullable=False),
    )
    op.create_table(
        "integrity_levels",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("scorecard_version", sa.String(32), nullable=False),
        sa.Column("level_class", sa.String(32), nullable=False),
        sa.Column("sufficient_data", sa.Boolean, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("reasons", Json, nullable=False),
        sa.Column("improvements", Json, nullable=False),
        sa.Column("cap_reason", sa.String(64), nullable=False),
        sa.Column("inputs_digest", sa.String(64), nullable=False),
        sa.Column("compute_time", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_integrity_levels_uscc_role_time", "integrity_levels", ["uscc", "role", "compute_time"]
    )
    op.create_table(
        "eligibility_policies",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("policy_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", Json, nullable=False),
        sa.Column("announce_time", UtcDateTime, nullable=False),
        sa.Column("effective_time", UtcDateTime, nullable=False),
        sa.Column("retire_time", UtcDateTime),
        sa.Column("load_time", UtcDateTime, nullable=False),
    )
    op.create_table(
        "change_log",
        sa.Column("sequence", Serial, primary_key=True, autoincrement=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("change_time", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("change_log")
    op.drop_table("eligibility_policies")
    op.drop_table("integrity_levels")
    op.drop_table("scorecards")
