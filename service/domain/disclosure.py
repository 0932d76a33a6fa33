"""The disclosure ledger's entries and their hash chain.

Each entry's hash covers its content and the hash of the entry before it, so changing,
removing or reordering any entry breaks every hash after it, and a check that recomputes
the chain names the first entry that no longer fits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring as _json_string

GENESIS = bytes(32)


@dataclass(frozen=True)
class DisclosureEntry:
    subject_uscc: str
    recipient_id: str
    recipient_name: str
    recipient_kind: str
    tier: str
    purpose: str
    scenario: str
    fields: tuple[str, ...]
    disclose_time: dt.datetime

    def canonical(self) -> bytes:
        """What the hash covers: the bytes of json.dumps(document, sort_keys=True,
        ensure_ascii=False) for the document below, written out directly because every
        read hashes one entry and the generic encoder cost more than the hash itself.

            {"subject": subject_uscc, "recipient": [recipient_id, recipient_name,
             recipient_kind], "tier": tier, "purpose": purpose, "scenario": scenario,
             "fields": [*fields], "time": disclose_time in UTC, ISO 8601}

        Entries already chained were hashed over exactly these bytes, so they never change.
        """
        fields = ", ".join(map(_json_string, self.fields))
        time = self.disclose_time.astimezone(dt.UTC).isoformat()
        return (
            f'{{"fields": [{fields}], "purpose": {_json_string(self.purpose)}, '
            f'"recipient": [{_json_string(self.recipient_id)}, '
            f"{_json_string(self.recipient_name)}, {_json_string(self.recipient_kind)}], "
            f'"scenario": {_json_string(self.scenario)}, '
            f'"subject": {_json_string(self.subject_uscc)}, "tier": {_json_string(self.tier)}, '
            f'"time": "{time}"}}'
        ).encode()


def chain_hash(previous: bytes, entry: DisclosureEntry) -> bytes:
    return hashlib.sha256(previous + entry.canonical()).digest()


@dataclass(frozen=True)
class ChainedEntry:
    sequence: int
    entry: DisclosureEntry
    previous_hash: bytes
    entry_hash: bytes


@dataclass(frozen=True)
class ChainCheck:
    checked: int
    # The sequence number of the first entry that does not fit, or None when all do.
    first_broken: int | None
    problem: str = ""


def check_chain(entries: Iterable[ChainedEntry], previous: bytes = GENESIS) -> ChainCheck:
    """Walk entries in sequence order from `previous` (the hash before the first)."""
    checked = 0
    for chained in entries:
        if chained.previous_hash != previous:
            return ChainCheck(checked, chained.sequence, "does not follow the entry before it")
        if chain_hash(previous, chained.entry) != chained.entry_hash:
            return ChainCheck(checked, chained.sequence, "its content does not match its hash")
        previous = chained.entry_hash
        checked += 1
    return ChainCheck(checked, None)
