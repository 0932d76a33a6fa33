"""The disclosure ledger as a verifiable log: checkpoints, proofs, and the ops audit.

A checkpoint is published by the server at intervals and on demand. Anyone the service
admits may read a checkpoint and ask for a consistency proof between two sizes; a
merchant's disclosure listing carries an inclusion proof for each entry
(disclosures.py). The audit rebuilds the tree from the entries alone and holds it
against every checkpoint the log published, and against one kept elsewhere if ops
have it: an entry edited, a tail cut off, or a past rewritten all show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from service.app.ports import LedgerTree
from service.domain.checkpoint import (
    Checkpoint,
    NoteInvalid,
    NoteVerifier,
    PublishedCheckpoint,
    open_checkpoint,
)
from service.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound


@dataclass(frozen=True)
class ConsistencyProof:
    first: PublishedCheckpoint | None
    """The checkpoint of the first size, if one was published at it."""
    second: PublishedCheckpoint
    first_size: int
    proof: Sequence[bytes]


@dataclass(frozen=True)
class LedgerAudit:
    entries: int
    first_broken: int | None
    """The first entry that does not chain onto the one before it."""
    checkpoints: int
    """Checkpoints held against the rebuilt tree (the trusted one included)."""
    latest_size: int | None
    problems: list[str] = field(default_factory=list)
    """What does not hold, one sentence each; empty when the log is intact."""

    @property
    def intact(self) -> bool:
        return self.first_broken is None and not self.problems


def _not_signing() -> FailedPrecondition:
    return FailedPrecondition(
        "this service has no checkpoint signing key (INTEGRITY_LEDGER_KEY_FILE)",
        reason="LEDGER_NOT_SIGNED",
    )


class DisclosureLog:
    def __init__(self, tree: LedgerTree, verifier: NoteVerifier | None) -> None:
        self._tree = tree
        self.verifier = verifier
        """The log's public key; None when this service does not sign checkpoints."""

    @property
    def signing(self) -> bool:
        return self._tree.signing

    async def publish(self) -> PublishedCheckpoint:
        """Integrate what was appended and sign the new head (or the last, if nothing was)."""
        if not self._tree.signing:
            raise _not_signing()
        published = await self._tree.publish()
        if published is None:
            raise NotFound("the disclosure log is empty", reason="LEDGER_EMPTY")
        return published

    async def checkpoint(self, size: int = 0) -> PublishedCheckpoint:
        """The checkpoint of that size, or the latest (size 0)."""
        if size < 0:
            raise InvalidArgument(
                [FieldViolation("tree_size", "must not be negative", "TREE_SIZE_NEGATIVE")]
            )
        found = await (self._tree.at_size(size) if size else self._tree.latest())
        if found is None:
            which = f"of size {size}" if size else "yet"
            raise NotFound(f"no checkpoint {which}", reason="CHECKPOINT_NOT_FOUND")
        return found

    async def latest(self) -> PublishedCheckpoint | None:
        return await self._tree.latest()

    async def inclusion_proofs(self, sequences: Sequence[int], size: int) -> dict[int, list[bytes]]:
        return await self._tree.inclusion_proofs(sequences, size)

    async def consistency(self, first: int, second: int) -> ConsistencyProof:
        """A proof that the log at size `second` (a published checkpoint; 0: the latest)
        extends itself at size `first`."""
        violations = []
        if first < 0:
            violations.append(
                FieldViolation("first_tree_size", "must not be negative", "TREE_SIZE_NEGATIVE")
            )
        if second < 0:
            violations.append(
                FieldViolation("second_tree_size", "must not be negative", "TREE_SIZE_NEGATIVE")
            )
        if violations:
            raise InvalidArgument(violations)
        later = await self.checkpoint(second)
        if first > later.checkpoint.size:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "first_tree_size",
                        f"must not be above the second checkpoint's size ({later.checkpoint.size})",
                        "TREE_SIZE_BEYOND_CHECKPOINT",
                    )
                ]
            )
        proof = await self._tree.consistency_proof(first, later.checkpoint.size)
        earlier = await self._tree.at_size(first) if first else None
        return ConsistencyProof(earlier, later, first, proof)

    async def audit(
        self, trusted_note: str | None = None, verifier: NoteVerifier | None = None
    ) -> LedgerAudit:
        """Rebuild the tree from the entries and hold it against every checkpoint, and a
        trusted one (a signed note kept elsewhere) if given; signatures are checked with
        `verifier`, else the service's own key."""
        verifier = verifier or self.verifier
        trusted: Checkpoint | None = None
        if trusted_note is not None:
            if verifier is None:
                raise InvalidArgument(
                    [
                        FieldViolation(
                            "key", "a checkpoint is checked with the log's key", "REQUIRED"
                        )
                    ]
                )
            try:
                trusted = open_checkpoint(trusted_note, verifier)
            except NoteInvalid as problem:
                raise InvalidArgument(
                    [FieldViolation("checkpoint", str(problem), "CHECKPOINT_INVALID")]
                ) from None
        published = await self._tree.checkpoints()
        held = [(p.checkpoint, f"checkpoint {p.checkpoint.size}") for p in published]
        if trusted is not None:
            held.append((trusted, f"the trusted checkpoint {trusted.size}"))
        rebuilt = await self._tree.rebuild([c.size for c, _ in held])
        problems: list[str] = []
        if verifier is not None:
            for stored in published:
                try:
                    valid = open_checkpoint(stored.note, verifier) == stored.checkpoint
                except NoteInvalid:
                    valid = False
                if not valid:
                    problems.append(
                        f"checkpoint {stored.checkpoint.size} is not one the log's key signed"
                    )
        for checkpoint, name in held:
            if checkpoint.size > rebuilt.entries:
                problems.append(
                    f"TRUNCATED: {name} covers {checkpoint.size} entries, the ledger holds "
                    f"{rebuilt.entries}"
                )
            elif rebuilt.roots.get(checkpoint.size) != checkpoint.root:
                problems.append(
                    f"REWRITTEN: the first {checkpoint.size} entries no longer hash to the "
                    f"root {name} signed"
                )
        latest = published[-1].checkpoint.size if published else None
        if trusted is not None and (latest is None or trusted.size > latest):
            problems.append(
                f"the log's own checkpoints stop at {latest or 0}, before the trusted "
                f"checkpoint {trusted.size}"
            )
        return LedgerAudit(rebuilt.entries, rebuilt.first_broken, len(held), latest, problems)
