"""Archive facts with their history, applied platform events, the disclosure ledger.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from service.adapters.storage.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "archive_facts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fact_key", sa.String(160), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("payload", Json),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("recorded_time", UtcDateTime, nullable=False),
        sa.Column("superseded_time", UtcDateTime),
    )
    op.create_index("ix_archive_facts_uscc_time", "archive_facts", ["uscc", "recorded_time"])
    op.create_index(
        "uq_archive_facts_open",
        "archive_facts",
        ["uscc", "kind", "fact_key", "platform"],
        unique=True,
        sqlite_where=sa.text("superseded_time IS NULL"),
        postgresql_where=sa.text("superseded_time IS NULL"),
    )
    op.create_table(
        "ingested_events",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("fingerprint", sa.LargeBinary, nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("ingest_time", UtcDateTime, nullable=False),
    )

    op.create_table(
        "disclosure_ledger",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("subject_uscc", sa.String(18), nullable=False),
        sa.Column("recipient_id", sa.String(36), nullable=False),
        sa.Column("recipient_name", sa.Text, nullable=False),
        sa.Column("recipient_kind", sa.String(16), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("fields", Json, nullable=False),
        sa.Column("disclose_time", UtcDateTime, nullable=False),
        sa.Column("previous_hash", sa.LargeBinary, nullable=False),
        sa.Column("entry_hash", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_disclosure_ledger_subject", "disclosure_ledger", ["subject_uscc", "sequence"]
    )


def downgrade() -> None:
    op.drop_table("disclosure_ledger")
    op.drop_table("ingested_events")
    op.drop_table("archive_facts")
