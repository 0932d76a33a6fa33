"""The benchmark's data: the same enterprises in the simulator (a snapshot file it loads)
and in the service (one verification each, and the archive's registry fact, inserted in
bulk through the storage layer).

A verification is sealed through the vault and decided the way the service decides one
(RegistryCheck, on the enterprise's own record as the government registry would answer
it), without asking the simulator 100,000 times: a sweep of a settled population then
mostly confirms, as a periodic re-verification does. The archive holds the record that
verification was decided on (service/domain/archive.py registry_fact), as it would after
asking the government registry through the archiving source: a sweep that finds a record
unchanged writes nothing to the archive.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from service.adapters.storage.engine import write_transaction
from service.adapters.storage.facts import append_facts
from service.adapters.storage.tables import verification_history, verifications
from service.adapters.storage.verification_rows import (
    history_to_row,
    schedule_to_row,
    verification_to_row,
)
from service.app.ports import Clock, PersonalDataKeys, PiiVault, Sealer
from service.app.registry_check import RegistryCheck
from service.app.registry_import import sealed_record
from service.bootstrap import Application
from service.demo.synthetic import generate_registry_records
from service.domain.archive import registry_fact
from service.domain.identifiers.resident_id import make_resident_id
from service.domain.licence import china_today
from service.domain.recheck_schedule import RecheckSchedule
from service.domain.registry import RegistryRecord
from service.domain.registry_rows import RegistryRowDraft, parse_registry_row
from service.domain.registry_sources import SourceKind
from service.domain.sealed import PiiKind, SealedLegalRepresentative
from service.domain.verification import (
    TRIGGER_CREATE,
    Authorisation,
    AuthorisationScope,
    LicenceSubmission,
    OutcomeChange,
    Verification,
)

SEED = 2026
CALLER = "bench-platform"
# Rows per INSERT: a few dozen round trips for 100,000 verifications.
INSERT_CHUNK = 2_000


def write_records_file(
    path: Path, count: int, today: dt.date, published: dt.datetime
) -> list[dict[str, Any]]:
    """`count` synthetic enterprises as a snapshot file (JSON Lines) the simulator loads,
    each published at `published` (the time the government registry answers with)."""
    rows = [
        {**row, "snapshot_time": published.isoformat()}
        for row in generate_registry_records(count, SEED, as_of=today)
    ]
    with path.open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    return rows


class _RowsRegistry:
    """The registry port over the rows themselves, as the government registry answers them
    (no ID number: registries never publish it; the row's snapshot time)."""

    def __init__(
        self,
        drafts: Mapping[str, RegistryRowDraft],
        vault: PiiVault,
        keys: PersonalDataKeys,
        now: dt.datetime,
    ):
        self._drafts = drafts
        self._vault = vault
        self._keys = keys
        self._now = now
        self.answered: list[RegistryRecord] = []

    async def lookup(self, uscc: str, within_seconds: float | None = None) -> RegistryRecord | None:
        draft = self._drafts.get(uscc)
        if draft is None:
            return None
        record = sealed_record(
            self._vault,
            await self._keys.sealer(uscc),
            _without_id_number(draft),
            draft.snapshot_time or self._now,
        )
        self.answered.append(record)
        return record


def _without_id_number(draft: RegistryRowDraft) -> RegistryRowDraft:
    return replace(draft, legal_rep_id_number=None)


def _submission(sealer: Sealer, draft: RegistryRowDraft, number: int) -> LicenceSubmission:
    # A tenth of the synthetic rows do not publish it; the merchant submits one anyway.
    id_number = draft.legal_rep_id_number or make_resident_id(
        "110105", dt.date(1980, 5, 17), number % 999 + 1
    )
    return LicenceSubmission(
        uscc=draft.uscc,
        enterprise_name=draft.name,
        legal_representative=SealedLegalRepresentative(
            name=sealer.seal(PiiKind.PERSON_NAME, draft.legal_rep_name),
            id_number=sealer.seal(PiiKind.ID_NUMBER, id_number),
        ),
        registered_address=draft.address,
        term=draft.term,
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def seed_verifications(app: Application, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One VERIFIED-or-not verification per enterprise, by one caller; the USCCs."""
    clock: Clock = app.clock
    now = clock.now()
    today = china_today(now)
    drafts = {draft.uscc: draft for draft in (parse_registry_row(row, today) for row in rows)}
    registry = _RowsRegistry(drafts, app.vault, app.subject_keys, now)
    sealers: dict[str, Sealer] = {}
    for chunk in _chunks(list(drafts), 1000):
        sealers.update(await app.subject_keys.sealers(chunk))
    check = RegistryCheck(
        registry,
        clock,
        timeout_seconds=10.0,
        registry_source=SourceKind.GOVERNMENT_REGISTRY,
    )
    schedule = RecheckSchedule()
    grant_time = now - dt.timedelta(days=1)
    created = now - dt.timedelta(days=400)
    verification_rows: list[dict[str, Any]] = []
    history_rows: list[dict[str, Any]] = []
    for number, draft in enumerate(drafts.values()):
        sealer = sealers[draft.uscc]
        submission = _submission(sealer, draft, number)
        decision = await check.decide(submission)
        verification_id = str(uuid.uuid4())
        verification = Verification(
            id=verification_id,
            caller=CALLER,
            request_id=str(uuid.uuid4()),
            fingerprint=sealer.fingerprint(verification_id.encode()),
            submission=submission,
            authorisation=Authorisation(
                granted_by=sealer.seal(PiiKind.PERSON_NAME, draft.legal_rep_name),
                grant_time=grant_time,
                scopes=frozenset({AuthorisationScope.IDENTITY_VERIFICATION}),
                evidence_reference="bench",
            ),
            decision=decision,
            create_time=created,
            update_time=created,
        )
        change = OutcomeChange(1, decision, TRIGGER_CREATE, created)
        verification_rows.append(
            {
                **verification_to_row(verification),
                **schedule_to_row(schedule.start(decision.outcome, created)),
            }
        )
        history_rows.append(history_to_row(verification_id, change, verification.request_id))
    facts = [registry_fact(record) for record in registry.answered]
    for chunk in _chunks(list(zip(verification_rows, history_rows, strict=True)), INSERT_CHUNK):
        async with write_transaction(app.engine) as connection:
            await connection.execute(verifications.insert(), [v for v, _ in chunk])
            await connection.execute(verification_history.insert(), [h for _, h in chunk])
    for fact_chunk in _chunks(facts, INSERT_CHUNK):
        async with write_transaction(app.engine) as connection:
            await append_facts(connection, fact_chunk, created, source="registry")
    return sorted(drafts)
