"""Values sealed with the service key before per-enterprise keys are sealed again under the
enterprise's key when the application migrates, on both backends: they open as before,
and their digests match a request sealed now."""

from __future__ import annotations

import dataclasses

from sqlalchemy import delete

from service.adapters.storage.tables import data_marks
from service.app.registry_import import sealed_record
from service.bootstrap import Application, bootstrap
from service.domain.licence import china_today
from service.domain.registry_rows import parse_registry_row
from service.domain.sealed import PiiKind
from service.settings import Settings
from tests.builders import SNAPSHOT_TIME, new_id_number, registry_row


async def test_format_1_registry_values_are_sealed_again_on_migration(
    app: Application, settings: Settings
) -> None:
    id_number = new_id_number()
    row = registry_row(legal_representative={"name": "王小明", "id_number": id_number})
    uscc = str(row["uscc"])
    draft = parse_registry_row(row, china_today(app.clock.now()))
    # As an import before per-enterprise keys wrote it: the service key for the person too.
    old = sealed_record(app.vault, app.vault, draft, SNAPSHOT_TIME)  # type: ignore[arg-type]
    await app.registry.write_batch([(old, b"legacy")], app.clock.now())
    stored = await app.registry.lookup(uscc)
    assert stored is not None and stored.legal_representative.name.ciphertext[:1] == b"\x01"
    sealer = await app.subject_keys.sealer(uscc)
    submitted = sealer.seal(PiiKind.ID_NUMBER, id_number)
    assert not submitted.same_as(stored.legal_representative.id_number)  # why it must run

    # A database from before the reseal carries no marks that it ran.
    async with app.engine.begin() as connection:
        await connection.execute(delete(data_marks))
    again = await bootstrap(dataclasses.replace(settings), clock=app.clock)  # migrates
    try:
        resealed = await again.registry.lookup(uscc)
        assert resealed is not None
        rep = resealed.legal_representative
        assert rep.name.ciphertext[:1] == b"\x02" and rep.id_number is not None
        assert rep.id_number.same_as(submitted)
        assert await again.subject_keys.open(rep.name) == "王小明"
        assert rep.name.masked == stored.legal_representative.name.masked
    finally:
        await again.close()


async def test_a_retry_of_a_request_fingerprinted_with_the_service_key_is_still_the_same(
    app: Application,
) -> None:
    from sqlalchemy import update

    from service.adapters.storage.tables import verifications
    from service.api.convert import authorisation_draft, licence_draft
    from service.app.verifications import SubmitVerification, _fingerprint_document
    from service.domain.submission import validate_verification_request
    from tests.builders import import_rows, verification_for

    row = registry_row()
    await import_rows(app, [row])
    request = verification_for(row)
    command = SubmitVerification(
        caller="caller-1",
        parent=f"enterprises/{row['uscc']}",
        request_id="4f0b7c2e-7d1a-4c55-9d0e-2b8f6a1c3e59",
        licence=licence_draft(request.licence),
        authorisation=authorisation_draft(request.authorization),
    )
    first = await app.verifications._verifications.submit(command)
    valid, _problems = validate_verification_request(
        command.licence, command.authorisation, app.clock.now(), china_today(app.clock.now())
    )
    assert valid is not None
    legacy = app.vault.fingerprint(_fingerprint_document("caller-1", valid))
    async with app.engine.begin() as connection:
        await connection.execute(
            update(verifications).where(verifications.c.id == first.id).values(fingerprint=legacy)
        )
    again = await app.verifications._verifications.submit(command)
    assert again.id == first.id
