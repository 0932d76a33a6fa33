"""Names of people that were kept in clear text: encrypt them.

Revision ID: 0006
Revises: 0005

Who granted an authorisation (verifications.auth_granted_by) becomes ciphertext and masked
form. Natural-person shareholders in registry records get their name sealed (ciphertext in
base64, since the shareholders are JSON) and masked; in archive facts, which never need the
full name, masked only, in every version. Registered changes that name people (legal
representative, investors, directors...) keep their values with the names masked.

Existing rows are encrypted here, in the same transaction that changes the schema, so no
database is ever left half in clear text: the migration runner hands over the PII vault
(config attribute "pii_vault"), and a database holding verifications or registry records
refuses to migrate without it. Downgrading decrypts what was sealed; archive facts keep
the masked names.

On PostgreSQL, earlier versions of the rows (dead tuples) keep the clear text on disk until
the tables are rewritten: run VACUUM FULL on verifications, registry_records and
archive_facts after the upgrade.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from service.domain.masking import change_names_people, mask_names_in, mask_person_name
from service.domain.sealed import PiiKind, SealedValue

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
_BATCH = 500
_PERSON = "natural_person"
_verifications = sa.table(
    "verifications",
    sa.column("id", sa.String),
    sa.column("auth_granted_by", sa.Text),
    sa.column("auth_granted_by_ct", sa.LargeBinary),
    sa.column("auth_granted_by_masked", sa.Text),
)
_registry_records = sa.table(
    "registry_records",
    sa.column("uscc", sa.String),
    sa.column("shareholders", Json),
    sa.column("changes", Json),
)
_archive_facts = sa.table(
    "archive_facts",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("payload", Json),
)


class _Vault(Protocol):
    def seal(self, kind: PiiKind, plaintext: str) -> SealedValue: ...

    def open(self, sealed: SealedValue) -> str: ...


Row = Any
Convert = Callable[[Row], dict[str, Any] | None]


def _vault(connection: sa.Connection) -> _Vault:
    vault: _Vault | None = context.config.attributes.get("pii_vault")
    if vault is not None:
        return vault
    for table in (_verifications, _registry_records):
        if connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
            raise RuntimeError(
                "migration 0006 encrypts names of people already stored and needs the PII "
                "keys: run it through the service (integrity-ops migrate with the keys file)"
            )
    return _NoVault()


class _NoVault:
    """Stands in on an empty database, where nothing is ever sealed or opened."""

    def seal(self, kind: PiiKind, plaintext: str) -> SealedValue:
        raise AssertionError("nothing to seal in an empty database")

    def open(self, sealed: SealedValue) -> str:
        raise AssertionError("nothing to open in an empty database")


def _rewrite(
    connection: sa.Connection,
    table: sa.TableClause,
    columns: list[str],
    convert: Convert,
    where: sa.ColumnElement[bool] | None = None,
) -> None:
    """Page through the rows by key (the first column), updating those convert changes."""
    key = table.c[columns[0]]
    last: Any = None
    while True:
        query = sa.select(*(table.c[name] for name in columns)).order_by(key).limit(_BATCH)
        if where is not None:
            query = query.where(where)
        if last is not None:
            query = query.where(key > last)
        rows = connection.execute(query).all()
        if not rows:
            return
        for row in rows:
            values = convert(row)
            if values is not None:
                connection.execute(table.update().where(key == row[0]).values(**values))
        last = rows[-1][0]


def _masked(item: str, values: dict[str, str]) -> tuple[str, str]:
    """A registered change's before and after, people's names masked where it names them."""
    if not change_names_people(item):
        return values["before"], values["after"]
    return mask_names_in(values["before"]), mask_names_in(values["after"])


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

    def seal_granted_by(row: Row) -> dict[str, Any]:
        sealed = vault.seal(PiiKind.PERSON_NAME, row[1])
        # Cleared in the same update: PostgreSQL keeps a dropped column's values in the
        # live rows until they are rewritten.
        return {
            "auth_granted_by_ct": sealed.ciphertext,
            "auth_granted_by_masked": sealed.masked,
            "auth_granted_by": None,
        }

    _rewrite(connection, _verifications, ["id", "auth_granted_by"], seal_granted_by)
    with op.batch_alter_table("verifications") as batch:
        batch.alter_column("auth_granted_by_ct", existing_type=sa.LargeBinary, nullable=False)
        batch.alter_column("auth_granted_by_masked", existing_type=sa.Text, nullable=False)
        batch.drop_column("auth_granted_by")

    def protect_registry_names(row: Row) -> dict[str, Any] | None:
        changes = [
            change | dict(zip(("before", "after"), _masked(change["item"], change), strict=True))
            for change in row[2]
        ]
        changed = changes != row[2]
        shareholders = []
        for holder in row[1]:
            if holder.get("kind") == _PERSON and "name_ct" not in holder:
                sealed = vault.seal(PiiKind.PERSON_NAME, holder["name"])
                ciphertext = base64.b64encode(sealed.ciphertext).decode()
                holder = holder | {"name": sealed.masked, "name_ct": ciphertext}
                changed = True
            shareholders.append(holder)
        return {"shareholders": shareholders, "changes": changes} if changed else None

    _rewrite(
        connection, _registry_records, ["uscc", "shareholders", "changes"], protect_registry_names
    )

    def mask_fact_names(row: Row) -> dict[str, Any] | None:
        payload = row[1]
        if not payload:
            return None
        shareholders = [
            [mask_person_name(name) if kind == _PERSON else name, kind, *rest]
            for name, kind, *rest in payload["shareholders"]
        ]
        changes = [
            [day, item, *_masked(item, {"before": before, "after": after})]
            for day, item, before, after in payload["changes"]
        ]
        if shareholders == payload["shareholders"] and changes == payload["changes"]:
            return None
        return {"payload": payload | {"shareholders": shareholders, "changes": changes}}

    _rewrite(
        connection,
        _archive_facts,
        ["id", "payload"],
        mask_fact_names,
        _archive_facts.c.kind == "registry",
    )


def downgrade() -> None:
    connection = op.get_bind()
    vault = _vault(connection)

    def open_shareholders(row: Row) -> dict[str, Any] | None:
        shareholders = []
        for holder in row[1]:
            if "name_ct" in holder:
                sealed = SealedValue(
                    PiiKind.PERSON_NAME, base64.b64decode(holder["name_ct"]), b"", holder["name"]
                )
                holder = {k: v for k, v in holder.items() if k != "name_ct"}
                holder["name"] = vault.open(sealed)
            shareholders.append(holder)
        return {"shareholders": shareholders}

    _rewrite(connection, _registry_records, ["uscc", "shareholders"], open_shareholders)

    with op.batch_alter_table("verifications") as batch:
        batch.add_column(sa.Column("auth_granted_by", sa.Text))

    def open_granted_by(row: Row) -> dict[str, Any]:
        sealed = SealedValue(PiiKind.PERSON_NAME, row[1], b"", row[2])
        return {"auth_granted_by": vault.open(sealed)}

    _rewrite(
        connection,
        _verifications,
        ["id", "auth_granted_by_ct", "auth_granted_by_masked"],
        open_granted_by,
    )
    with op.batch_alter_table("verifications") as batch:
        batch.alter_column("auth_granted_by", existing_type=sa.Text, nullable=False)
        batch.drop_column("auth_granted_by_masked")
        batch.drop_column("auth_granted_by_ct")
