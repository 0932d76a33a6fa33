"""The registry port over a local snapshot imported from registry files.

The snapshot may live in the service's own database or in another one
(INTEGRITY_REGISTRY_URL). Any failure to read it is "registry unavailable", never
"no record": the caller must not turn an outage into a mismatch.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.facts import append_facts
from service.adapters.storage.tables import registry_records
from service.app.ports import RegistryUnavailable
from service.app.registry_import import WriteCounts
from service.domain.archive import Fact, registry_fact
from service.domain.licence import LicenceTerm, RegistrationStatus
from service.domain.names import normalise_name
from service.domain.registry import ChangeRecord, RegistryRecord, Shareholder, ShareholderKind
from service.domain.sealed import PiiKind, SealedLegalRepresentative, SealedValue


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def shareholder_to_json(shareholder: Shareholder) -> dict[str, Any]:
    document = {
        "name": shareholder.name,
        "kind": shareholder.kind.value,
        "subscribed_capital": _decimal_text(shareholder.subscribed_capital),
        "ratio": _decimal_text(shareholder.ratio),
    }
    if shareholder.sealed_name is not None:
        # JSON holds no bytes: the ciphertext goes in base64.
        document["name_ct"] = base64.b64encode(shareholder.sealed_name.ciphertext).decode()
    return document


def shareholder_from_json(document: Mapping[str, Any]) -> Shareholder:
    sealed = None
    if document.get("name_ct"):
        ciphertext = base64.b64decode(document["name_ct"])
        sealed = SealedValue(PiiKind.PERSON_NAME, ciphertext, b"", document["name"])
    return Shareholder(
        document["name"],
        ShareholderKind(document["kind"]),
        _optional_decimal(document["subscribed_capital"]),
        _optional_decimal(document["ratio"]),
        sealed,
    )


def record_to_row(
    record: RegistryRecord, content_digest: bytes, import_time: dt.datetime
) -> dict[str, Any]:
    rep = record.legal_representative
    return {
        "uscc": record.uscc,
        "name": record.name,
        "name_normalised": normalise_name(record.name),
        "enterprise_type": record.enterprise_type,
        "legal_rep_name_ct": rep.name.ciphertext,
        "legal_rep_name_digest": rep.name.digest,
        "legal_rep_name_masked": rep.name.masked,
        "legal_rep_id_ct": rep.id_number.ciphertext if rep.id_number else None,
        "legal_rep_id_digest": rep.id_number.digest if rep.id_number else None,
        "legal_rep_id_masked": rep.id_number.masked if rep.id_number else None,
        "registered_capital": _decimal_text(record.registered_capital),
        "capital_currency": record.capital_currency,
        "establishment_date": record.establishment_date,
        "term_start": record.term.start,
        "term_end": record.term.end,
        "term_open_ended": record.term.open_ended,
        "registration_authority": record.registration_authority,
        "approval_date": record.approval_date,
        "status": record.status.value,
        "address": record.address,
        "business_scope": record.business_scope,
        "shareholders": [shareholder_to_json(s) for s in record.shareholders],
        "changes": [
            {"date": c.date.isoformat(), "item": c.item, "before": c.before, "after": c.after}
            for c in record.changes
        ],
        "snapshot_time": record.snapshot_time,
        "content_digest": content_digest,
        "import_time": import_time,
    }


def _optional_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def record_from_row(row: RowMapping) -> RegistryRecord:
    id_number = None
    if row["legal_rep_id_ct"] is not None:
        id_number = SealedValue(
            PiiKind.ID_NUMBER,
            row["legal_rep_id_ct"],
            row["legal_rep_id_digest"],
            row["legal_rep_id_masked"],
        )
    return RegistryRecord(
        uscc=row["uscc"],
        name=row["name"],
        enterprise_type=row["enterprise_type"],
        legal_representative=SealedLegalRepresentative(
            name=SealedValue(
                PiiKind.PERSON_NAME,
                row["legal_rep_name_ct"],
                row["legal_rep_name_digest"],
                row["legal_rep_name_masked"],
            ),
            id_number=id_number,
        ),
        registered_capital=_optional_decimal(row["registered_capital"]),
        capital_currency=row["capital_currency"],
        establishment_date=row["establishment_date"],
        term=LicenceTerm(row["term_start"], row["term_end"], bool(row["term_open_ended"])),
        registration_authority=row["registration_authority"],
        approval_date=row["approval_date"],
        status=RegistrationStatus(row["status"]),
        address=row["address"],
        business_scope=row["business_scope"],
        shareholders=tuple(shareholder_from_json(s) for s in row["shareholders"]),
        changes=tuple(
            ChangeRecord(dt.date.fromisoformat(c["date"]), c["item"], c["before"], c["after"])
            for c in row["changes"]
        ),
        snapshot_time=row["snapshot_time"],
    )


class SqlRegistrySnapshot:
    def __init__(self, engine: AsyncEngine, archive_engine: AsyncEngine | None = None) -> None:
        self._engine = engine
        # Where the archive keeps its facts: the service's database, which may not be the
        # snapshot's.
        self._archive_engine = archive_engine or engine

    async def lookup(self, uscc: str, within_seconds: float | None = None) -> RegistryRecord | None:
        # One read of our own database: the caller's timeout bounds it (registry_check.py).
        del within_seconds
        try:
            async with read_connection(self._engine) as connection:
                query = select(registry_records).where(registry_records.c.uscc == uscc)
                row = (await connection.execute(query)).mappings().first()
        except Exception as exc:
            # Whatever stops us reading (driver errors on connect are not even SQLAlchemy's)
            # means the registry cannot say, which is not the same as "no record".
            raise RegistryUnavailable(type(exc).__name__) from exc
        return record_from_row(row) if row else None

    async def write_batch(
        self,
        records: Sequence[tuple[RegistryRecord, bytes]],
        import_time: dt.datetime,
    ) -> WriteCounts:
        """Insert new records, replace changed ones, leave identical and older ones alone."""
        if not records:
            return WriteCounts()
        inserted = updated = unchanged = stale = 0
        async with write_transaction(self._engine) as connection:
            usccs = [record.uscc for record, _ in records]
            query = select(
                registry_records.c.uscc,
                registry_records.c.content_digest,
                registry_records.c.snapshot_time,
            ).where(registry_records.c.uscc.in_(usccs))
            existing = {row.uscc: row for row in await connection.execute(query)}
            new_rows: list[dict[str, Any]] = []
            changed_rows: list[dict[str, Any]] = []
            facts: list[Fact] = []
            for record, digest in records:
                held = existing.get(record.uscc)
                if held is None:
                    new_rows.append(record_to_row(record, digest, import_time))
                    facts.append(registry_fact(record))
                    inserted += 1
                elif held.content_digest == digest:
                    unchanged += 1
                elif held.snapshot_time > record.snapshot_time:
                    stale += 1
                else:
                    row = record_to_row(record, digest, import_time)
                    row["match_uscc"] = row.pop("uscc")
                    changed_rows.append(row)
                    facts.append(registry_fact(record))
                    updated += 1
            if self._archive_engine is not self._engine:
                # Facts first, in their own database: if the snapshot write then fails, a
                # re-import finds the facts already current and writes only the rows.
                async with write_transaction(self._archive_engine) as archive:
                    await append_facts(archive, facts, import_time, source="registry")
            if new_rows:
                await connection.execute(registry_records.insert(), new_rows)
            if changed_rows:
                await connection.execute(
                    registry_records.update().where(
                        registry_records.c.uscc == bindparam("match_uscc")
                    ),
                    changed_rows,
                )
            if self._archive_engine is self._engine:
                # The archive's history of the registry record, in the same transaction.
                await append_facts(connection, facts, import_time, source="registry")
        changed = tuple(fact.uscc for fact in facts)
        return WriteCounts(inserted, updated, unchanged, stale, changed)
