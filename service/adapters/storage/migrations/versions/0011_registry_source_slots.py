"""The concurrency slots of each HTTP registry source, for processes sharing a SQLite file.

Revision ID: 0011
Revises: 0010

One row per slot: who holds it and until when (see
service/adapters/registry_http/sqlite_limits.py). A holder that dies leaves its lease to
run out. PostgreSQL holds its slots in session advisory locks and never fills this table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_source_slots",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("holder", sa.String(64)),
        sa.Column("lease_expiry", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("registry_source_slots")
