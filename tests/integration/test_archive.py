"""Reading archives: each tier sees exactly its fields, platforms by purpose, as of any time,
and every disclosure lands in a tamper-evident ledger."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from integrity.v1 import archive_pb2
from sqlalchemy import delete, update

from clients import AsyncIntegrityClient, IntegrityCallError
from service.adapters.storage.facts import append_facts
from service.adapters.storage.tables import disclosure_ledger
from service.bootstrap import Application
from service.domain.archive import judicial_fact, platform_fact
from service.domain.callers import CallerKind
from service.domain.judicial import JudicialEntry, JudicialEntryKind
from service.domain.platform_records import ConductKind, ConductRecord, Membership, Severity
from tests.builders import import_rows, registry_row, verification_for
from tests.conftest import OpsCommand, RunningServer

A = archive_pb2
PUBLIC = [
    "public.business_scope",
    "public.capital",
    "public.changes",
    "public.identity",
    "public.judicial",
    "public.shareholders",
    "public.status",
]


async def seed(app: Application) -> dict[str, object]:
    row = registry_row()
    await import_rows(app, [row])
    uscc = str(row["uscc"])
    now = app.clock.now()
    async with app.engine.begin() as connection:
        await append_facts(
            connection,
            [
                judicial_fact(
                    uscc,
                    JudicialEntry(
                        "J-1", JudicialEntryKind.DISHONEST_DEBTOR, "杭州市中级人民法院", "未履行",
                        dt.date(2025, 1, 10), None, dt.date(2027, 1, 10), "court", "(2025)浙01执1号",
                    ),
                ),
                judicial_fact(
                    uscc,
                    JudicialEntry(
                        "J-2", JudicialEntryKind.ABNORMAL_OPERATIONS, "西湖区市场监督管理局", "未年报",
                        dt.date(2020, 6, 1), dt.date(2021, 6, 1), None, "samr", "",
                    ),
                ),
                platform_fact(uscc, "test-platform", Membership(dt.date(2019, 3, 1))),
                platform_fact(
                    uscc,
                    "test-platform",
                    ConductRecord("C-1", ConductKind.COMPLAINT, Severity.MINOR, dt.date(2026, 1, 2), "发货", "late", False),
                ),
            ],
            now,
            source="test",
        )  # fmt: skip
    return row


@pytest.fixture
async def gateway_token(app: Application) -> str:
    _caller, token = await app.credentials.create_caller(CallerKind.GATEWAY, "merchant gateway")
    return token


@pytest.fixture
async def ops_token(app: Application) -> str:
    _caller, token = await app.credentials.create_caller(CallerKind.OPS, "ops desk")
    return token


def client_for(server: RunningServer, token: str, on_behalf_of: str = "") -> AsyncIntegrityClient:
    return AsyncIntegrityClient(server.target, token=token, on_behalf_of=on_behalf_of)


async def read(
    server: RunningServer, token: str, uscc: str, on_behalf_of: str = "", **kw: object
) -> archive_pb2.Archive:
    async with client_for(server, token, on_behalf_of) as client:
        return await client.get_archive(uscc, **kw)  # type: ignore[arg-type]


async def test_anonymous_viewer_sees_the_public_archive_only(
    app: Application, server: RunningServer, gateway_token: str
) -> None:
    row = await seed(app)
    archive = await read(server, gateway_token, str(row["uscc"]), "anonymous:203.0.113.9")
    assert archive.tier == A.VIEWER_TIER_ANONYMOUS
    assert list(archive.disclosed_fields) == PUBLIC
    public = archive.public_information
    assert public.enterprise_name == row["name"] and public.uscc == row["uscc"]
    assert public.registered_capital == "5000000.00" and public.shareholders
    assert {e.entry_id: e.active for e in public.judicial_entries} == {"J-1": True, "J-2": False}
    assert not public.HasField("legal_representative")
    assert not archive.HasField("business_integrity")
    assert not archive.HasField("integrity_level")


async def test_logged_in_viewer_also_sees_the_business_archive(
    app: Application, server: RunningServer, gateway_token: str
) -> None:
    row = await seed(app)
    archive = await read(server, gateway_token, str(row["uscc"]), "viewer:user-42")
    assert archive.tier == A.VIEWER_TIER_LOGGED_IN
    assert set(archive.disclosed_fields) == {*PUBLIC, "business_integrity", "integrity_level"}
    [platform] = archive.business_integrity.platforms
    assert platform.platform == "test-platform" and platform.membership_years >= 7
    assert [c.record_id for c in platform.conduct_records] == ["C-1"]
    assert not archive.public_information.HasField("legal_representative")


async def test_own_merchant_sees_everything_with_the_representative_masked(
    app: Application, server: RunningServer, client: AsyncIntegrityClient, gateway_token: str
) -> None:
    row = await seed(app)
    uscc = str(row["uscc"])
    # The legal representative's authorisation covers the archive (test_authorisation_scopes).
    await client.create_verification(verification_for(row))
    archive = await read(server, gateway_token, uscc, f"merchant:{uscc}:owner-1")
    assert archive.tier == A.VIEWER_TIER_MERCHANT
    assert "public.legal_representative" in archive.disclosed_fields
    rep = archive.public_information.legal_representative
    assert rep.name == "王**" and rep.id_number.count("*") == 16
    other = registry_row()
    await import_rows(app, [other])
    elsewhere = await read(server, gateway_token, str(other["uscc"]), f"merchant:{uscc}:owner-1")
    assert elsewhere.tier == A.VIEWER_TIER_LOGGED_IN  # another enterprise's merchant is a viewer


async def test_platforms_see_what_their_purpose_needs(
    app: Application, server: RunningServer
) -> None:
    row = await seed(app)
    uscc = str(row["uscc"])
    narrow = await read(
        server,
        server.token,
        uscc,
        purpose="identity_authentication",
        scenario="account_verification",
    )
    assert narrow.tier == A.VIEWER_TIER_PLATFORM
    assert list(narrow.disclosed_fields) == ["public.identity", "public.status"]
    assert narrow.public_information.enterprise_name == row["name"]
    assert narrow.public_information.registered_capital == ""
    assert list(narrow.public_information.judicial_entries) == []
    assert not narrow.HasField("business_integrity")
    wide = await read(
        server, server.token, uscc, purpose="access_assessment", scenario="store_opening"
    )
    assert wide.HasField("business_integrity") and wide.public_information.judicial_entries
    assert wide.public_information.registered_capital == ""  # not needed for access assessment


@pytest.mark.parametrize(
    ("purpose", "scenario", "fields"),
    [
        ("", "", {"purpose", "scenario"}),
        ("marketing", "store_opening", {"purpose"}),
        ("access_assessment", "promotion_enrolment", {"scenario"}),
    ],
)
async def test_platform_reads_need_a_configured_purpose_and_scenario(
    app: Application, server: RunningServer, purpose: str, scenario: str, fields: set[str]
) -> None:
    row = await seed(app)
    with pytest.raises(IntegrityCallError) as caught:
        await read(server, server.token, str(row["uscc"]), purpose=purpose, scenario=scenario)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in caught.value.field_violations} == fields


async def test_gateway_must_say_whom_it_acts_for(
    app: Application, server: RunningServer, gateway_token: str
) -> None:
    row = await seed(app)
    with pytest.raises(IntegrityCallError) as caught:
        await read(server, gateway_token, str(row["uscc"]))
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED


async def test_lookup_by_exact_registered_name_only(
    app: Application, server: RunningServer, gateway_token: str
) -> None:
    row = await seed(app)
    name = str(row["name"])
    async with client_for(server, gateway_token, "anonymous:198.51.100.1") as client:
        found = await client.lookup_archive(name.replace("（", "(").replace("）", ")"))
        assert found.public_information.uscc == row["uscc"]
        with pytest.raises(IntegrityCallError) as caught:
            await client.lookup_archive(name[:-3])  # a prefix is not a name
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(IntegrityCallError) as caught:
            await client.lookup_archive("%")
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_unknown_enterprise_is_not_found(server: RunningServer, gateway_token: str) -> None:
    with pytest.raises(IntegrityCallError) as caught:
        await read(server, gateway_token, str(registry_row()["uscc"]), "viewer:u")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND


async def test_archive_reads_as_of_a_past_time(
    app: Application, server: RunningServer, ops_token: str
) -> None:
    row = await seed(app)
    uscc = str(row["uscc"])
    before_change = app.clock.now()
    await import_rows(app, [dict(row, status="revoked", snapshot_time="2026-11-20T00:00:00+00:00")])
    async with app.engine.begin() as connection:
        await append_facts(
            connection,
            [
                judicial_fact(
                    uscc,
                    JudicialEntry(
                        "J-1", JudicialEntryKind.DISHONEST_DEBTOR, "杭州市中级人民法院", "未履行",
                        dt.date(2025, 1, 10), dt.date(2025, 6, 1), dt.date(2027, 1, 10), "court", "",
                    ),
                )
            ],
            app.clock.now(),
            source="test",
        )  # fmt: skip
    now = await read(server, ops_token, uscc)
    then = await read(server, ops_token, uscc, read_time=before_change)
    assert now.public_information.status == 4  # REGISTRATION_STATUS_REVOKED
    assert then.public_information.status == 1  # REGISTRATION_STATUS_IN_BUSINESS
    assert {e.entry_id: e.active for e in now.public_information.judicial_entries}["J-1"] is False
    assert {e.entry_id: e.active for e in then.public_information.judicial_entries}["J-1"] is True
    assert then.read_time.ToDatetime(tzinfo=dt.UTC) == before_change
    with pytest.raises(IntegrityCallError) as caught:
        await read(server, ops_token, uscc, read_time=app.clock.now() + dt.timedelta(days=1))
    assert caught.value.field_violations[0].reason == "READ_TIME_FUTURE"


async def test_every_disclosure_is_recorded_and_the_merchant_lists_them(
    app: Application, server: RunningServer, gateway_token: str, ops_token: str
) -> None:
    row = await seed(app)
    uscc = str(row["uscc"])
    await read(server, gateway_token, uscc, "anonymous:203.0.113.9")
    await read(
        server,
        server.token,
        uscc,
        purpose="identity_authentication",
        scenario="account_verification",
    )
    await read(server, gateway_token, uscc, "viewer:user-42")
    await read(server, ops_token, uscc)  # ops reads are disclosures too
    await read(server, ops_token, uscc, scenario="dispute_review")
    async with client_for(server, gateway_token, f"merchant:{uscc}:owner") as merchant:
        page = await merchant.list_disclosures(uscc, page_size=2)
        assert len(page.disclosures) == 2 and page.next_page_token
        rest = await merchant.list_disclosures(uscc, page_token=page.next_page_token)
    everything = [*page.disclosures, *rest.disclosures]
    assert [(d.recipient, d.tier) for d in everything] == [
        ("ops desk", A.VIEWER_TIER_OPS),
        ("ops desk", A.VIEWER_TIER_OPS),
        ("merchant gateway", A.VIEWER_TIER_LOGGED_IN),
        ("test platform", A.VIEWER_TIER_PLATFORM),
        ("merchant gateway", A.VIEWER_TIER_ANONYMOUS),
    ]
    assert [(d.purpose, d.scenario) for d in everything[:2]] == [
        ("ops", "dispute_review"),
        ("ops", "ops_review"),
    ]
    # No verification carries the legal representative's archive scope, so even ops were
    # not shown (and the ledger does not record) the legal representative.
    assert list(everything[0].fields) == sorted([*PUBLIC, "business_integrity", "integrity_level"])
    assert everything[3].purpose == "identity_authentication"
    assert everything[3].scenario == "account_verification"
    assert list(everything[3].fields) == ["public.identity", "public.status"]
    # Listing the ledger is not itself a disclosure of the archive.
    async with client_for(server, gateway_token, f"merchant:{uscc}:owner") as merchant:
        newest = (await merchant.list_disclosures(uscc, page_size=1)).disclosures[0]
    assert newest.name == everything[0].name


async def test_only_the_merchant_and_ops_list_disclosures(
    app: Application, server: RunningServer, gateway_token: str, ops_token: str
) -> None:
    row = await seed(app)
    uscc = str(row["uscc"])
    for token, behalf in [
        (server.token, ""),
        (gateway_token, "viewer:u"),
        (gateway_token, f"merchant:{registry_row()['uscc']}:x"),
    ]:
        async with client_for(server, token, behalf) as client:
            with pytest.raises(IntegrityCallError) as caught:
                await client.list_disclosures(uscc)
            assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    async with client_for(server, ops_token) as ops:
        await ops.list_disclosures(uscc)


async def test_the_ledger_chain_detects_tampering(
    app: Application, server: RunningServer, gateway_token: str
) -> None:
    row = await seed(app)
    for viewer in ("anonymous:1", "viewer:2", "viewer:3"):
        await read(server, gateway_token, str(row["uscc"]), viewer)
    assert (await app.disclosures.verify()).first_broken is None
    async with app.engine.begin() as connection:
        sequences = [
            r.sequence
            for r in await connection.execute(
                disclosure_ledger.select().order_by(disclosure_ledger.c.sequence)
            )
        ]
        await connection.execute(
            update(disclosure_ledger)
            .where(disclosure_ledger.c.sequence == sequences[1])
            .values(purpose="marketing")
        )
    check = await app.disclosures.verify()
    assert check.first_broken == sequences[1] and check.checked == 1


async def test_ops_command_names_the_first_broken_entry(
    app: Application, server: RunningServer, gateway_token: str, ops_command: OpsCommand
) -> None:
    row = await seed(app)
    for viewer in ("anonymous:1", "viewer:2"):
        await read(server, gateway_token, str(row["uscc"]), viewer)
    intact = await ops_command.run("ledger", "verify")
    assert intact.exit_code == 0 and "ledger intact: 2 entries" in intact.output
    async with app.engine.begin() as connection:
        last = max(r.sequence for r in await connection.execute(disclosure_ledger.select()))
        await connection.execute(
            delete(disclosure_ledger).where(disclosure_ledger.c.sequence == last - 1)
        )
    broken = await ops_command.run("ledger", "verify")
    assert broken.exit_code == 1
    assert f"BROKEN at entry {last}" in broken.output
