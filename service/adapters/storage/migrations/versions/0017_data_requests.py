"""Data-subject requests: correction, deletion and withdrawal, answered within 72 hours.

Revision ID: 0017
Revises: 0016

One row per request, its state kept on it (service/domain/data_requests.py). The index on
(state, deadline) answers ops' "which are near their deadline"; the one on (uscc, kind,
state) a verification's "did this enterprise's legal representative withdraw".

identity_proof_failures counts the wrong identity proofs of a download of the legal
representative's unmasked data, so that download is no oracle for guessing ID numbers
(service/app/personal_data_access.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.adapters.storage.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("opened_by", sa.String(160), nullable=False),
        sa.Column("open_time", UtcDateTime, nullable=False),
        sa.Column("deadline", UtcDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(160), nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("answer_time", UtcDateTime),
    )
    op.create_index("ix_data_requests_state_deadline", "data_requests", ["state", "deadline"])
    op.create_index("ix_data_requests_uscc_kind", "data_requests", ["uscc", "kind", "state"])
    op.create_table(
        "identity_proof_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("attempt_time", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_identity_proof_failures_uscc_time",
        "identity_proof_failures",
        ["uscc", "attempt_time"],
    )


def downgrade() -> None:
    op.drop_table("identity_proof_failures")
    op.drop_table("data_requests")
