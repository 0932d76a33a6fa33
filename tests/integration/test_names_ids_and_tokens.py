"""Resource names match whole, request ids compare in canonical form, page tokens are
authenticated and bound to their listing (real gRPC, both backends)."""

from __future__ import annotations

import uuid

import grpc
import pytest

from clients import AsyncIntegrityClient, IntegrityCallError
from service.bootstrap import Application
from service.domain.callers import CallerKind
from tests.builders import import_rows, registry_row, verification_for
from tests.conftest import RunningServer


async def stored_verifications(app: Application) -> int:
    from sqlalchemy import func, select

    from service.adapters.storage.tables import verifications

    async with app.engine.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(verifications))).scalar_one()
        )


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "/", "\x00"])
async def test_a_name_with_anything_after_it_is_refused(
    app: Application, client: AsyncIntegrityClient, suffix: str
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    made = await client.create_verification(verification_for(row))
    assert (await client.get_verification(made.name)).name == made.name
    with pytest.raises(IntegrityCallError) as caught:
        await client.get_verification(made.name + suffix)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.field_violations[0].field == "name"
    with pytest.raises(IntegrityCallError) as caught:
        await client.list_verifications(str(row["uscc"]) + suffix)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_request_id_in_other_case_is_the_same_request(
    app: Application, client: AsyncIntegrityClient
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    request_id = str(uuid.uuid4())
    first = await client.create_verification(verification_for(row), request_id=request_id)
    again = await client.create_verification(verification_for(row), request_id=request_id.upper())
    assert again.name == first.name
    assert again.request_id == request_id
    assert await stored_verifications(app) == 1


@pytest.mark.parametrize(
    "request_id",
    [
        "not-a-uuid",
        uuid.uuid4().hex,  # a UUID, but not in the hyphenated form
        "{" + str(uuid.uuid4()) + "}",
        "urn:uuid:" + str(uuid.uuid4()),
        str(uuid.uuid4()) + "\n",
    ],
    # Named by form, not value: parallel workers must collect the same test names.
    ids=["not-a-uuid", "unhyphenated", "braced", "urn", "trailing-newline"],
)
async def test_only_hyphenated_uuids_are_request_ids(
    app: Application, client: AsyncIntegrityClient, request_id: str
) -> None:
    row = registry_row()
    await import_rows(app, [row])
    with pytest.raises(IntegrityCallError) as caught:
        await client.create_verification(verification_for(row), request_id=request_id)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    # Refused as no UUID, or, with a control character in it, before anything reads it.
    assert [v.field for v in caught.value.field_violations] == ["request_id"]
    assert await stored_verifications(app) == 0


def _tampered(token: str) -> list[str]:
    body, _, mac = token.partition(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    return [flipped + "." + mac, body + "." + mac[::-1], body, token + "x", "." + mac]


async def test_page_tokens_are_authenticated_and_bound_to_their_listing(
    app: Application, server: RunningServer, client: AsyncIntegrityClient
) -> None:
    row, other = registry_row(), registry_row()
    await import_rows(app, [row, other])
    for _ in range(3):
        await client.create_verification(verification_for(row))
    first = await client.list_verifications(str(row["uscc"]), page_size=2)
    token = first.next_page_token
    assert token
    rest = await client.list_verifications(str(row["uscc"]), page_size=2, page_token=token)
    assert len(rest.verifications) == 1

    refused = [
        *_tampered(token),
        token.replace(".", ".."),
    ]
    for bad in refused:
        with pytest.raises(IntegrityCallError) as caught:
            await client.list_verifications(str(row["uscc"]), page_size=2, page_token=bad)
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT, bad
        assert [v.reason for v in caught.value.field_violations] == ["PAGE_TOKEN_INVALID"]
    # Another parent, another caller's view and another collection all refuse it.
    with pytest.raises(IntegrityCallError) as caught:
        await client.list_verifications(str(other["uscc"]), page_token=token)
    assert caught.value.field_violations[0].reason == "PAGE_TOKEN_INVALID"
    _ops, ops_token = await app.credentials.create_caller(CallerKind.OPS, "ops")
    async with AsyncIntegrityClient(server.target, token=ops_token) as ops:
        with pytest.raises(IntegrityCallError) as caught:
            await ops.list_verifications(str(row["uscc"]), page_token=token)
        assert caught.value.field_violations[0].reason == "PAGE_TOKEN_INVALID"
        with pytest.raises(IntegrityCallError) as caught:
            await ops.list_disclosures(str(row["uscc"]), page_token=token)
        assert caught.value.field_violations[0].reason == "PAGE_TOKEN_INVALID"


async def test_a_long_page_token_is_refused_without_echoing_it(
    client: AsyncIntegrityClient,
) -> None:
    long_token = "A" * 10_000
    with pytest.raises(IntegrityCallError) as caught:
        await client.list_verifications(str(registry_row()["uscc"]), page_token=long_token)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert long_token[:100] not in str(caught.value)
    assert all(long_token[:100] not in v.description for v in caught.value.field_violations)
