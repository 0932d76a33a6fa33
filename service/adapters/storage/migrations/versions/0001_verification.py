"""Registry snapshot and verifications.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from service.adapters.storage.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "registry_records",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_normalised", sa.Text, nullable=False),
        sa.Column("enterprise_type", sa.Text, nullable=False),
        sa.Column("legal_rep_name_ct", sa.LargeBinary, nullable=False),
        sa.Column("legal_rep_name_digest", sa.LargeBinary, nullable=False),
        sa.Column("legal_rep_name_masked", sa.Text, nullable=False),
        sa.Column("legal_rep_id_ct", sa.LargeBinary),
        sa.Column("legal_rep_id_digest", sa.LargeBinary),
        sa.Column("legal_rep_id_masked", sa.Text),
        sa.Column("registered_capital", sa.Text),
        sa.Column("capital_currency", sa.String(3), nullable=False),
        sa.Column("establishment_date", sa.Date, nullable=False),
        sa.Column("term_start", sa.Date),
        sa.Column("term_end", sa.Date),
        sa.Column("term_open_ended", sa.Boolean, nullable=False),
        sa.Column("registration_authority", sa.Text, nullable=False),
        sa.Column("approval_date", sa.Date),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("business_scope", sa.Text, nullable=False),
        sa.Column("shareholders", Json, nullable=False),
        sa.Column("changes", Json, nullable=False),
        sa.Column("snapshot_time", UtcDateTime, nullable=False),
        sa.Column("content_digest", sa.LargeBinary, nullable=False),
        sa.Column("import_time", UtcDateTime, nullable=False),
    )
    op.create_index("ix_registry_records_name_normalised", "registry_records", ["name_normalised"])
    op.create_table(
        "verifications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("caller", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary, nullable=False),
        sa.Column("enterprise_name", sa.Text, nullable=False),
        sa.Column("legal_rep_name_ct", sa.LargeBinary, nullable=False),
        sa.Column("legal_rep_name_digest", sa.LargeBinary, nullable=False),
        sa.Column("legal_rep_name_masked", sa.Text, nullable=False),
        sa.Column("legal_rep_id_ct", sa.LargeBinary, nullable=False),
        sa.Column("legal_rep_id_digest", sa.LargeBinary, nullable=False),
        sa.Column("legal_rep_id_masked", sa.Text, nullable=False),
        sa.Column("registered_address", sa.Text),
        sa.Column("term_start", sa.Date),
        sa.Column("term_end", sa.Date),
        sa.Column("term_open_ended", sa.Boolean),
        sa.Column("auth_granted_by", sa.Text, nullable=False),
        sa.Column("auth_grant_time", UtcDateTime, nullable=False),
        sa.Column("auth_scopes", Json, nullable=False),
        sa.Column("auth_evidence_reference", sa.Text),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reasons", Json, nullable=False),
        sa.Column("field_checks", Json, nullable=False),
        sa.Column("registry_summary", Json),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.UniqueConstraint("caller", "request_id", name="uq_verifications_caller_request"),
    )
    op.create_index("ix_verifications_uscc_time", "verifications", ["uscc", "create_time", "id"])


def downgrade() -> None:
    op.drop_table("verifications")
    op.drop_table("registry_records")
