"""Who granted an authorisation is personal data: encrypt it.

Revision ID: 0006
Revises: 0004

Existing rows are encrypted here, in the same transaction that drops the clear-text
column, so no database is ever left with some rows in clear text: the migration runner
hands over the PII vault (config attribute "pii_vault"), and a database that holds
verifications refuses to migrate without it. Downgrading decrypts the same way.

On PostgreSQL, earlier versions of the rows (dead tuples) keep the clear text on disk until
the table is rewritten: run VACUUM FULL verifications after the upgrade.
"""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa
from alembic import context, op

from service.domain.sealed import PiiKind, SealedValue

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 500
_verifications = sa.table(
    "verifications",
    sa.column("id", sa.String),
    sa.column("auth_granted_by", sa.Text),
    sa.column("auth_granted_by_ct", sa.LargeBinary),
    sa.column("auth_granted_by_masked", sa.Text),
)


class _Vault(Protocol):
    def seal(self, kind: PiiKind, plaintext: str) -> SealedValue: ...

    def open(self, sealed: SealedValue) -> str: ...


def _vault(connection: sa.Connection) -> _Vault | None:
    vault: _Vault | None = context.config.attributes.get("pii_vault")
    if (
        vault is None
        and connection.execute(sa.select(sa.func.count()).select_from(_verifications)).scalar_one()
    ):
        raise RuntimeError(
            "migration 0006 encrypts who granted each stored authorisation and needs the "
            "PII keys: run it through the service (integrity-ops migrate with the keys file)"
        )
    return vault


def _rewrite(connection: sa.Connection, convert: Any, source: str) -> None:
    """Page through the rows by id, converting each one's value."""
    last = ""
    while True:
        rows = connection.execute(
            sa.select(_verifications.c.id, *(_verifications.c[name] for name in source.split()))
            .where(_verifications.c.id > last)
            .order_by(_verifications.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            connection.execute(
                _verifications.update().where(_verifications.c.id == row[0]).values(**convert(row))
            )
        last = rows[-1][0]


def upgrade() -> None:
    connection = op.get_bind()
    vault = _vault(connection)
    if connection.dialect.name == "sqlite":
        # Zero what the rewrite frees, so the clear text does not linger in free pages.
        connection.exec_driver_sql("PRAGMA secure_delete=ON")
    with op.batch_alter_table("verifications") as batch:
        batch.add_column(sa.Column("auth_granted_by_ct", sa.LargeBinary))
        batch.add_column(sa.Column("auth_granted_by_masked", sa.Text))
        batch.alter_column("auth_granted_by", existing_type=sa.Text, nullable=True)

    def seal(row: Any) -> dict[str, Any]:
        assert vault is not None
        sealed = vault.seal(PiiKind.PERSON_NAME, row[1])
        # Cleared in the same update: PostgreSQL keeps a dropped column's values in the
        # live rows until they are rewritten.
        return {
            "auth_granted_by_ct": sealed.ciphertext,
            "auth_granted_by_masked": sealed.masked,
            "auth_granted_by": None,
        }

    if vault is not None:
        _rewrite(op.get_bind(), seal, "auth_granted_by")
    with op.batch_alter_table("verifications") as batch:
        batch.alter_column("auth_granted_by_ct", existing_type=sa.LargeBinary, nullable=False)
        batch.alter_column("auth_granted_by_masked", existing_type=sa.Text, nullable=False)
        batch.drop_column("auth_granted_by")


def downgrade() -> None:
    vault = _vault(op.get_bind())
    with op.batch_alter_table("verifications") as batch:
        batch.add_column(sa.Column("auth_granted_by", sa.Text))

    def unseal(row: Any) -> dict[str, Any]:
        assert vault is not None
        sealed = SealedValue(PiiKind.PERSON_NAME, row[1], b"", row[2])
        return {"auth_granted_by": vault.open(sealed)}

    if vault is not None:
        _rewrite(op.get_bind(), unseal, "auth_granted_by_ct auth_granted_by_masked")
    with op.batch_alter_table("verifications") as batch:
        batch.alter_column("auth_granted_by", existing_type=sa.Text, nullable=False)
        batch.drop_column("auth_granted_by_masked")
        batch.drop_column("auth_granted_by_ct")
