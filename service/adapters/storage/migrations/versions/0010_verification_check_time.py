"""When each verification was last checked against the registry.

A re-check that confirms the current decision changes nothing else on the verification,
so without this a not-verified-within selection picked the same enterprises every time.
Existing verifications were last checked when last decided.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.adapters.storage.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("verifications", sa.Column("check_time", UtcDateTime))
    op.execute("UPDATE verifications SET check_time = COALESCE(update_time, create_time)")


def downgrade() -> None:
    op.drop_column("verifications", "check_time")
