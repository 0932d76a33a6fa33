"""Everything the service holds about the merchant's enterprise, in one machine-readable file.

The merchant's right of access: its archive at the merchant tier (registry facts, judicial
and regulatory entries, every platform's business records), its integrity levels over
time with their reasons, every verification with its field checks and history, and the
whole disclosure ledger of the enterprise with each entry's inclusion proof and the signed
checkpoint, so the download can be checked offline (clients/ledger_verifier.py) as it is.
The legal representative's name and ID number are masked, as the service shows them,
unless the request proves that person's identity (their name and ID number, checked by the
service): then every value held of them is included unmasked as well.

All pages of each listing are read, up to a bound that keeps one download from becoming a
denial of service; a listing cut at the bound says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from clients import AsyncIntegrityClient

FORMAT = "integrity-service/enterprise-data-export/v1"
MAX_PAGES = 50
PAGE_SIZE = 500


async def _all_pages(
    fetch: Callable[[str], Awaitable[Message]], items: str
) -> tuple[list[dict[str, Any]], dict[str, Any], bool, set[str]]:
    """Every item of a paged listing, the last page's other fields, whether it is complete,
    and the checkpoints (tree sizes) its pages came with."""
    collected: list[dict[str, Any]] = []
    token = ""
    last: dict[str, Any] = {}
    checkpoints: set[str] = set()
    for _ in range(MAX_PAGES):
        last = MessageToDict(await fetch(token))
        collected.extend(last.pop(items, []))
        checkpoints.add(str(last.get("checkpoint", {}).get("treeSize", "")))
        token = last.pop("nextPageToken", "")
        if not token:
            return collected, last, True, checkpoints
    return collected, last, False, checkpoints


async def export(
    client: AsyncIntegrityClient,
    uscc: str,
    now: dt.datetime,
    proof: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """proof: the legal representative's (name, ID number); first, so that a proof the
    service refuses fails the download before anything else is read."""
    unmasked = None
    if proof is not None:
        held = await client.export_personal_data(uscc, *proof)
        unmasked = [MessageToDict(value) for value in held]
    archive = MessageToDict(await client.get_archive(uscc))
    levels = [
        MessageToDict(level) for level in await client.list_integrity_levels(uscc, page_size=1000)
    ]
    verifications, _, verifications_complete, _ = await _all_pages(
        lambda token: client.list_verifications(uscc, page_size=PAGE_SIZE, page_token=token),
        "verifications",
    )
    for _attempt in range(3):
        # Proofs are against the checkpoint their page came with: read again if a new one
        # was published between pages, so that every proof is against the one included.
        disclosures, rest, disclosures_complete, seen = await _all_pages(
            lambda token: client.list_disclosures(uscc, page_size=PAGE_SIZE, page_token=token),
            "disclosures",
        )
        if len(seen) == 1:
            break
    document: dict[str, Any] = {
        "format": FORMAT,
        "enterprise": uscc,
        "export_time": now.astimezone(dt.UTC).isoformat(),
        "legal_representative": "masked as the service shows it; ask for the unmasked data "
        "with proof of that person's identity",
        "archive": archive,
        "integrity_levels": levels,
        "verifications": verifications,
        "verifications_complete": verifications_complete,
        # In the ListDisclosuresResponse shape, so the offline verifier reads it as it is.
        "disclosure_ledger": {"disclosures": disclosures, **rest},
        "disclosure_ledger_complete": disclosures_complete,
    }
    if unmasked is not None:
        document["legal_representative"] = (
            "masked in the parts above; every value held, unmasked, in "
            "legal_representative_unmasked (the request proved the person's identity)"
        )
        document["legal_representative_unmasked"] = unmasked
    return document


def export_schema() -> dict[str, Any]:
    """The download's JSON Schema, its parts the protos' own (proto_schema.py)."""

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    return {
        "type": "object",
        "required": ["format", "enterprise", "export_time", "archive"],
        "properties": {
            "format": {"const": FORMAT},
            "enterprise": {"type": "string"},
            "export_time": {"type": "string", "format": "date-time"},
            "legal_representative": {"type": "string"},
            "archive": ref("integrity.v1.Archive"),
            "integrity_levels": {"type": "array", "items": ref("integrity.v1.IntegrityLevel")},
            "verifications": {"type": "array", "items": ref("integrity.v1.Verification")},
            "verifications_complete": {"type": "boolean"},
            "disclosure_ledger": ref("integrity.v1.ListDisclosuresResponse"),
            "disclosure_ledger_complete": {"type": "boolean"},
            "legal_representative_unmasked": {
                "type": "array",
                "items": ref("integrity.v1.HeldPersonalValue"),
            },
        },
        "additionalProperties": False,
    }
