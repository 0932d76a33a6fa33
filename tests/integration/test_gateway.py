"""The merchant gateway over real HTTP, in front of a real integrity-server over gRPC.

Tokens are signed by a platform whose keys the gateway fetches from the platform's JWKS
endpoint, a real HTTP server too. Each tier sees what the service shows it; every token
the gateway must refuse is refused with a 401 problem saying why; errors are problem
details carrying the service's reason and field violations; forwarded addresses count only
from trusted proxies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from gateway.addresses import parse_networks
from gateway.app import SECURITY_HEADERS, build_app
from gateway.settings import GatewaySettings
from service.bootstrap import Application, bootstrap
from service.domain.callers import CallerKind
from service.domain.checkpoint import NoteSigner
from service.domain.rate_limits import DEFAULT_LIMITS, Limit, LimitClass
from service.settings import Settings
from tests.clock import TestClock
from tests.conftest import RunningServer, _clean, serving
from tests.gateway_rig import AUDIENCE, PlatformSigner, served
from tests.integration.test_archive import seed

OTHER_USCC = "91110000802100433B"
LEDGER = NoteSigner.generate("integrity.test/disclosures")


@dataclass
class Rig:
    app: Application
    http: httpx.AsyncClient
    platform: PlatformSigner
    clock: TestClock
    uscc: str
    gateway_settings: GatewaySettings
    server: RunningServer
    row: dict[str, Any]

    @contextlib.asynccontextmanager
    async def another_gateway(self, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
        """A second gateway on the same service, its settings changed."""
        settings = dataclasses.replace(self.gateway_settings, **changes)
        async with (
            served(build_app(settings, self.clock)) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield http

    def bearer(self, subject: str = "user-1", **claims: Any) -> dict[str, str]:
        token = self.platform.token(subject, self.clock.now(), **claims)
        return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def gateway_rig(settings: Settings, clock: TestClock, **gateway: Any) -> AsyncIterator[Rig]:
    """The service, a platform publishing its keys, and the gateway (its settings changed
    by `gateway`), each on its own port of loopback."""
    app = await bootstrap(settings, clock=clock)
    await _clean(app)
    platform = PlatformSigner("demo")
    try:
        row = await seed(app)
        _caller, token = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
        async with serving(app) as server, served(platform.jwks_app()) as keys:
            issuer = platform.issuer_for(f"{keys}/.well-known/jwks.json")
            gateway_settings = GatewaySettings(
                token=token,
                upstream=server.target,
                issuers={issuer.issuer: issuer},
                **gateway,
            )
            async with (
                served(build_app(gateway_settings, clock)) as url,
                httpx.AsyncClient(base_url=url, timeout=30) as http,
            ):
                yield Rig(
                    app, http, platform, clock, str(row["uscc"]), gateway_settings, server, row
                )
    finally:
        await app.close()


@pytest.fixture
async def rig(settings: Settings, clock: TestClock) -> AsyncIterator[Rig]:
    signing = dataclasses.replace(settings, ledger_signer=LEDGER)
    async with gateway_rig(signing, clock) as running:
        yield running


def _problem(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["reason"] == reason, body
    return body


async def test_each_user_sees_their_own_tier(rig: Rig) -> None:
    path = f"/v1/enterprises/{rig.uscc}/archive"
    anonymous = await rig.http.get(path)
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json()["tier"] == "VIEWER_TIER_ANONYMOUS"
    assert "integrityLevel" not in anonymous.json()
    viewer = (await rig.http.get(path, headers=rig.bearer("viewer-7"))).json()
    assert viewer["tier"] == "VIEWER_TIER_LOGGED_IN"
    merchant = await rig.http.get(path, headers=rig.bearer("owner", merchant_uscc=rig.uscc))
    assert merchant.json()["tier"] == "VIEWER_TIER_MERCHANT"
    assert merchant.headers["cache-control"] == "no-store"
    for response in (anonymous, merchant):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value


async def test_the_merchant_reads_its_levels_over_time_and_no_one_else_does(rig: Rig) -> None:
    owner = rig.bearer("owner", merchant_uscc=rig.uscc)
    await rig.http.get(f"/v1/enterprises/{rig.uscc}/archive", headers=owner)
    levels = await rig.http.get(f"/v1/enterprises/{rig.uscc}/levels", headers=owner)
    assert levels.status_code == 200, levels.text
    history = levels.json()["levels"]
    assert history and history[0]["levelClass"] and "computeTime" in history[0]
    viewer = await rig.http.get(f"/v1/enterprises/{rig.uscc}/levels", headers=rig.bearer("v"))
    _problem(viewer, 403, "NOT_THE_MERCHANT")
    _problem(await rig.http.get(f"/v1/enterprises/{rig.uscc}/levels"), 403, "NOT_THE_MERCHANT")


async def test_only_the_merchant_reads_its_verifications_through_the_gateway(rig: Rig) -> None:
    from clients import AsyncIntegrityClient
    from tests.builders import verification_for

    async with AsyncIntegrityClient(rig.server.target, token=rig.server.token) as platform:
        await platform.create_verification(verification_for(rig.row))
    path = f"/v1/enterprises/{rig.uscc}/verifications"
    owner = await rig.http.get(path, headers=rig.bearer("owner", merchant_uscc=rig.uscc))
    assert owner.status_code == 200, owner.text
    listed = owner.json()["verifications"]
    assert len(listed) == 1 and listed[0]["outcome"] == "VERIFICATION_OUTCOME_VERIFIED"
    assert listed[0]["licence"]["legalRepresentative"]["name"].count("*")  # masked
    for headers in (
        rig.bearer("v"),
        rig.bearer("owner", merchant_uscc=OTHER_USCC),
        {},
    ):
        _problem(await rig.http.get(path, headers=headers), 403, "NOT_THE_MERCHANT")


async def test_only_the_merchant_downloads_its_data(rig: Rig) -> None:
    path = f"/v1/enterprises/{rig.uscc}:export"
    owner = await rig.http.get(path, headers=rig.bearer("owner", merchant_uscc=rig.uscc))
    assert owner.status_code == 200, owner.text
    assert owner.headers["content-disposition"].startswith("attachment;")
    assert owner.json()["enterprise"] == rig.uscc
    before = await rig.app.disclosures.verify()
    for headers in (rig.bearer("v"), rig.bearer("owner", merchant_uscc=OTHER_USCC), {}):
        _problem(await rig.http.get(path, headers=headers), 403, "NOT_THE_MERCHANT")
    # Refused before anything was read: nothing more was disclosed.
    assert (await rig.app.disclosures.verify()).checked == before.checked


async def test_the_merchant_disputes_an_item_and_everyone_sees_it_marked(rig: Rig) -> None:
    path = f"/v1/enterprises/{rig.uscc}/disputes"
    owner = rig.bearer("owner", merchant_uscc=rig.uscc)
    body = {"item": "public.status", "statement": "我司仍在营业", "evidence": "营业执照副本"}
    for headers in (rig.bearer("v"), rig.bearer("owner", merchant_uscc=OTHER_USCC), {}):
        _problem(await rig.http.post(path, json=body, headers=headers), 403, "NOT_THE_MERCHANT")
    opened = await rig.http.post(path, json=body, headers=owner)
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert dispute["state"] == "DISPUTE_STATE_OPEN" and dispute["item"] == "public.status"
    assert dispute["name"].startswith(f"enterprises/{rig.uscc}/disputes/")
    _problem(await rig.http.post(path, json=body, headers=owner), 409, "DISPUTE_ALREADY_OPEN")

    bad = await rig.http.post(path, json={"item": "everything", "statement": " "}, headers=owner)
    violations = _problem(bad, 400, "INVALID_ARGUMENT")["field_violations"]
    assert {v["field"] for v in violations} == {"item", "statement"}
    unknown = await rig.http.post(path, json={**body, "state": "CLOSED"}, headers=owner)
    assert _problem(unknown, 400, "REQUEST_INVALID")["field_violations"][0]["field"] == "body.state"
    not_text = await rig.http.post(path, json={**body, "statement": 7}, headers=owner)
    _problem(not_text, 400, "REQUEST_INVALID")

    listed = await rig.http.get(path, headers=owner)
    assert [d["name"] for d in listed.json()["disputes"]] == [dispute["name"]]
    _problem(await rig.http.get(path, headers=rig.bearer("v")), 403, "NOT_THE_MERCHANT")
    anonymous = await rig.http.get(f"/v1/enterprises/{rig.uscc}/archive")
    assert anonymous.json()["underDispute"] == ["public.status"]


async def test_the_merchant_makes_data_requests_through_the_api(rig: Rig) -> None:
    path = f"/v1/enterprises/{rig.uscc}/dataRequests"
    owner = rig.bearer("owner", merchant_uscc=rig.uscc)
    correction = await rig.http.post(
        path, json={"kind": "correction", "statement": "注册资本应为600万元"}, headers=owner
    )
    assert correction.status_code == 201, correction.text
    made = correction.json()
    assert made["kind"] == "DATA_REQUEST_KIND_CORRECTION"
    assert made["state"] == "DATA_REQUEST_STATE_OPEN" and made["deadline"]
    for body in ({"kind": "erasure", "statement": "x"}, {"kind": "deletion", "extra": 1}):
        _problem(await rig.http.post(path, json=body, headers=owner), 400, "REQUEST_INVALID")
    blank = await rig.http.post(path, json={"kind": "deletion"}, headers=owner)
    assert _problem(blank, 400, "INVALID_ARGUMENT")["field_violations"][0]["field"] == "statement"
    for headers in (rig.bearer("v"), rig.bearer("owner", merchant_uscc=OTHER_USCC), {}):
        refused = await rig.http.post(path, json={"kind": "withdrawal"}, headers=headers)
        _problem(refused, 403, "NOT_THE_MERCHANT")
    export = f"/v1/enterprises/{rig.uscc}:export"
    representative = rig.row["legal_representative"]
    proof = {"name": representative["name"], "idNumber": representative["id_number"]}
    wrong = await rig.http.post(export, json={**proof, "idNumber": "1"}, headers=owner)
    _problem(wrong, 403, "IDENTITY_NOT_PROVEN")
    unmasked = await rig.http.post(export, json=proof, headers=owner)
    assert unmasked.status_code == 200, unmasked.text
    values = {(v["field"], v["value"]) for v in unmasked.json()["legal_representative_unmasked"]}
    assert ("id_number", representative["id_number"]) in values
    _problem(await rig.http.post(export, json=proof, headers=rig.bearer("v")), 403,
             "NOT_THE_MERCHANT")  # fmt: skip
    withdrawal = await rig.http.post(path, json={"kind": "withdrawal"}, headers=owner)
    assert withdrawal.status_code == 201
    assert withdrawal.json()["state"] == "DATA_REQUEST_STATE_COMPLETED"
    listed = (await rig.http.get(path, headers=owner)).json()["dataRequests"]
    assert [r["kind"] for r in listed] == [
        "DATA_REQUEST_KIND_WITHDRAWAL",
        "DATA_REQUEST_KIND_CORRECTION",
    ]


async def test_a_merchant_claim_for_another_enterprise_opens_nothing_of_this_one(
    rig: Rig,
) -> None:
    other = rig.bearer("owner", merchant_uscc=OTHER_USCC)
    listing = await rig.http.get(f"/v1/enterprises/{rig.uscc}/disclosures", headers=other)
    _problem(listing, 403, "NOT_THE_MERCHANT")
    # A request parameter cannot make a merchant either: only the signed claim does.
    viewer = rig.bearer("owner")
    asked = await rig.http.get(
        f"/v1/enterprises/{rig.uscc}/disclosures",
        params={"merchant_uscc": rig.uscc},
        headers={**viewer, "x-on-behalf-of": f"merchant:{rig.uscc}:owner"},
    )
    _problem(asked, 403, "NOT_THE_MERCHANT")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_signature", "TOKEN_SIGNATURE_INVALID"),
        ("wrong_audience", "TOKEN_AUDIENCE_WRONG"),
        ("expired", "TOKEN_EXPIRED"),
        ("not_yet_valid", "TOKEN_NOT_YET_VALID"),
        ("unknown_issuer", "TOKEN_ISSUER_UNKNOWN"),
        ("symmetric", "TOKEN_ALGORITHM_REFUSED"),
        ("unsigned", "TOKEN_ALGORITHM_REFUSED"),
        ("no_subject", "TOKEN_CLAIM_MISSING"),
        ("bad_merchant_claim", "TOKEN_CLAIM_INVALID"),
        ("unknown_key", "TOKEN_KEY_UNKNOWN"),
        ("not_a_jwt", "TOKEN_MALFORMED"),
        ("not_bearer", "TOKEN_MALFORMED"),
    ],
)
async def test_tokens_the_gateway_must_refuse(rig: Rig, case: str, reason: str) -> None:
    now = rig.clock.now()
    platform = rig.platform
    claims = {
        "iss": platform.issuer,
        "aud": AUDIENCE,
        "sub": "u",
        "exp": int(now.timestamp()) + 600,
    }
    header = f"Bearer {platform.token('u', now)}"
    if case == "wrong_signature":
        impostor = PlatformSigner("demo", platform.issuer)
        impostor.key_id = platform.key_id  # the platform's key id, another key
        header = f"Bearer {impostor.token('u', now)}"
    elif case == "wrong_audience":
        header = f"Bearer {platform.token('u', now, aud='another-service')}"
    elif case == "expired":
        # Beyond the allowed skew (60 s) after expiry.
        header = f"Bearer {platform.token('u', now - dt.timedelta(minutes=20))}"
    elif case == "not_yet_valid":
        header = f"Bearer {platform.token('u', now, nbf=int(now.timestamp()) + 600)}"
    elif case == "unknown_issuer":
        header = f"Bearer {PlatformSigner('elsewhere').token('u', now)}"
    elif case == "symmetric":
        header = f"Bearer {jwt.encode(claims, 'a shared secret of enough length!', 'HS256')}"
    elif case == "unsigned":
        header = f"Bearer {jwt.encode(claims, None, 'none')}"
    elif case == "no_subject":
        header = f"Bearer {platform.token(None, now)}"  # type: ignore[arg-type]
    elif case == "bad_merchant_claim":
        header = f"Bearer {platform.token('u', now, merchant_uscc='91330106MA27XXXXX0')}"
    elif case == "unknown_key":
        header = f"Bearer {jwt.encode(claims, platform.key, 'ES256', headers={'kid': 'nope'})}"
    elif case == "not_a_jwt":
        header = "Bearer not.a.token"
    elif case == "not_bearer":
        header = "Basic dXNlcjpwYXNz"
    response = await rig.http.get(
        f"/v1/enterprises/{rig.uscc}/archive", headers={"Authorization": header}
    )
    _problem(response, 401, reason)
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_a_token_within_the_clock_skew_is_accepted(rig: Rig) -> None:
    just_expired = rig.platform.token(
        "u", rig.clock.now() - dt.timedelta(minutes=10, seconds=30)
    )  # expired 30 s ago
    response = await rig.http.get(
        f"/v1/enterprises/{rig.uscc}/archive", headers={"Authorization": f"Bearer {just_expired}"}
    )
    assert response.status_code == 200, response.text


async def test_a_rotated_platform_key_is_fetched_again(rig: Rig) -> None:
    path = f"/v1/enterprises/{rig.uscc}/archive"
    assert (await rig.http.get(path, headers=rig.bearer())).status_code == 200
    rig.platform.rotate()  # the platform publishes a new key under a new id
    assert (await rig.http.get(path, headers=rig.bearer())).status_code == 200


async def test_errors_are_problem_details_with_the_services_violations(rig: Rig) -> None:
    bad = await rig.http.get("/v1/enterprises/not-a-uscc/archive")
    body = _problem(bad, 400, "INVALID_ARGUMENT")
    assert body["field_violations"] and body["field_violations"][0]["field"]
    negative = await rig.http.get(
        f"/v1/enterprises/{rig.uscc}/disclosures", params={"pageSize": -1}
    )
    assert _problem(negative, 400, "REQUEST_INVALID")["field_violations"][0]["field"] == "pageSize"
    missing = await rig.http.get("/v1/no/such/route")
    _problem(missing, 404, "ROUTE_NOT_FOUND")
    for name, value in SECURITY_HEADERS.items():
        assert missing.headers[name] == value
    unknown = await rig.http.get(f"/v1/enterprises/{OTHER_USCC}/archive")
    assert unknown.status_code == 404
    checkpoint = await rig.http.get("/v1/ledger/checkpoint", params={"treeSize": 99})
    _problem(checkpoint, 404, "CHECKPOINT_NOT_FOUND")


async def test_the_openapi_document_describes_every_route_and_body(rig: Rig) -> None:
    document = (await rig.http.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    assert {"integrity.v1.Archive", "integrity.v1.ListDisclosuresResponse", "Problem"} <= set(
        schemas
    )
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            assert "422" not in responses, path
            success = responses.get("200") or responses["201"]
            ref = success["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in schemas
            assert responses["429"]["content"]["application/problem+json"]


async def test_a_merchants_listing_from_the_json_api_verifies_offline(
    rig: Rig, tmp_path: Path
) -> None:
    for n in range(3):
        await rig.http.get(f"/v1/enterprises/{rig.uscc}/archive", headers=rig.bearer(f"v{n}"))
    owner = rig.bearer("owner", merchant_uscc=rig.uscc)
    listing = await rig.http.get(f"/v1/enterprises/{rig.uscc}/disclosures", headers=owner)
    assert listing.status_code == 200, listing.text
    saved = tmp_path / "listing.json"
    saved.write_bytes(listing.content)
    checked = _offline_check(saved)
    assert checked.returncode == 0, checked.stderr
    assert "verified: 3 entries" in checked.stdout
    assert json.loads(listing.content)["checkpoint"]["treeSize"] == "3"


def _offline_check(saved: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "clients.ledger_verifier", "listing"]
    return subprocess.run(
        [*command, "--key", str(LEDGER.verifier), str(saved)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _anonymous_reads(
    http: httpx.AsyncClient, uscc: str, addresses: list[str]
) -> list[httpx.Response]:
    return [
        await http.get(f"/v1/enterprises/{uscc}/archive", headers={"X-Forwarded-For": address})
        for address in addresses
    ]


@pytest.fixture
def one_read_each(settings: Settings) -> Settings:
    """Anonymous visitors get one read per address, and another only much later."""
    limits = {**DEFAULT_LIMITS, LimitClass.ANONYMOUS: Limit(per_second=0.001, burst=1)}
    return dataclasses.replace(settings, rate_limits=limits)


async def test_forwarded_addresses_count_only_from_a_trusted_proxy(
    one_read_each: Settings, clock: TestClock
) -> None:
    async with gateway_rig(one_read_each, clock) as rig:
        # Not a trusted proxy: what it forwards is ignored, both reads are the same visitor.
        first, second = await _anonymous_reads(rig.http, rig.uscc, ["198.51.100.1", "198.51.100.2"])
        assert first.status_code == 200
        limited = _problem(second, 429, "RATE_LIMITED")
        assert int(second.headers["retry-after"]) >= 1 and limited["retry_after_seconds"] > 0
        proxy = tuple(parse_networks(["127.0.0.1"]))
        async with rig.another_gateway(trusted_proxies=proxy) as behind_proxy:
            # Through the trusted proxy: two visitors, each with a read of their own.
            reads = await _anonymous_reads(behind_proxy, rig.uscc, ["198.51.100.3", "198.51.100.4"])
            assert [r.status_code for r in reads] == [200, 200]
            # A visitor cannot be someone else by writing the header itself: the proxy
            # appends the address it saw, and that is the one that counts.
            spoofed = await _anonymous_reads(behind_proxy, rig.uscc, ["198.51.100.9, 198.51.100.3"])
            assert spoofed[0].status_code == 429
