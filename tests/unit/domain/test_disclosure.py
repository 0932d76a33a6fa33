"""The ledger's hash chain: what an entry's hash covers never changes, and tampering shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.disclosure import (
    GENESIS,
    ChainedEntry,
    DisclosureEntry,
    DisclosureEntryInvalid,
    chain_hash,
    check_chain,
    check_entry,
    entry_problems,
)

ENTRY = DisclosureEntry(
    subject_uscc="91330106MA27XXXXXX",
    recipient_id="0b7c6e1e-5d0a-4c39-9f43-1c2d3e4f5a6b",
    recipient_name='杭州"集市"\\平台',
    recipient_kind="platform",
    tier="platform",
    purpose="eligibility_evaluation",
    scenario="store_opening",
    fields=("eligibility_decision", "integrity_level"),
    disclose_time=dt.datetime(
        2026, 11, 23, 20, 15, 7, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8))
    ),
)


def reference_canonical(entry: DisclosureEntry) -> bytes:
    """The definition the ledger's first entries were hashed with."""
    document = {
        "subject": entry.subject_uscc,
        "recipient": [entry.recipient_id, entry.recipient_name, entry.recipient_kind],
        "tier": entry.tier,
        "purpose": entry.purpose,
        "scenario": entry.scenario,
        "fields": list(entry.fields),
        "time": entry.disclose_time.astimezone(dt.UTC).isoformat(),
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False).encode()


def test_a_known_entry_hashes_to_the_value_chains_already_hold() -> None:
    assert chain_hash(GENESIS, ENTRY).hex() == (
        "9c7a323823d23a586032d597d32a9aee16de4d8bc67129d3d27633ed1cde5004"
    )


@given(
    texts=st.lists(st.text(max_size=12), min_size=7, max_size=7),
    fields=st.lists(st.text(max_size=8), max_size=4),
    seconds=st.integers(min_value=0, max_value=4_000_000_000),
    microseconds=st.integers(min_value=0, max_value=999_999),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_canonical_bytes_are_sorted_key_json_for_any_text(
    texts: list[str], fields: list[str], seconds: int, microseconds: int, offset_minutes: int
) -> None:
    zone = dt.timezone(dt.timedelta(minutes=offset_minutes))
    entry = DisclosureEntry(
        *texts,
        fields=tuple(fields),
        disclose_time=dt.datetime.fromtimestamp(seconds, zone).replace(microsecond=microseconds),
    )
    assert entry.canonical() == reference_canonical(entry)


def chain(entries: list[DisclosureEntry]) -> list[ChainedEntry]:
    chained, previous = [], GENESIS
    for sequence, entry in enumerate(entries, start=1):
        entry_hash = chain_hash(previous, entry)
        chained.append(ChainedEntry(sequence, entry, previous, entry_hash))
        previous = entry_hash
    return chained


def test_a_changed_entry_is_named_and_so_is_a_removed_one() -> None:
    entries = [dataclasses.replace(ENTRY, scenario=f"s{n}") for n in range(5)]
    intact = chain(entries)
    assert check_chain(intact).first_broken is None
    assert check_chain(intact).checked == 5

    edited = list(intact)
    edited[2] = dataclasses.replace(edited[2], entry=dataclasses.replace(ENTRY, tier="ops"))
    assert check_chain(edited).first_broken == 3
    assert "content" in check_chain(edited).problem

    removed = intact[:2] + intact[3:]
    assert check_chain(removed).first_broken == 4
    assert "follow" in check_chain(removed).problem


def test_the_entries_the_service_writes_pass_the_ledgers_checks() -> None:
    assert entry_problems(ENTRY) == []
    for tier in ("anonymous", "logged_in", "merchant", "platform", "ops"):
        for fields in (("public.identity",), ("verification.outcome", "public.status")):
            assert entry_problems(dataclasses.replace(ENTRY, tier=tier, fields=fields)) == []


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("subject_uscc", "91330106MA27XXXXX", "FORMAT_INVALID"),
        ("subject_uscc", "91330106MA27XXXXXI", "FORMAT_INVALID"),
        ("recipient_id", "", "REQUIRED"),
        ("recipient_id", "x" * 37, "FORMAT_INVALID"),
        ("recipient_name", " ", "REQUIRED"),
        ("recipient_name", "平" * 201, "TOO_LONG"),
        ("recipient_name", "平台\x00", "CHARACTER_NOT_ALLOWED"),
        ("recipient_name", "平台\ud800", "CHARACTER_NOT_ALLOWED"),
        ("recipient_name", "平台\u202e", "CHARACTER_NOT_ALLOWED"),
        ("recipient_name", None, "NOT_TEXT"),
        ("recipient_kind", "merchant", "KIND_UNKNOWN"),
        ("tier", "everyone", "TIER_UNKNOWN"),
        ("purpose", "", "REQUIRED"),
        ("purpose", "Marketing", "FORMAT_INVALID"),
        ("scenario", "s" * 65, "FORMAT_INVALID"),
        ("scenario", "page\x00", "FORMAT_INVALID"),
        ("scenario", 7, "NOT_TEXT"),
        ("fields", (), "REQUIRED"),
        ("fields", ["public.identity"], "NOT_TEXT"),
        ("fields", ("public.identity", "contact_details"), "FIELD_UNKNOWN"),
        ("fields", ("public.identity", "public.identity"), "FIELD_REPEATED"),
        ("disclose_time", dt.datetime(2026, 11, 23), "TIME_NAIVE"),
        ("disclose_time", None, "REQUIRED"),
    ],
)
def test_each_field_the_ledger_stores_is_checked(field: str, value: Any, reason: str) -> None:
    bad = dataclasses.replace(ENTRY, **{field: value})
    with pytest.raises(DisclosureEntryInvalid) as refused:
        check_entry(bad)
    assert [(v.field, v.reason) for v in refused.value.violations] == [(field, reason)]
    # The value itself is never quoted back: it may be anything.
    if isinstance(value, str) and value.strip():
        assert all(value not in v.description for v in refused.value.violations)
