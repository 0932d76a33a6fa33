"""The request rate shared by every process asking an HTTP registry source.

Revision ID: 0008
Revises: 0007

One row per source: the next free request start on the database's clock (see
service/adapters/registry_http/pg_limits.py). Concurrency needs no table: it is held in
session advisory locks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_source_budgets",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("next_start", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("registry_source_budgets")
