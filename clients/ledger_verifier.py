"""Checks a downloaded disclosure listing against the log's key, offline.

A merchant downloads its disclosures (ListDisclosuresResponse in the protobuf JSON
mapping, as the gateway's /v1 API and `MessageToJson` write it) and checks, with the log's
verifier key obtained on its own (not from the listing):

- the checkpoint is signed by that key and says what the listing says it does;
- each entry's leaf data is the entry as listed (recipient, purpose, scenario, fields,
  time, the enterprise), and its audit path leads from that leaf to the checkpoint's root
  (RFC 9162 section 2.1.3.2);
- later, that a newer checkpoint extends one it kept (a consistency proof, section
  2.1.4.2): the log cannot drop or change an entry it once showed without that failing.

    python -m clients.ledger_verifier listing --key KEY listing.json
    python -m clients.ledger_verifier consistency --key KEY kept.txt proof.json
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.domain.checkpoint import Checkpoint, NoteInvalid, NoteVerifier, open_checkpoint
from service.domain.merkle import leaf_hash, verify_consistency, verify_inclusion
from service.domain.rfc3339 import parse_rfc3339

_TIER_PREFIX = "VIEWER_TIER_"


@dataclass(frozen=True)
class ListingCheck:
    checkpoint: Checkpoint | None
    verified: list[int] = field(default_factory=list)
    """Sequences of the entries proven to be in the checkpoint, as listed."""
    not_covered: list[int] = field(default_factory=list)
    """Entries newer than the checkpoint: no proof yet, ask again later."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.checkpoint is not None


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64 text")
    try:
        # The protobuf JSON mapping writes standard base64; readers accept URL-safe too.
        return base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None


def _time(value: Any) -> dt.datetime:
    parsed = parse_rfc3339(value)
    if parsed is None:
        raise ValueError("not an RFC 3339 time with its zone")
    return parsed


def _mismatches(listed: Mapping[str, Any], leaf: Mapping[str, Any]) -> list[str]:
    """Which of the listed fields the leaf data does not say."""
    name = str(listed.get("name", ""))
    uscc = name.split("/")[1] if name.startswith("enterprises/") and name.count("/") == 3 else ""
    recipient = leaf.get("recipient") or [None, None, None]
    tier = str(leaf.get("tier", ""))
    expected = {
        "enterprise": (uscc, leaf.get("subject")),
        "recipient": (listed.get("recipient", ""), recipient[1]),
        "recipientKind": (listed.get("recipientKind", ""), recipient[2]),
        "tier": (listed.get("tier", ""), _TIER_PREFIX + tier.upper().replace("-", "_")),
        "purpose": (listed.get("purpose", ""), leaf.get("purpose")),
        "scenario": (listed.get("scenario", ""), leaf.get("scenario")),
        "fields": (list(listed.get("fields", [])), leaf.get("fields")),
    }
    wrong = [key for key, (shown, signed) in expected.items() if shown != signed]
    try:
        if _time(listed.get("discloseTime")) != _time(leaf.get("time")):
            wrong.append("discloseTime")
    except ValueError:
        wrong.append("discloseTime")
    return wrong


def check_listing(document: Mapping[str, Any], verifier: NoteVerifier) -> ListingCheck:
    """Everything a listing proves, and every way it fails to."""
    signed = document.get("checkpoint")
    if not isinstance(signed, Mapping) or not signed.get("note"):
        return ListingCheck(None, problems=["the listing has no checkpoint to check against"])
    try:
        checkpoint = open_checkpoint(str(signed["note"]), verifier)
    except NoteInvalid as problem:
        return ListingCheck(None, problems=[f"the checkpoint: {problem}"])
    result = ListingCheck(checkpoint)
    stated = (int(signed.get("treeSize", 0)), signed.get("rootHash"))
    if stated != (checkpoint.size, base64.b64encode(checkpoint.root).decode()):
        result.problems.append("the listing's tree size or root is not the signed checkpoint's")
    for listed in document.get("disclosures", []):
        name = listed.get("name", "?")
        try:
            sequence = int(listed.get("sequence", 0))
            data = _bytes(listed.get("leafData"))
            leaf = json.loads(data)
            proof = [_bytes(p) for p in listed.get("inclusionProof", [])]
        except (ValueError, TypeError):
            result.problems.append(f"{name}: its sequence, leaf data or proof does not read")
            continue
        wrong = _mismatches(listed, leaf) if isinstance(leaf, dict) else ["the leaf data"]
        if wrong:
            result.problems.append(f"{name}: listed otherwise than signed ({', '.join(wrong)})")
            continue
        if sequence > checkpoint.size:
            result.not_covered.append(sequence)
        elif verify_inclusion(
            sequence - 1, checkpoint.size, leaf_hash(data), proof, checkpoint.root
        ):
            result.verified.append(sequence)
        else:
            result.problems.append(f"{name}: its inclusion proof does not lead to the root")
    return result


def check_consistency(
    kept_note: str, document: Mapping[str, Any], verifier: NoteVerifier
) -> tuple[Checkpoint, Checkpoint]:
    """The kept checkpoint and the newer one, if the proof (a
    GetLedgerConsistencyProofResponse in JSON) shows the newer extends the kept one;
    NoteInvalid naming what fails otherwise."""
    kept = open_checkpoint(kept_note, verifier)
    second = document.get("second") or {}
    newer = open_checkpoint(str(second.get("note", "")), verifier)
    try:
        proof = [_bytes(p) for p in document.get("proof", [])]
    except ValueError:
        raise NoteInvalid("the proof does not read") from None
    if not verify_consistency(kept.size, newer.size, kept.root, newer.root, proof):
        raise NoteInvalid(
            f"the checkpoint of {newer.size} entries does not extend the kept one of {kept.size}"
        )
    return kept, newer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.ledger_verifier", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("listing", help="check a downloaded disclosure listing")
    listing.add_argument("file", type=Path)
    consistency = commands.add_parser("consistency", help="check a newer checkpoint")
    consistency.add_argument("kept", type=Path, help="a checkpoint kept earlier (signed note)")
    consistency.add_argument("file", type=Path, help="GetLedgerConsistencyProofResponse JSON")
    for command in (listing, consistency):
        command.add_argument("--key", required=True, help="the log's verifier key")
    args = parser.parse_args(argv)
    try:
        verifier = NoteVerifier.parse(args.key)
        document = json.loads(args.file.read_text(encoding="utf-8"))
        if args.command == "consistency":
            kept, newer = check_consistency(
                args.kept.read_text(encoding="utf-8"), document, verifier
            )
            print(
                f"consistent: the log of {newer.size} entries extends the kept one of {kept.size}"
            )
            return 0
    except (OSError, ValueError) as failure:  # NoteInvalid is a ValueError
        print(f"NOT VERIFIED: {failure}", file=sys.stderr)
        return 1
    check = check_listing(document, verifier)
    for problem in check.problems:
        print(f"NOT VERIFIED: {problem}", file=sys.stderr)
    if check.ok:
        assert check.checkpoint is not None
        print(
            f"verified: {len(check.verified)} entries are in the log's checkpoint of "
            f"{check.checkpoint.size} entries, as listed"
            + (f"; {len(check.not_covered)} newer, not yet covered" if check.not_covered else "")
        )
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
