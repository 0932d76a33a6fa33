"""Verification history, the PENDING re-check schedule, applied re-checks, the outbox.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from service.adapters.storage.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("verifications", sa.Column("update_time", UtcDateTime))
    op.add_column("verifications", sa.Column("recheck_time", UtcDateTime))
    op.add_column(
        "verifications",
        sa.Column("recheck_attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.add_column("verifications", sa.Column("pending_since", UtcDateTime))
    op.create_index("ix_verifications_recheck_time", "verifications", ["recheck_time"])
    op.create_table(
        "verification_history",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column(
            "verification_id", sa.String(36), sa.ForeignKey("verifications.id"), nullable=False
        ),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reasons", Json, nullable=False),
        sa.Column("field_checks", Json, nullable=False),
        sa.Column("registry_summary", Json),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("change_time", UtcDateTime, nullable=False),
        sa.UniqueConstraint("verification_id", "sequence", name="uq_verification_history_sequence"),
        sa.UniqueConstraint(
            "verification_id", "idempotency_key", name="uq_verification_history_key"
        ),
    )
    op.create_table(
        "enterprise_rechecks",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("idempotency_key", sa.String(128), primary_key=True),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("result", Json, nullable=False),
        sa.Column("recheck_time", UtcDateTime, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("aggregate_type", sa.String(32), nullable=False),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("dispatch_time", UtcDateTime),
    )
    op.create_index(
        "ix_outbox_undispatched",
        "outbox",
        ["create_time"],
        sqlite_where=sa.text("dispatch_time IS NULL"),
        postgresql_where=sa.text("dispatch_time IS NULL"),
    )
    _backfill()


def _backfill() -> None:
    """Each verification made before this revision gets its first history entry, its
    decision time, and, if PENDING, a schedule that is due at once: nobody asked the
    registry about it again so far."""
    verifications = sa.table(
        "verifications",
        sa.column("id"),
        sa.column("request_id"),
        sa.column("outcome"),
        sa.column("reasons", Json),
        sa.column("field_checks", Json),
        sa.column("registry_summary", Json),
        sa.column("create_time", UtcDateTime),
        sa.column("update_time", UtcDateTime),
        sa.column("recheck_time", UtcDateTime),
        sa.column("pending_since", UtcDateTime),
    )
    history = sa.table(
        "verification_history",
        sa.column("verification_id"),
        sa.column("sequence"),
        sa.column("outcome"),
        sa.column("reasons", Json),
        sa.column("field_checks", Json),
        sa.column("registry_summary", Json),
        sa.column("trigger"),
        sa.column("idempotency_key"),
        sa.column("change_time", UtcDateTime),
    )
    v = verifications.c
    op.execute(
        history.insert().from_select(
            [c.name for c in history.c],
            sa.select(
                v.id,
                sa.literal(1),
                v.outcome,
                v.reasons,
                v.field_checks,
                v.registry_summary,
                sa.literal("create"),
                v.request_id,
                v.create_time,
            ),
        )
    )
    op.execute(verifications.update().values(update_time=v.create_time))
    op.execute(
        verifications.update()
        .where(v.outcome == "pending")
        .values(recheck_time=v.create_time, pending_since=v.create_time)
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_undispatched", "outbox")
    op.drop_table("outbox")
    op.drop_table("enterprise_rechecks")
    op.drop_table("verification_history")
    op.drop_index("ix_verifications_recheck_time", "verifications")
    for column in ("pending_since", "recheck_attempts", "recheck_time", "update_time"):
        op.drop_column("verifications", column)
