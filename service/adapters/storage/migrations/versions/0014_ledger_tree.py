"""The disclosure ledger becomes a verifiable log: its Merkle tree and signed checkpoints.

Revision ID: 0014
Revises: 0013

`ledger_tree_nodes` holds the hash of every perfect subtree of level 1 or more that the
integrated entries complete (service/domain/merkle.py); a leaf's own hash is computed from
its entry. `ledger_checkpoints` holds every signed tree head the log has published, the
signed note exactly as it was handed out. Entries already in the ledger are integrated by
the first checkpoint, not here: a migration must not need the signing key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.adapters.storage.types import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_tree_nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True),
        sa.Column("node_index", sa.BigInteger, primary_key=True),
        sa.Column("hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("publish_time", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_tree_nodes")
