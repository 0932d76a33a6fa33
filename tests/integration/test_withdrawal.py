"""Withdrawal of the legal representative's authorisation, on both backends, over gRPC.

It takes effect at once: new verifications on the withdrawn authorisation are refused with
a reason of their own, existing ones are never decided on the person's data again, and
archives leave the person out. And it destroys the data: the database keeps nothing of it,
and a backup of the database taken before the withdrawal (SQLite's online backup, or
pg_dump) restored beside it cannot be read either, though the service's keys file is at
hand: the keys that sealed it are gone from the key store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from integrity.v1 import verification_pb2
from sqlalchemy import select
from sqlalchemy.engine import make_url

from clients import AsyncIntegrityClient, IntegrityCallError
from service.adapters.pii_vault import VaultError
from service.adapters.storage.tables import registry_records, verifications
from service.adapters.storage.verification_rows import granted_by_from_row
from service.adapters.subject_keys import PersonalDataDestroyed
from service.bootstrap import Application, bootstrap
from service.domain.callers import CallerKind, Viewer, ViewerKind
from service.domain.data_requests import RequestKind, RequestState
from service.domain.sealed import PiiKind, SealedValue
from service.settings import Settings
from tests.builders import GRANT_TIME, import_rows, new_id_number, registry_row, verification_for
from tests.conftest import PG_ADMIN_DSN, _admin, drop_database, serving

ID_NUMBER = new_id_number()
REP_NAME = "王小明"


@pytest.fixture
async def backup_url(settings: Settings) -> AsyncIterator[str]:
    """Where the backup taken before the withdrawal is restored."""
    if settings.database_url.startswith("sqlite"):
        path = Path(make_url(settings.database_url).database or "").with_name("backup.db")
        yield f"sqlite:///{path}"
        return
    name = f"integrity_backup_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        await drop_database(name)


def _back_up(database_url: str, backup_url: str) -> None:
    """As ops back the database up while it serves."""
    if database_url.startswith("sqlite"):
        source = sqlite3.connect(make_url(database_url).database or "")
        target = sqlite3.connect(make_url(backup_url).database or "")
        with target:
            source.backup(target)
        source.close()
        target.close()
        return
    dump = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", database_url],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["pg_restore", "--no-owner", "--dbname", backup_url], input=dump.stdout, check=True
    )


def _sealed(row: object, prefix: str, kind: PiiKind) -> SealedValue:
    values = row._mapping  # type: ignore[attr-defined]
    return SealedValue(
        kind, values[f"{prefix}_ct"], values[f"{prefix}_digest"], values[f"{prefix}_masked"]
    )


async def _personal_values(app: Application) -> list[SealedValue]:
    """Every legal-representative value the database holds, as stored."""
    async with app.engine.connect() as connection:
        rows = list(await connection.execute(select(verifications)))
        records = list(await connection.execute(select(registry_records)))
    found = []
    for row in rows:
        found.append(_sealed(row, "legal_rep_name", PiiKind.PERSON_NAME))
        found.append(_sealed(row, "legal_rep_id", PiiKind.ID_NUMBER))
        found.append(granted_by_from_row(row._mapping))
    for record in records:
        found.append(_sealed(record, "legal_rep_name", PiiKind.PERSON_NAME))
        found.append(_sealed(record, "legal_rep_id", PiiKind.ID_NUMBER))
    return found


async def test_a_withdrawal_stops_processing_and_leaves_no_readable_copy(
    app: Application, settings: Settings, backup_url: str
) -> None:
    row = registry_row(legal_representative={"name": REP_NAME, "id_number": ID_NUMBER})
    uscc = str(row["uscc"])
    await import_rows(app, [row])
    merchant = Viewer(ViewerKind.MERCHANT, "demo:owner", merchant_uscc=uscc)
    _caller, gateway = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    async with (
        serving(app) as server,
        AsyncIntegrityClient(server.target, token=server.token) as platform,
        AsyncIntegrityClient(
            server.target, token=gateway, on_behalf_of=f"merchant:{uscc}:owner"
        ) as own,
    ):
        verified = await platform.create_verification(verification_for(row))
        assert verified.outcome == verification_pb2.VERIFICATION_OUTCOME_VERIFIED
        shown = await own.get_archive(uscc)  # the merchant sees its legal representative
        assert shown.public_information.legal_representative.name == "王**"
        before = await _personal_values(app)
        assert {await app.subject_keys.open(v) for v in before} == {REP_NAME, ID_NUMBER}
        _back_up(settings.database_url, backup_url)

        withdrawal = await app.data_rights.open(
            merchant, f"enterprises/{uscc}", RequestKind.WITHDRAWAL, ""
        )
        assert withdrawal.state is RequestState.COMPLETED and withdrawal.answer

        # Nothing of the person is left in the database: not a ciphertext, not a
        # digest, not a masked form.
        after = await _personal_values(app)
        assert after and all(v.destroyed and not v.masked for v in after)

        # The backup taken before: ciphertexts under keys that no longer exist.
        restored = await bootstrap(
            dataclasses.replace(settings, database_url=backup_url), clock=app.clock
        )
        try:
            copies = await _personal_values(restored)
            assert copies and not any(v.destroyed for v in copies)
            for sealed in copies:
                with pytest.raises(PersonalDataDestroyed):
                    await restored.subject_keys.open(sealed)
                with pytest.raises(VaultError):  # nor with the service key alone
                    restored.vault.open(sealed)
        finally:
            await restored.close()

        # A verification on the authorisation that was withdrawn is refused.
        with pytest.raises(IntegrityCallError) as refused:
            await platform.create_verification(verification_for(row))
        assert refused.value.code.name == "FAILED_PRECONDITION"
        assert refused.value.reason == "LEGAL_REPRESENTATIVE_AUTHORISATION_WITHDRAWN"

        # The one that exists was decided again at the withdrawal, without the person:
        # rejected, told apart from a mismatch, nothing sent anywhere, and kept as history.
        current = await platform.get_verification(verified.name)
        assert current.outcome == verification_pb2.VERIFICATION_OUTCOME_REJECTED
        assert [r.code for r in current.reasons] == [
            verification_pb2.VERIFICATION_REASON_CODE_LEGAL_REPRESENTATIVE_AUTHORISATION_WITHDRAWN
        ]
        assert current.licence.legal_representative.name == ""
        assert [h.trigger for h in current.history] == ["create", "personal_data_destroyed"]

        # Archives leave the person out: the authorisation no longer speaks for them.
        archive = await own.get_archive(uscc)
        withheld = {w.field_group for w in archive.withheld_fields}
        assert "public.legal_representative" in withheld
        assert not archive.public_information.legal_representative.name

        # A fresh authorisation, granted after the withdrawal, is processed again under
        # a new key; the registry's record of the person is read again first.
        fresh = verification_for(row, granted_at=app.clock.now() + dt.timedelta(seconds=1))
        app.clock.set(app.clock.now() + dt.timedelta(seconds=2))  # type: ignore[attr-defined]
        pending = await platform.create_verification(fresh)
        assert pending.outcome == verification_pb2.VERIFICATION_OUTCOME_PENDING
        assert [r.code for r in pending.reasons] == [
            verification_pb2.VERIFICATION_REASON_CODE_LEGAL_REPRESENTATIVE_NOT_AVAILABLE
        ]
        await import_rows(app, [row])
        await app.rechecks.recheck_enterprise(uscc, trigger="batch", key="re-imported")
        again = await platform.get_verification(pending.name)
        assert again.outcome == verification_pb2.VERIFICATION_OUTCOME_VERIFIED
    assert withdrawal.open_time > GRANT_TIME
