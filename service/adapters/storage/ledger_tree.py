"""The disclosure ledger's Merkle tree and signed checkpoints, in the database.

Appending stays as it was (ledger_append.py): the hottest write in the service gains no
work. The tree is integrated afterwards, as Certificate Transparency logs integrate their
entries within a merge delay: publishing a checkpoint reads the entries appended since the
last one, hashes them into the tree, stores the perfect subtrees they complete, and signs
the new head, all in one transaction. A checkpoint is published at intervals by the
server and on demand (ops, or a listing that has entries newer than the last one).

Before it signs, the publisher checks that the tree it extends is the one the last
checkpoint signed (its stored frontier folds to that root) and that the new entries chain
onto the last integrated one: a log that would sign over a rewritten past refuses to, as
the checkpoint format requires ("a log MUST not sign any checkpoint which is inconsistent
with any checkpoint it previously signed").

Writers on several replicas take turns through a lock (PostgreSQL) or the single writer
(SQLite); entries are appended under the ledger's own lock in sequence order, so what a
publisher reads is always a prefix of the ledger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.storage.engine import is_sqlite, read_connection, write_transaction
from service.adapters.storage.ledger import entry_from_row
from service.adapters.storage.tables import disclosure_ledger, ledger_checkpoints, ledger_tree_nodes
from service.app.ports import Clock, LedgerTampered, RebuiltTree
from service.domain import merkle
from service.domain.checkpoint import Checkpoint, NoteSigner, PublishedCheckpoint
from service.domain.disclosure import GENESIS, ChainedEntry, check_chain

PG_TREE_LOCK = 0x4C545245  # "LTRE"
_CHUNK = 5000
_LOOKUP_CHUNK = 500


def _stored(row: Any) -> PublishedCheckpoint:
    return PublishedCheckpoint(
        Checkpoint(row.origin, int(row.tree_size), bytes(row.root_hash)),
        row.note,
        row.publish_time,
    )


def leaf_of(entry: ChainedEntry) -> bytes:
    """The Merkle leaf of an entry: the hash of the same canonical bytes the chain covers."""
    return merkle.leaf_hash(entry.entry.canonical())


async def _entries(
    connection: AsyncConnection, after: int, upto: int | None = None
) -> AsyncIterator[list[ChainedEntry]]:
    """The ledger's entries after sequence `after` (and up to `upto`), a chunk at a time."""
    while True:
        query = select(disclosure_ledger).where(disclosure_ledger.c.sequence > after)
        if upto is not None:
            query = query.where(disclosure_ledger.c.sequence <= upto)
        query = query.order_by(disclosure_ledger.c.sequence).limit(_CHUNK)
        chunk = [entry_from_row(row) for row in await connection.execute(query)]
        if not chunk:
            return
        yield chunk
        after = chunk[-1].sequence


async def _nodes(
    connection: AsyncConnection, wanted: Iterable[merkle.Node]
) -> dict[merkle.Node, bytes]:
    """The hashes of perfect subtrees: stored ones from the tree, leaves from their entries."""
    wanted = set(wanted)
    found: dict[merkle.Node, bytes] = {}
    inner = sorted(n for n in wanted if n[0] > 0)
    leaves = sorted(n[1] + 1 for n in wanted if n[0] == 0)
    for start in range(0, len(inner), _LOOKUP_CHUNK):
        keys = inner[start : start + _LOOKUP_CHUNK]
        query = select(ledger_tree_nodes).where(
            tuple_(ledger_tree_nodes.c.level, ledger_tree_nodes.c.node_index).in_(keys)
        )
        for row in await connection.execute(query):
            found[(int(row.level), int(row.node_index))] = bytes(row.hash)
    for start in range(0, len(leaves), _LOOKUP_CHUNK):
        sequences = leaves[start : start + _LOOKUP_CHUNK]
        query = select(disclosure_ledger).where(disclosure_ledger.c.sequence.in_(sequences))
        for row in await connection.execute(query):
            entry = entry_from_row(row)
            found[(0, entry.sequence - 1)] = leaf_of(entry)
    missing = wanted - found.keys()
    if missing:
        raise LedgerTampered(f"{len(missing)} nodes of the tree are missing, first {min(missing)}")
    return found


def _hash_of(nodes: dict[merkle.Node, bytes], ranges: Sequence[merkle.Range]) -> list[bytes]:
    return [merkle.range_hash(start, end, nodes.__getitem__) for start, end in ranges]


class SqlLedgerTree:
    def __init__(self, engine: AsyncEngine, clock: Clock, signer: NoteSigner | None) -> None:
        self._engine = engine
        self._clock = clock
        self._signer = signer

    @property
    def signing(self) -> bool:
        """Whether this process can publish checkpoints (it has the log's key)."""
        return self._signer is not None

    async def latest(self) -> PublishedCheckpoint | None:
        async with read_connection(self._engine) as connection:
            return await self._latest(connection)

    async def at_size(self, size: int) -> PublishedCheckpoint | None:
        query = select(ledger_checkpoints).where(ledger_checkpoints.c.tree_size == size)
        async with read_connection(self._engine) as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _stored(row)

    async def _latest(self, connection: AsyncConnection) -> PublishedCheckpoint | None:
        query = select(ledger_checkpoints).order_by(ledger_checkpoints.c.tree_size.desc()).limit(1)
        row = (await connection.execute(query)).first()
        return None if row is None else _stored(row)

    async def publish(self) -> PublishedCheckpoint | None:
        """Integrate the entries appended since the last checkpoint and sign a checkpoint
        of the new size; the last one when nothing was appended; None without a key (or
        with an empty ledger and no checkpoint yet). LedgerTampered if the stored tree is
        no longer the one the last checkpoint signed."""
        signer = self._signer
        if signer is None:
            return await self.latest()
        async with write_transaction(self._engine) as connection:
            if not is_sqlite(self._engine):
                await connection.execute(text(f"SELECT pg_advisory_xact_lock({PG_TREE_LOCK})"))
            last = await self._latest(connection)
            size = 0 if last is None else last.checkpoint.size
            parts = merkle.frontier_parts(size)
            found = await _nodes(connection, parts) if size else {}
            frontier = [found[part] for part in parts]
            if last is not None and merkle.fold(frontier) != last.checkpoint.root:
                raise LedgerTampered(
                    f"the tree of {size} entries is not the one checkpoint {size} signed"
                )
            # Nodes past the last checkpoint exist only if checkpoints were removed: each
            # integration commits its nodes with its checkpoint.
            beyond = select(ledger_tree_nodes.c.level).where(
                ledger_tree_nodes.c.level == 1, ledger_tree_nodes.c.node_index >= size >> 1
            )
            if (await connection.execute(beyond.limit(1))).first() is not None:
                raise LedgerTampered(
                    f"the tree goes on past checkpoint {size}, the last one the log holds: "
                    "later checkpoints were removed"
                )
            previous = GENESIS
            if size:
                row = (
                    await connection.execute(
                        select(disclosure_ledger.c.entry_hash).where(
                            disclosure_ledger.c.sequence == size
                        )
                    )
                ).first()
                if row is None:
                    raise LedgerTampered(f"entry {size}, the last one signed, is missing")
                previous = bytes(row.entry_hash)
            grown = size
            async for chunk in _entries(connection, size):
                check = check_chain(chunk, previous)
                if check.first_broken is not None:
                    raise LedgerTampered(f"entry {check.first_broken} {check.problem}")
                if chunk[0].sequence != grown + 1 or chunk[-1].sequence != grown + len(chunk):
                    raise LedgerTampered(f"the ledger skips numbers after entry {grown}")
                frontier, grown, completed = merkle.extend(
                    frontier, grown, [leaf_of(entry) for entry in chunk]
                )
                if completed:
                    await connection.execute(
                        ledger_tree_nodes.insert(),
                        [{"level": n[0], "node_index": n[1], "hash": h} for n, h in completed],
                    )
                previous = chunk[-1].entry_hash
            if grown == size:
                return last  # nothing appended: nothing new to sign (an empty log, none)
            checkpoint = Checkpoint(signer.name, grown, merkle.fold(frontier))
            stored = PublishedCheckpoint(
                checkpoint, signer.sign(checkpoint.text()), self._clock.now()
            )
            await connection.execute(
                ledger_checkpoints.insert().values(
                    tree_size=checkpoint.size,
                    root_hash=checkpoint.root,
                    origin=checkpoint.origin,
                    note=stored.note,
                    publish_time=stored.publish_time,
                )
            )
            return stored

    async def inclusion_proofs(self, sequences: Sequence[int], size: int) -> dict[int, list[bytes]]:
        """Each entry's audit path in the tree of `size` entries (entries beyond it have none)."""
        ranges = {s: merkle.inclusion_ranges(s - 1, size) for s in sequences if 0 < s <= size}
        async with read_connection(self._engine) as connection:
            nodes = await _nodes(
                connection, merkle.nodes_needed(r for rs in ranges.values() for r in rs)
            )
        return {s: _hash_of(nodes, rs) for s, rs in ranges.items()}

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        ranges = merkle.consistency_ranges(first, second)
        async with read_connection(self._engine) as connection:
            nodes = await _nodes(connection, merkle.nodes_needed(ranges))
        return _hash_of(nodes, ranges)

    async def checkpoints(self) -> list[PublishedCheckpoint]:
        """Every checkpoint published, smallest first."""
        query = select(ledger_checkpoints).order_by(ledger_checkpoints.c.tree_size)
        async with read_connection(self._engine) as connection:
            return [_stored(row) for row in await connection.execute(query)]

    async def rebuild(self, sizes: Iterable[int]) -> RebuiltTree:
        """The tree rebuilt from the entries alone, nothing stored trusted: the root at each
        of `sizes` the ledger reaches, how many entries it holds, and the first entry that
        does not chain onto the one before it."""
        targets = sorted(set(sizes))
        roots: dict[int, bytes] = {}
        frontier: list[bytes] = []
        count, previous, broken = 0, GENESIS, None
        if 0 in targets:
            roots[0] = merkle.EMPTY_ROOT
        async with read_connection(self._engine) as connection:
            async for chunk in _entries(connection, 0):
                if broken is None:
                    check = check_chain(chunk, previous)
                    broken = check.first_broken
                    if broken is None and chunk[-1].sequence != count + len(chunk):
                        broken = next(
                            e.sequence for n, e in enumerate(chunk, count + 1) if e.sequence != n
                        )
                    previous = chunk[-1].entry_hash
                leaves = [leaf_of(entry) for entry in chunk]
                for target in [t for t in targets if count < t <= count + len(leaves)]:
                    taken = target - count
                    frontier, count, _ = merkle.extend(frontier, count, leaves[:taken])
                    leaves = leaves[taken:]
                    roots[target] = merkle.fold(frontier)
                frontier, count, _ = merkle.extend(frontier, count, leaves)
        return RebuiltTree(count, roots, broken)
