"""One dispute at a time per item: a second while the first is unanswered is refused.

Revision ID: 0016
Revises: 0015

A merchant submitting the dispute form twice, or two of its users disputing the same
record, would otherwise leave ops two disputes to answer for one objection. The partial
unique index decides it in the database, so concurrent submissions cannot both land.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_PENDING = "state IN ('open', 'in_review')"


def upgrade() -> None:
    op.create_index(
        "uq_disputes_pending_item",
        "disputes",
        ["uscc", "item"],
        unique=True,
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )


def downgrade() -> None:
    op.drop_index("uq_disputes_pending_item", table_name="disputes")
