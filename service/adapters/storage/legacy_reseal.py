"""Legal-representative values sealed before per-enterprise keys, sealed again under them.

Until per-enterprise keys (subject_keys.py), every value was sealed with the service's PII
key (format 1). Such a value still opens, but its digest is not comparable with one made
under the enterprise's key: a registry record sealed then would never match a request
sealed now. So the migration step of the application (bootstrap) seals every format-1
value of a legal representative again, in batches, each batch one transaction per table,
until none is left: safe to stop and run again. A table done is marked (data_marks) and
never scanned again. Shareholders keep the service key.

Backups taken before this ran hold format-1 values, readable with the service key while it
exists: rotate the PII key once this is done (`integrity-ops keys`) and retire the old one
when those backups have aged out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.pii_vault import AesGcmVault
from service.adapters.storage.engine import read_connection, write_transaction
from service.adapters.storage.tables import data_marks, registry_records, verifications
from service.adapters.subject_keys import SubjectKeyring
from service.domain.sealed import PiiKind, SealedValue

log = structlog.get_logger(__name__)

BATCH = 500
_LEGACY = b"\x01"
# (column prefix, kind, whether a digest is kept)
_REGISTRY = (
    ("legal_rep_name", PiiKind.PERSON_NAME, True),
    ("legal_rep_id", PiiKind.ID_NUMBER, True),
)
_VERIFICATIONS = (*_REGISTRY, ("auth_granted_by", PiiKind.PERSON_NAME, False))


async def reseal_registry(
    registry_engine: AsyncEngine, vault: AesGcmVault, keys: SubjectKeyring
) -> int:
    """The registry snapshot's legal representatives; how many rows were sealed again."""
    return await _all(registry_engine, registry_records, "uscc", _REGISTRY, vault, keys)


async def reseal_verifications(
    engine: AsyncEngine, vault: AesGcmVault, keys: SubjectKeyring
) -> int:
    """The verifications' legal representatives and grantors; how many rows."""
    return await _all(engine, verifications, "id", _VERIFICATIONS, vault, keys)


async def _all(
    engine: AsyncEngine,
    table: Table,
    key: str,
    columns: Sequence[tuple[str, PiiKind, bool]],
    vault: AesGcmVault,
    keys: SubjectKeyring,
) -> int:
    mark = f"resealed:{table.name}"
    async with read_connection(engine) as connection:
        if await connection.scalar(select(data_marks.c.name).where(data_marks.c.name == mark)):
            return 0
    total = 0
    while True:
        done = await _batch(engine, table, key, columns, vault, keys)
        total += done
        if done < BATCH:
            break
    if total:
        log.info("personal_data_resealed", table=table.name, rows=total)
    try:
        async with write_transaction(engine) as connection:
            await connection.execute(data_marks.insert().values(name=mark, mark_time=keys.now()))
    except IntegrityError:
        pass  # another process finished it too
    return total


async def _batch(
    engine: AsyncEngine,
    table: Table,
    key: str,
    columns: Sequence[tuple[str, PiiKind, bool]],
    vault: AesGcmVault,
    keys: SubjectKeyring,
) -> int:
    legacy = [func.substr(table.c[f"{prefix}_ct"], 1, 1) == _LEGACY for prefix, _, _ in columns]
    wanted = [table.c[key], table.c.uscc, *(table.c[f"{p}_ct"] for p, _, _ in columns)]
    async with write_transaction(engine) as connection:
        rows = list(await connection.execute(select(*wanted).where(or_(*legacy)).limit(BATCH)))
        if not rows:
            return 0
        sealers = await keys.sealers({row.uscc for row in rows})
        for row in rows:
            values: dict[str, Any] = {}
            for prefix, kind, digested in columns:
                sealed = row._mapping[f"{prefix}_ct"]
                if not sealed or sealed[:1] != _LEGACY:
                    continue
                plain = vault.open(SealedValue(kind, sealed, b"", ""))
                again = sealers[row.uscc].seal(kind, plain)
                values[f"{prefix}_ct"] = again.ciphertext
                if digested:
                    values[f"{prefix}_digest"] = again.digest
            await connection.execute(
                update(table).where(table.c[key] == row._mapping[key]).values(**values)
            )
    return len(rows)
