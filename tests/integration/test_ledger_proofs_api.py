"""A merchant's disclosures come with proofs over gRPC, and the offline verifier checks them.

The listing is downloaded as the protobuf JSON mapping writes it, and checked by
`python -m clients.ledger_verifier` in a process of its own, with the log's verifier key
and nothing else: it accepts the listing as served, and refuses it once an entry was
rewritten in the database (chain recomputed and all) or the listing was altered.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from integrity.v1 import disclosure_pb2

from clients import AsyncIntegrityClient, IntegrityCallError
from service.bootstrap import Application, bootstrap
from service.domain import merkle
from service.domain.callers import CallerKind
from service.domain.checkpoint import NoteSigner
from service.settings import Settings
from tests.clock import TestClock
from tests.conftest import RunningServer, _clean, serving
from tests.integration.test_archive import seed
from tests.integration.test_ledger_log import _rewrite_from

SIGNER = NoteSigner.generate("integrity.test/disclosures")
KEY = str(SIGNER.verifier)


@pytest.fixture
async def signing_server(settings: Settings, clock: TestClock) -> AsyncIterator[RunningServer]:
    app = await bootstrap(dataclasses.replace(settings, ledger_signer=SIGNER), clock=clock)
    await _clean(app)
    try:
        async with serving(app) as running:
            yield running
    finally:
        await app.close()


def _verify(tmp_path: Path, *args: str, document: object) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"document-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(document, ensure_ascii=False))
    return subprocess.run(
        [sys.executable, "-m", "clients.ledger_verifier", *args, "--key", KEY, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_merchants_listing_verifies_offline_and_a_rewrite_does_not(
    signing_server: RunningServer, tmp_path: Path
) -> None:
    app = signing_server.app
    row = await seed(app)
    uscc = str(row["uscc"])
    _caller, gateway = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    for n in range(5):
        async with AsyncIntegrityClient(
            signing_server.target, token=gateway, on_behalf_of=f"viewer:user-{n}"
        ) as viewer:
            await viewer.get_archive(uscc)
    async with AsyncIntegrityClient(
        signing_server.target, token=gateway, on_behalf_of=f"merchant:{uscc}:owner"
    ) as merchant:
        listing = await merchant.list_disclosures(uscc)
        # Published on demand: the listing's newest entry is in its checkpoint.
        assert listing.checkpoint.tree_size == 5
        assert listing.checkpoint.verifier_key == KEY
        assert all(d.inclusion_proof or d.sequence == 1 for d in listing.disclosures)
        document = MessageToDict(listing)
        verified = _verify(tmp_path, "listing", document=document)
        assert verified.returncode == 0, verified.stderr
        assert "verified: 5 entries are in the log's checkpoint of 5 entries" in verified.stdout

        # Shown otherwise than signed: the verifier names the entry and the field.
        altered = json.loads(json.dumps(document))
        altered["disclosures"][0]["purpose"] = "something_else"
        refused = _verify(tmp_path, "listing", document=altered)
        assert refused.returncode == 1
        assert "listed otherwise than signed (purpose)" in refused.stderr

        # Signed by another key: nothing verifies.
        forged = json.loads(json.dumps(document))
        forged["checkpoint"]["note"] = NoteSigner.generate(SIGNER.name).sign(
            listing.checkpoint.note.split("\n\n")[0] + "\n"
        )
        assert _verify(tmp_path, "listing", document=forged).returncode == 1

        kept = tmp_path / "kept-checkpoint.txt"
        kept.write_text(listing.checkpoint.note)

        # Someone with the database rewrites an entry and its chain: the listing now
        # served does not verify against the log's checkpoint.
        await _rewrite_from(app, 2, "marketing")
        rewritten = MessageToDict(await merchant.list_disclosures(uscc))
        result = _verify(tmp_path, "listing", document=rewritten)
        assert result.returncode == 1
        assert "enterprises/" in result.stderr and "inclusion proof does not lead" in (
            result.stderr
        )

        # More disclosures, a newer checkpoint: it extends the kept one.
        async with AsyncIntegrityClient(
            signing_server.target, token=gateway, on_behalf_of="viewer:later"
        ) as viewer:
            await viewer.get_archive(uscc)
        await app.ledger_log.publish()
        proof = await merchant.get_ledger_consistency_proof(5)
        assert proof.second.tree_size == 6 and proof.first.tree_size == 5
        consistent = _verify(tmp_path, "consistency", str(kept), document=MessageToDict(proof))
        assert consistent.returncode == 0, consistent.stderr
        assert "the log of 6 entries extends the kept one of 5" in consistent.stdout
        assert merkle.verify_consistency(
            5, 6, proof.first.root_hash, proof.second.root_hash, list(proof.proof)
        )

        latest = await merchant.get_ledger_checkpoint()
        assert latest.tree_size == 6 and latest.note.startswith(SIGNER.name + "\n6\n")
        assert (await merchant.get_ledger_checkpoint(5)).note == kept.read_text()
        with pytest.raises(IntegrityCallError) as missing:
            await merchant.get_ledger_checkpoint(4)
        assert missing.value.code.name == "NOT_FOUND"
        with pytest.raises(IntegrityCallError) as beyond:
            await merchant.get_ledger_consistency_proof(7)
        assert beyond.value.code.name == "INVALID_ARGUMENT"
        assert beyond.value.field_violations[0].field == "first_tree_size"


async def test_without_a_signing_key_listings_have_no_checkpoint(
    server: RunningServer, app: Application
) -> None:
    row = await seed(app)
    uscc = str(row["uscc"])
    _caller, gateway = await app.credentials.create_caller(CallerKind.GATEWAY, "gateway")
    async with AsyncIntegrityClient(server.target, token=gateway, on_behalf_of="viewer:v") as v:
        await v.get_archive(uscc)
    async with AsyncIntegrityClient(
        server.target, token=gateway, on_behalf_of=f"merchant:{uscc}:owner"
    ) as merchant:
        listing = await merchant.list_disclosures(uscc)
        assert not listing.HasField("checkpoint")
        assert listing.disclosures[0].leaf_data  # still what the entry's hash covers
        with pytest.raises(IntegrityCallError) as missing:
            await merchant.get_ledger_checkpoint()
        assert missing.value.code.name == "NOT_FOUND"
    assert isinstance(listing, disclosure_pb2.ListDisclosuresResponse)
