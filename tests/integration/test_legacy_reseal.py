"""Values sealed with the service key before per-enterprise keys are sealed again under the
enterprise's key when the application migrates, on both backends: they open as before,
and their digests match a request sealed now."""

from __future__ import annotations

import dataclasses

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
