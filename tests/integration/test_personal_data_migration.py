"""Migration 0006 encrypts who granted each authorisation already stored, on both backends."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from importlib import resources
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Column, Connection, MetaData, Table, Text, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from clients import AsyncIntegrityClient
from service.adapters.pii_vault import AesGcmVault
from service.adapters.registry_snapshot import record_from_row
from service.adapters.storage.engine import create_engine
from service.adapters.storage.migrate import MIGRATIONS, migrate
from service.adapters.storage.tables import archive_facts, registry_records, verifications
from service.adapters.storage.verification_rows import granted_by_from_row, verification_to_row
from service.app.registry_import import RegistryImporter
from service.app.resource_names import verification_name
from service.bootstrap import DEFAULT_SCORECARD, bootstrap, build_server
from service.domain.callers import CallerKind
from service.domain.sealed import PiiKind, SealedLegalRepresentative
from service.domain.verification import (
    Authorisation,
    AuthorisationScope,
    Decision,
    LicenceSubmission,
    Outcome,
    Verification,
)
from service.settings import PiiKeys, Settings
from tests.builders import import_rows, new_id_number, new_uscc, registry_row

GRANTOR = "诸葛孔明"
HOLDER = "慕容复"
CREATED = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)
_NEW_COLUMNS = {"auth_granted_by_ct", "auth_granted_by_masked"}
# Added by 0007, after the revisions this module is about.
_LATER_COLUMNS = {"update_time", "recheck_time", "recheck_attempts", "pending_since", "check_time"}
NAME_KEY = "name_normalised VARCHAR(200)"

# The verifications table as revisions before 0006 left it: who granted in clear text.
legacy_verifications = Table(
    "verifications",
    MetaData(),
    *(
        column._copy()
        for column in verifications.columns
        if column.name not in _NEW_COLUMNS | _LATER_COLUMNS
    ),
    Column("auth_granted_by", Text, nullable=False),
)


USCC = new_uscc()
HOLDING = {"name": HOLDER, "kind": "natural_person", "subscribed_capital": "1", "ratio": "1"}


async def store_names_in_clear(connection: AsyncConnection) -> None:
    """What revision 0004's importer wrote: natural persons' names as registered."""
    legacy = [{"name": HOLDER, "kind": "natural_person", "subscribed_capital": "1", "ratio": "1"}]
    changes = [
        {"date": "2020-01-01", "item": "法定代表人变更", "before": HOLDER, "after": "王小明"}
    ]
    await connection.execute(update(registry_records).values(shareholders=legacy, changes=changes))
    for fact_id, payload in (
        await connection.execute(
            select(archive_facts.c.id, archive_facts.c.payload).where(
                archive_facts.c.kind == "registry"
            )
        )
    ).all():
        clear = payload | {
            "shareholders": [[HOLDER, "natural_person", "1", "1"]],
            "changes": [["2020-01-01", "法定代表人变更", HOLDER, "王小明"]],
        }
        await connection.execute(
            update(archive_facts).where(archive_facts.c.id == fact_id).values(payload=clear)
        )


def vault_of(keys: PiiKeys) -> AesGcmVault:
    return AesGcmVault(keys.encryption_keys, keys.active_key_id, keys.digest_key)


def legacy_row(vault: AesGcmVault, caller: str) -> dict[str, object]:
    row = verification_to_row(sample_verification(vault, caller))
    kept = {k: v for k, v in row.items() if k not in _NEW_COLUMNS | _LATER_COLUMNS}
    return kept | {"auth_granted_by": GRANTOR}


def sample_verification(vault: AesGcmVault, caller: str) -> Verification:
    return Verification(
        id=str(uuid.uuid4()),
        caller=caller,
        request_id=str(uuid.uuid4()),
        fingerprint=b"\x00" * 32,
        submission=LicenceSubmission(
            uscc=new_uscc(),
            enterprise_name="杭州云启网络科技有限公司",
            legal_representative=SealedLegalRepresentative(
                vault.seal(PiiKind.PERSON_NAME, "王小明"),
                vault.seal(PiiKind.ID_NUMBER, new_id_number()),
            ),
            registered_address=None,
            term=None,
        ),
        authorisation=Authorisation(
            granted_by=vault.seal(PiiKind.PERSON_NAME, GRANTOR),
            grant_time=CREATED,
            scopes=frozenset({AuthorisationScope.IDENTITY_VERIFICATION}),
            evidence_reference=None,
        ),
        decision=Decision(Outcome.PENDING, (), (), None),
        create_time=CREATED,
    )


async def test_a_row_stored_before_the_upgrade_is_encrypted_and_still_readable(
    empty_database_url: str, pii_keys: PiiKeys, tmp_path: Path
) -> None:
    vault = vault_of(pii_keys)
    engine = create_engine(empty_database_url)
    settings = Settings(
        pii_keys=pii_keys, database_url=empty_database_url, listen_address="127.0.0.1:0"
    )
    try:
        await migrate(engine, vault, revision="0005")
        app = await bootstrap(settings, run_migrations=False)
        try:
            caller, token = await app.credentials.create_caller(
                CallerKind.PLATFORM, "old platform", platform="old-platform"
            )
            packaged = resources.files("service.config.scorecards") / DEFAULT_SCORECARD
            await app.levels.load_scorecard(json.loads(packaged.read_text("utf-8")), shadow=False)
            # Without working out levels: today's level queries read columns that later
            # revisions add.
            importer = RegistryImporter(app.registry, app.vault, app.subject_keys, app.clock)
            # Today's importer also writes the name key migration 0013 adds to archive
            # facts: the column is there for the import only, and goes before the upgrade.
            async with engine.begin() as connection:
                await connection.execute(text(f"ALTER TABLE archive_facts ADD {NAME_KEY}"))
            await importer.run([(1, registry_row(uscc=USCC, shareholders=[HOLDING]))], CREATED)
            async with engine.begin() as connection:
                await connection.execute(text("ALTER TABLE archive_facts DROP name_normalised"))
        finally:
            await app.close()
        row = legacy_row(vault, caller.id)
        async with engine.begin() as connection:
            await connection.execute(legacy_verifications.insert().values(**row))
            await store_names_in_clear(connection)

        # Without the keys the migration refuses, and leaves the row as it was.
        with pytest.raises(RuntimeError, match="PII keys"):
            await migrate(engine)
        async with engine.connect() as connection:
            [kept] = (await connection.execute(select(legacy_verifications))).mappings()
        assert kept["auth_granted_by"] == GRANTOR

        await migrate(engine, vault)
        async with engine.connect() as connection:
            [stored] = (await connection.execute(select(verifications))).mappings()
            columns = (await connection.exec_driver_sql("SELECT * FROM verifications")).keys()
            [record] = (await connection.execute(select(registry_records))).mappings()
            facts = (await connection.execute(select(archive_facts.c.payload))).scalars().all()
        [holder] = record_from_row(record).shareholders
        assert holder.name == "慕**" and holder.sealed_name is not None
        assert vault.open(holder.sealed_name) == HOLDER
        assert [f["shareholders"][0][0] for f in facts] == ["慕**"]
        assert [f["changes"][0][2:] for f in facts] == [["慕**", "王**"]]
        assert [(c["before"], c["after"]) for c in record["changes"]] == [("慕**", "王**")]
        assert HOLDER not in repr(dict(record)) + repr(facts)
        assert "auth_granted_by" not in columns
        assert GRANTOR not in repr(dict(stored))
        assert GRANTOR.encode() not in stored["auth_granted_by_ct"]
        assert vault.open(granted_by_from_row(stored)) == GRANTOR
        if engine.dialect.name == "sqlite":
            await engine.dispose()  # checkpoint nothing away: read the file and its WAL
            database = Path(engine.url.database or "")
            raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
            assert GRANTOR.encode() not in raw
            assert HOLDER.encode() not in raw
    finally:
        await engine.dispose()

    # The service reads the migrated row, showing who granted it masked.
    app = await bootstrap(settings)
    grpc_server, _health = build_server(app)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    try:
        async with AsyncIntegrityClient(f"127.0.0.1:{port}", token=token) as client:
            fetched = await client.get_verification(verification_name(row["uscc"], row["id"]))
        assert fetched.authorization.granted_by == "诸***"
        assert fetched.licence.enterprise_name == "杭州云启网络科技有限公司"
        _ops, ops_token = await app.credentials.create_caller(CallerKind.OPS, "ops")
        async with AsyncIntegrityClient(f"127.0.0.1:{port}", token=ops_token) as ops:
            archive = await ops.get_archive(USCC)
        assert [s.name for s in archive.public_information.shareholders] == ["慕**"]
    finally:
        await grpc_server.stop(None)
        await app.close()


async def test_downgrading_opens_what_the_upgrade_sealed(
    empty_database_url: str, pii_keys: PiiKeys
) -> None:
    vault = vault_of(pii_keys)
    settings = Settings(
        pii_keys=pii_keys, database_url=empty_database_url, listen_address="127.0.0.1:0"
    )
    app = await bootstrap(settings)
    try:
        await import_rows(app, [registry_row(uscc=USCC, shareholders=[HOLDING])])
        async with app.engine.begin() as connection:
            row = verification_to_row(sample_verification(vault, "caller-1"))
            await connection.execute(verifications.insert().values(**row))
    finally:
        await app.close()

    def downgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        config.attributes["pii_vault"] = vault
        command.downgrade(config, "0005")

    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with engine.connect() as connection:
            [stored] = (await connection.execute(select(legacy_verifications))).mappings()
            [record] = (await connection.execute(select(registry_records))).mappings()
    finally:
        await engine.dispose()
    assert stored["auth_granted_by"] == GRANTOR
    assert record["shareholders"][0]["name"] == HOLDER
    assert "name_ct" not in record["shareholders"][0]
