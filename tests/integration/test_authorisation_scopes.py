"""The scopes of the legal representative's authorisation are enforced, never silently.

Identity verification needs AUTHORIZATION_SCOPE_IDENTITY_VERIFICATION (refused at
submission: test_verification_api.py::test_authorisation_without_identity_scope_is_refused).
Showing the legal representative in the archive needs AUTHORIZATION_SCOPE_ARCHIVE; using
the verification in the integrity level needs AUTHORIZATION_SCOPE_INTEGRITY_LEVEL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from integrity.v1 import archive_pb2, verification_pb2

from clients import AsyncIntegrityClient
from service.bootstrap import Application
from service.domain.callers import CallerKind
from tests.builders import import_rows, registry_row, verification_for
from tests.conftest import RunningServer

V = verification_pb2
IDENTITY = V.AUTHORIZATION_SCOPE_IDENTITY_VERIFICATION
ARCHIVE = V.AUTHORIZATION_SCOPE_ARCHIVE
LEVEL = V.AUTHORIZATION_SCOPE_INTEGRITY_LEVEL
REP_GROUP = "public.legal_representative"


async def token_of(app: Application, kind: CallerKind) -> str:
    _caller, token = await app.credentials.create_caller(kind, f"{kind.value} caller")
    return token


async def verify(
    client: AsyncIntegrityClient, row: dict[str, object], scopes: Iterable[int], **kw: str
) -> V.Verification:
    return await client.create_verification(verification_for(row, scopes=scopes, **kw))


def withheld(archive: archive_pb2.Archive) -> list[tuple[str, str, int]]:
    return [(w.field_group, w.reason, w.missing_scope) for w in archive.withheld_fields]


async def test_the_archive_shows_the_legal_representative_only_with_the_archive_scope(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    uscc = str(row["uscc"])
    gateway = AsyncIntegrityClient(
        server.target,
        token=await token_of(app, CallerKind.GATEWAY),
        on_behalf_of=f"merchant:{uscc}:owner-1",
    )
    ops = AsyncIntegrityClient(server.target, token=await token_of(app, CallerKind.OPS))
    refused = [(REP_GROUP, "AUTHORIZATION_SCOPE_MISSING", ARCHIVE)]
    async with gateway, ops:
        # No verification, so no authorisation at all.
        archive = await gateway.get_archive(uscc)
        assert not archive.public_information.HasField("legal_representative")
        assert REP_GROUP not in archive.disclosed_fields
        assert withheld(archive) == refused

        # Verified, but the authorisation covers identity verification only.
        await verify(client, row, [IDENTITY, LEVEL])
        archive = await gateway.get_archive(uscc)
        assert not archive.public_information.HasField("legal_representative")
        assert withheld(archive) == refused
        assert withheld(await ops.get_archive(uscc)) == refused  # ops too

        # A rejected verification speaks for someone other than the registered person.
        rejected = await verify(client, row, [IDENTITY, ARCHIVE], rep_name="欧阳明日")
        assert rejected.outcome == V.VERIFICATION_OUTCOME_REJECTED
        assert withheld(await gateway.get_archive(uscc)) == refused

        granted = await verify(client, row, [IDENTITY, ARCHIVE])
        assert granted.outcome == V.VERIFICATION_OUTCOME_VERIFIED
        archive = await gateway.get_archive(uscc)
        assert archive.public_information.legal_representative.name == "王**"
        assert REP_GROUP in archive.disclosed_fields
        assert withheld(archive) == []

        # The latest verified authorisation is the one in force: a narrower one withdraws
        # the archive scope from then on, and reads as of earlier still show it.
        await verify(client, row, [IDENTITY])
        assert withheld(await gateway.get_archive(uscc)) == refused
        earlier = await gateway.get_archive(uscc, read_time=granted.create_time.ToDatetime(dt.UTC))
        assert earlier.public_information.legal_representative.name == "王**"

        # What was withheld was not recorded as disclosed.
        # (The gateway's reads: ops reads and verification answers are recorded too.)
        disclosures = [
            d
            for d in (await ops.list_disclosures(uscc)).disclosures
            if d.recipient_kind == "gateway"
        ]
        assert [REP_GROUP in d.fields for d in disclosures] == [
            True,  # the read as of earlier
            False,
            True,
            False,
            False,
            False,
        ]


async def test_the_level_uses_a_verification_only_with_the_integrity_level_scope(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    uscc = str(row["uscc"])
    unverified = await app.levels.current(uscc)
    assert unverified is not None

    narrow = await verify(client, row, [IDENTITY, ARCHIVE])
    uncounted = await app.levels.current(uscc)
    assert uncounted is not None and uncounted.score == unverified.score
    [identity] = [r for r in uncounted.reasons if r.factor == "IDENTITY_VERIFICATION"]
    assert identity.points == 0
    assert "AUTHORIZATION_SCOPE_MISSING" in identity.description
    assert "AUTHORIZATION_SCOPE_INTEGRITY_LEVEL" in identity.description
    assert identity.records == (f"verification:{narrow.name.rsplit('/', 1)[1]}",)

    ops = AsyncIntegrityClient(server.target, token=await token_of(app, CallerKind.OPS))
    async with ops:
        shown = (await ops.get_archive(uscc)).integrity_level
    [reason] = [r for r in shown.reasons if r.factor == "IDENTITY_VERIFICATION"]
    assert "AUTHORIZATION_SCOPE_MISSING" in reason.description

    await verify(client, row, [IDENTITY, LEVEL])
    counted = await app.levels.current(uscc)
    assert counted is not None and counted.score > unverified.score
    assert "IDENTITY_VERIFICATION" not in {r.factor for r in counted.reasons}
