"""Shares of a fast source's start timeline, held by the processes asking it.

Revision ID: 0020
Revises: 0019

One row per source, period of the timeline and process: the residues of that period's
starts the process holds, as a bit mask, and how many it wanted when it asked (see
service/adapters/registry_http/pg_rate_shares.py). Rows are written in one transaction
each, under the source's advisory lock, and never changed but to add residues.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_rate_shares",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("period", sa.BigInteger, primary_key=True),
        sa.Column("holder", sa.String(64), primary_key=True),
        sa.Column("residues", sa.BigInteger, nullable=False),
        sa.Column("wanted", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("registry_rate_shares")
