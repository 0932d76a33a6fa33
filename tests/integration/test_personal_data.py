"""Names and ID numbers of people: encrypted at rest, masked out, never logged.

That is the legal representative's name and ID number, and who granted the authorisation
(the legal representative or the signer, by name or account).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from google.protobuf import text_format
from integrity.v1 import verification_pb2
from sqlalchemy import select

from clients import AsyncIntegrityClient, IntegrityCallError
from service.adapters.registry_snapshot import record_from_row
from service.adapters.storage.tables import archive_facts, registry_records, verifications
from service.adapters.storage.verification_rows import granted_by_from_row
from service.bootstrap import Application
from service.domain.callers import CallerKind
from service.domain.sealed import PiiKind, SealedValue
from tests.builders import import_rows, new_id_number, registry_row, verification_for
from tests.conftest import RunningServer

REP_NAME = "欧阳明月"
GRANTOR = "诸葛孔明"


def granted_by(submission: verification_pb2.Verification) -> verification_pb2.Verification:
    submission.authorization.granted_by = GRANTOR
    return submission


async def test_responses_and_logs_never_show_the_plaintext(
    app: Application, client: AsyncIntegrityClient, log_stream: io.StringIO
) -> None:
    id_number = new_id_number()
    row = registry_row(legal_representative={"name": REP_NAME, "id_number": id_number})
    await import_rows(app, [row])
    shown: list[str] = []
    for submission in (
        verification_for(row),  # verified
        verification_for(row, rep_name="欧阳明日"),  # rejected
        verification_for(
            registry_row(legal_representative={"name": REP_NAME, "id_number": id_number})
        ),  # pending
    ):
        result = await client.create_verification(granted_by(submission))
        assert result.authorization.granted_by == "诸***"
        fetched = await client.get_verification(result.name)
        shown.append(text_format.MessageToString(fetched, as_utf8=True))
        shown.append(text_format.MessageToString(result, as_utf8=True))
        shown.append(result.SerializeToString().decode("utf-8", "replace"))
        listed = await client.list_verifications(result.licence.uscc)
        shown.append(text_format.MessageToString(listed, as_utf8=True))
    bad = granted_by(verification_for(row))
    bad.licence.enterprise_name = "<bad>"
    with pytest.raises(IntegrityCallError) as caught:
        await client.create_verification(bad)
    shown.append(str(caught.value) + caught.value.to_json())

    everything = "\n".join(shown)
    assert id_number not in everything
    assert REP_NAME not in everything
    assert GRANTOR not in everything
    assert f"{id_number[0]}****************{id_number[-1]}" in everything  # the masked form
    assert "欧***" in everything

    logs = log_stream.getvalue()
    assert '"event": "rpc"' in logs  # the access log was written
    assert id_number not in logs
    assert REP_NAME not in logs
    assert GRANTOR not in logs


async def test_stored_rows_hold_ciphertext_only(
    app: Application, client: AsyncIntegrityClient
) -> None:
    id_number = new_id_number()
    row = registry_row(legal_representative={"name": REP_NAME, "id_number": id_number})
    await import_rows(app, [row])
    await client.create_verification(granted_by(verification_for(row)))
    async with app.engine.connect() as connection:
        for table in (registry_records, verifications):
            for stored in (await connection.execute(select(table))).mappings():
                dump = repr(dict(stored))
                assert id_number not in dump and REP_NAME not in dump and GRANTOR not in dump
                stored_bytes = b"".join(v for v in stored.values() if isinstance(v, bytes))
                assert id_number.encode() not in stored_bytes
                assert GRANTOR.encode() not in stored_bytes
                sealed = SealedValue(
                    PiiKind.ID_NUMBER,
                    stored["legal_rep_id_ct"],
                    stored["legal_rep_id_digest"],
                    stored["legal_rep_id_masked"],
                )
                assert await app.subject_keys.open(sealed) == id_number
        [stored] = (await connection.execute(select(verifications))).mappings()
        assert await app.subject_keys.open(granted_by_from_row(stored)) == GRANTOR
        assert stored["auth_granted_by_masked"] == "诸***"
    if app.engine.dialect.name == "sqlite":
        # The database file and its write-ahead log, whatever has been checkpointed.
        database_file = Path(app.engine.url.database or "")
        raw = b"".join(p.read_bytes() for p in database_file.parent.glob(database_file.name + "*"))
        assert id_number.encode() not in raw
        assert REP_NAME.encode() not in raw
        assert GRANTOR.encode() not in raw


HOLDER = "慕容复"
HOLDING_COMPANY = "杭州燕子坞投资有限公司"


async def test_people_among_shareholders_and_changes_are_shown_masked(
    app: Application, server: RunningServer, log_stream: io.StringIO
) -> None:
    row = registry_row(
        shareholders=[
            {"name": HOLDER, "kind": "natural_person", "subscribed_capital": "3000000.00",
             "ratio": "0.6"},
            {"name": HOLDING_COMPANY, "kind": "enterprise", "subscribed_capital": "2000000.00",
             "ratio": "0.4"},
        ],
        changes=[
            {"date": "2020-01-01", "item": "法定代表人变更", "before": HOLDER, "after": REP_NAME},
            {"date": "2021-01-01", "item": "投资人变更", "before": f"{HOLDER}(自然人股东)",
             "after": f"{HOLDER}、{HOLDING_COMPANY}"},
            {"date": "2022-01-01", "item": "经营范围变更", "before": "技术开发", "after": "技术服务"},
        ],
    )  # fmt: skip
    await import_rows(app, [row])
    uscc = str(row["uscc"])
    shown = []
    for kind, behalf in ((CallerKind.GATEWAY, "anonymous:203.0.113.9"), (CallerKind.OPS, "")):
        _caller, token = await app.credentials.create_caller(kind, f"{kind.value} reader")
        async with AsyncIntegrityClient(server.target, token=token, on_behalf_of=behalf) as c:
            archive = await c.get_archive(uscc)
        holders = {(s.name, s.kind) for s in archive.public_information.shareholders}
        assert holders == {("慕**", "natural_person"), (HOLDING_COMPANY, "enterprise")}
        changes = [(c.before, c.after) for c in archive.public_information.changes]
        assert changes == [
            ("慕**", "欧***"),
            ("慕**(自然人股东)", f"慕**、{HOLDING_COMPANY}"),
            ("技术开发", "技术服务"),
        ]
        shown.append(text_format.MessageToString(archive, as_utf8=True))
    assert HOLDER not in "\n".join(shown) and REP_NAME not in "\n".join(shown)
    assert HOLDER not in log_stream.getvalue()

    async with app.engine.connect() as connection:
        [record] = (
            await connection.execute(
                select(registry_records).where(registry_records.c.uscc == uscc)
            )
        ).mappings()
        facts = (
            await connection.execute(select(archive_facts).where(archive_facts.c.uscc == uscc))
        ).mappings()
        dumps = [repr(dict(record)), *(repr(dict(fact)) for fact in facts)]
    assert all(HOLDER not in dump and REP_NAME not in dump for dump in dumps)
    assert HOLDING_COMPANY in dumps[0]  # an enterprise's name is no personal data
    [person] = [s for s in record_from_row(record).shareholders if s.is_person]
    assert person.sealed_name is not None and app.vault.open(person.sealed_name) == HOLDER
    if app.engine.dialect.name == "sqlite":
        database_file = Path(app.engine.url.database or "")
        raw = b"".join(p.read_bytes() for p in database_file.parent.glob(database_file.name + "*"))
        assert HOLDER.encode() not in raw and REP_NAME.encode() not in raw
