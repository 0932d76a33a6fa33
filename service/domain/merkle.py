"""The disclosure log's Merkle tree, as Certificate Transparency defines it (RFC 9162 §2.1).

The hash chain beside it (disclosure.py) catches an entry edited in place, but not a tail
cut off, nor a chain recomputed from the start by someone who can write the database. A
Merkle tree whose heads are signed and handed out (checkpoint.py) catches both: a signed
head commits to every entry up to its size, an inclusion proof shows one entry is under
it, and a consistency proof shows a later head extends an earlier one without changing it.

Leaves are numbered from 0: the ledger's entry with sequence s is leaf s - 1. A node is
a perfect subtree, (level, index), over leaves [index * 2**level, (index + 1) * 2**level).
Every range the RFC's definitions split a tree into is a run of such nodes, so proofs and
roots are computed from stored perfect nodes alone, a handful per proof (`perfect_parts`).

The proof algorithms name ranges of leaves, not hashes: the caller fetches the nodes they
need in one go, then `range_hash` folds each range. The verifiers are the RFC's own
(§2.1.3.2 and §2.1.4.2), step for step, so that a proof this module accepts is one any
other implementation of the RFC accepts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the hash of the empty string."""

Node = tuple[int, int]
"""(level, index): the perfect subtree over leaves [index << level, (index + 1) << level)."""
Range = tuple[int, int]
"""Leaves [start, end)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """k: the largest power of two smaller than size (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def perfect_parts(start: int, end: int) -> list[Node]:
    """The perfect subtrees of leaves [start, end), left to right, largest first: the
    nodes MTH(D[start:end]) is built of. start must be a multiple of the largest power of
    two not above end - start, as every range the RFC's recursion makes is."""
    parts = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"[{start}, {end}) is not a range of the tree")
        parts.append((level, start >> level))
        start += 1 << level
    return parts


def fold(parts: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect parts' hashes (left to right, largest first)."""
    if not parts:
        return EMPTY_ROOT
    result = parts[-1]
    for part in reversed(parts[:-1]):
        result = node_hash(part, result)
    return result


def range_hash(start: int, end: int, node: Callable[[Node], bytes]) -> bytes:
    """MTH(D[start:end]) from the hashes of its perfect parts."""
    return fold([node(part) for part in perfect_parts(start, end)])


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """PATH(index, D[size]) as the ranges whose hashes it lists, from the leaf up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    path.reverse()
    return path


def consistency_ranges(first: int, second: int) -> list[Range]:
    """PROOF(first, D[second]) as the ranges whose hashes it lists, in the RFC's order.
    Empty when first is 0 or equal to second (nothing to prove)."""
    if not 0 <= first <= second:
        raise ValueError(f"a tree of {first} is not a prefix of one of {second}")
    if first in (0, second):
        return []
    proof = []
    start, end, whole = 0, second, True
    while first != end:
        k = _split(end - start)
        if first - start <= k:
            proof.append((start + k, end))
            end = start + k
        else:
            proof.append((start, start + k))
            start += k
            whole = False
    if not whole:
        proof.append((start, end))
    proof.reverse()
    return proof


def nodes_needed(ranges: Iterable[Range]) -> set[Node]:
    """Every perfect node the ranges' hashes are built of."""
    return {part for start, end in ranges for part in perfect_parts(start, end)}


def frontier_parts(size: int) -> list[Node]:
    """The perfect subtrees a tree of `size` leaves is made of: what `extend` needs."""
    return perfect_parts(0, size)


def extend(
    frontier: Sequence[bytes], size: int, leaves: Iterable[bytes]
) -> tuple[list[bytes], int, list[tuple[Node, bytes]]]:
    """Append leaf hashes to a tree known by its frontier (the hashes of
    `frontier_parts(size)`): the new frontier, the new size, and every perfect node of
    level 1 or more the leaves completed, each once, as (node, hash)."""
    stack = list(frontier)
    completed: list[tuple[Node, bytes]] = []
    for leaf in leaves:
        value, level = leaf, 0
        while size & (1 << level):
            value = node_hash(stack.pop(), value)
            level += 1
            completed.append(((level, size >> level), value))
        stack.append(value)
        size += 1
    return stack, size, completed


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, all in memory: for tests and small trees."""
    frontier, _, _ = extend([], 0, leaves)
    return fold(frontier)


def _valid_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _past_right_edge(fn: int, sn: int) -> tuple[int, int]:
    """The RFC's step after hashing a node in from the left: if LSB(fn) is not set, shift
    both right until it is or fn is 0 (the levels where the node was the right edge)."""
    if not fn & 1:
        while not (fn & 1 or fn == 0):
            fn >>= 1
            sn >>= 1
    return fn, sn


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: whether `path` proves the leaf hash is leaf `index` of the tree
    of `size` leaves whose root is `root`."""
    if not (0 <= index < size) or not _valid_hash(leaf) or not _valid_hash(root):
        return False
    if not all(_valid_hash(p) for p in path):
        return False
    fn, sn, result = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(p, result)
            fn, sn = _past_right_edge(fn, sn)
        else:
            result = node_hash(result, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: whether `proof` shows the tree of `second` leaves with root
    `second_root` extends the one of `first` with `first_root`. Equal sizes need an empty
    proof and equal roots; any tree extends the empty one."""
    if not (0 <= first <= second) or not _valid_hash(first_root) or not _valid_hash(second_root):
        return False
    if not all(_valid_hash(p) for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            fn, sn = _past_right_edge(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
