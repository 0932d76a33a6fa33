"""The disclosure ledger's entries and their hash chain.

Each entry's hash covers its content and the hash of the entry before it, so changing,
removing or reordering any entry breaks every hash after it, and a check that recomputes
the chain names the first entry that no longer fits.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring as _json_string
from typing import Any

from service.domain.callers import Caller, CallerKind
from service.domain.errors import FieldViolation, InvalidArgument
from service.domain.verification import Decision
from service.domain.visibility import FieldGroup, Tier

GENESIS = bytes(32)

# What is disclosed besides the archive's own field groups: an eligibility decision, and a
# verification's outcome with its reasons and its per-field results.
ELIGIBILITY_DECISION = "eligibility_decision"
VERIFICATION_OUTCOME = "verification.outcome"
VERIFICATION_FIELD_CHECKS = "verification.field_checks"
DISCLOSABLE_FIELDS = frozenset(
    {*FieldGroup, ELIGIBILITY_DECISION, VERIFICATION_OUTCOME, VERIFICATION_FIELD_CHECKS}
)


def verification_fields(decision: Decision) -> frozenset[str]:
    """What a verification's answer shows of its enterprise: the outcome and reasons, the
    result for each submitted field, the legal representative (masked) and, when the
    registry had a record, that record's name, authority, status and licence term."""
    fields = {VERIFICATION_OUTCOME, VERIFICATION_FIELD_CHECKS, FieldGroup.LEGAL_REPRESENTATIVE}
    if decision.registry is not None:
        fields |= {FieldGroup.IDENTITY, FieldGroup.STATUS}
    return frozenset(fields)


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


def disclosed_to(
    caller: Caller,
    subject_uscc: str,
    *,
    tier: str,
    purpose: str,
    scenario: str,
    fields: Iterable[str],
    at: dt.datetime,
) -> DisclosureEntry:
    """The entry for showing `fields` of an enterprise to a caller; field groups sorted, so
    the same disclosure always reads (and hashes) the same."""
    return DisclosureEntry(
        subject_uscc=subject_uscc,
        recipient_id=caller.id,
        recipient_name=caller.name,
        recipient_kind=caller.kind.value,
        tier=tier,
        purpose=purpose,
        scenario=scenario,
        fields=tuple(sorted(fields)),
        disclose_time=at,
    )


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


class DisclosureEntryInvalid(InvalidArgument):
    """An entry the ledger will not store. It is refused to its own caller before it is
    queued, so it never shares a write transaction with anyone else's entry."""

    reason = "DISCLOSURE_ENTRY_INVALID"


# The table's purposes and scenarios, policy ids, and the codes ops and the gateway use.
_CODE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_CODE_SHAPE = "1 to 64 of a-z, 0-9, '_', '.' and '-', starting a-z or 0-9"
_RECIPIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,35}")
_USCC_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{18}")
_USCC_SHAPE_TEXT = "18 characters of the USCC alphabet"
RECIPIENT_NAME_MAX = 200
# Invisible or meaningless in a name, and refused by databases (surrogates, NUL).
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_KINDS = frozenset(CallerKind)
_TIERS = frozenset(Tier)


def _text_problem(value: Any, pattern: re.Pattern[str], shape: str) -> tuple[str, str] | None:
    if not isinstance(value, str):
        return "must be text", "NOT_TEXT"
    if not value:
        return "is required", "REQUIRED"
    if pattern.fullmatch(value) is None:
        return f"must be {shape}", "FORMAT_INVALID"
    return None


def _name_problem(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, str):
        return "must be text", "NOT_TEXT"
    if not value.strip():
        return "is required", "REQUIRED"
    if len(value) > RECIPIENT_NAME_MAX:
        return f"has at most {RECIPIENT_NAME_MAX} characters", "TOO_LONG"
    if value.isprintable():  # the usual case, at a fraction of the cost of the walk below
        return None
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) in _UNPRINTABLE:
            return (
                f"character {position} (U+{ord(char):04X}) is a control, format, surrogate, "
                "private-use or unassigned character",
                "CHARACTER_NOT_ALLOWED",
            )
    return None


def _member_problem(value: Any, members: frozenset[str], what: str) -> tuple[str, str] | None:
    if not isinstance(value, str) or value not in members:
        return f"must be one of: {', '.join(sorted(members))}", f"{what}_UNKNOWN"
    return None


def _fields_problem(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, tuple) or not all(isinstance(name, str) for name in value):
        return "must be a tuple of field group names", "NOT_TEXT"
    if not value:
        return "an entry discloses at least one field group", "REQUIRED"
    names = set(value)
    if not names <= DISCLOSABLE_FIELDS:
        unknown = ", ".join(sorted(names - DISCLOSABLE_FIELDS))
        return f"unknown field groups: {unknown}", "FIELD_UNKNOWN"
    if len(names) != len(value):
        return "names a field group twice", "FIELD_REPEATED"
    return None


def _time_problem(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, dt.datetime):
        return "is required", "REQUIRED"
    if value.utcoffset() is None:
        return "must carry its time zone", "TIME_NAIVE"
    return None


def _recipient_problems(
    recipient_id: Any,
    recipient_name: Any,
    recipient_kind: Any,
    tier: Any,
    purpose: Any,
    scenario: Any,
    fields: Any,
) -> dict[str, tuple[str, str] | None]:
    return {
        "recipient_id": _text_problem(
            recipient_id, _RECIPIENT_ID, "1 to 36 letters, digits, '_', '.', ':' or '-'"
        ),
        "recipient_name": _name_problem(recipient_name),
        "recipient_kind": _member_problem(recipient_kind, _KINDS, "KIND"),
        "tier": _member_problem(tier, _TIERS, "TIER"),
        "purpose": _text_problem(purpose, _CODE, _CODE_SHAPE),
        "scenario": _text_problem(scenario, _CODE, _CODE_SHAPE),
        "fields": _fields_problem(fields),
    }


@functools.lru_cache(maxsize=4096)
def _recipient_acceptable(*recipient_and_purpose: Any) -> bool:
    # Every read by one caller for one purpose repeats these: check each combination once.
    return not any(_recipient_problems(*recipient_and_purpose).values())


def _recipient_and_purpose(entry: DisclosureEntry) -> tuple[Any, ...]:
    return (
        entry.recipient_id,
        entry.recipient_name,
        entry.recipient_kind,
        entry.tier,
        entry.purpose,
        entry.scenario,
        entry.fields,
    )


def entry_problems(entry: DisclosureEntry) -> list[FieldViolation]:
    """Every field the ledger stores, checked as the ledger's table and hash need it.

    Descriptions never quote the value: a scenario or a name may carry anything.
    """
    problems = {
        "subject_uscc": _text_problem(entry.subject_uscc, _USCC_SHAPE, _USCC_SHAPE_TEXT),
        **_recipient_problems(*_recipient_and_purpose(entry)),
        "disclose_time": _time_problem(entry.disclose_time),
    }
    return [FieldViolation(field, *problem) for field, problem in problems.items() if problem]


def check_entry(entry: DisclosureEntry) -> None:
    """Raise DisclosureEntryInvalid naming every field of the entry the ledger would refuse."""
    try:
        recipient_acceptable = _recipient_acceptable(*_recipient_and_purpose(entry))
    except TypeError:  # unhashable, so certainly not text or a tuple of text
        recipient_acceptable = False
    if (
        recipient_acceptable
        and _text_problem(entry.subject_uscc, _USCC_SHAPE, _USCC_SHAPE_TEXT) is None
        and _time_problem(entry.disclose_time) is None
    ):
        return
    raise DisclosureEntryInvalid(
        entry_problems(entry), "the disclosure could not be recorded as asked"
    )
