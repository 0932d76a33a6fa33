"""The Merkle tree against RFC 6962/9162's published vectors, and its proofs in every shape.

The vectors are the Certificate Transparency reference leaves and the tree heads, audit
paths and consistency proofs published for them (transparency-dev/merkle's test data): a
tree no other implementation agrees with would prove nothing to anyone else.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain import merkle
from service.domain.merkle import (
    EMPTY_ROOT,
    consistency_ranges,
    extend,
    frontier_parts,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    perfect_parts,
    range_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

LEAF_DATA = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
LEAVES = [leaf_hash(data) for data in LEAF_DATA]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# (leaf index from 0, tree size, audit path)
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (first size, second size, proof)
CONSISTENCY = [
    (1, 1, []),
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def _direct_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 defines it, recursively: the reference."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_direct_mth(leaves[:k]), _direct_mth(leaves[k:]))


def _node_lookup(leaves: list[bytes]):  # type: ignore[no-untyped-def]
    def node(part: merkle.Node) -> bytes:
        level, index = part
        return _direct_mth(leaves[index << level : (index + 1) << level])

    return node


def _hashes(ranges: list[merkle.Range], leaves: list[bytes]) -> list[bytes]:
    node = _node_lookup(leaves)
    return [range_hash(start, end, node) for start, end in ranges]


def test_the_hash_prefixes_are_the_rfcs() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest() == ROOTS[1]
    assert node_hash(LEAVES[0], LEAVES[1]) == ROOTS[2]
    assert ROOTS[0] == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_roots_are_the_published_tree_heads(size: int) -> None:
    assert root_of(LEAVES[:size]) == ROOTS[size]
    assert range_hash(0, size, _node_lookup(LEAVES)) == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_audit_paths_are_the_published_ones(index: int, size: int, path: list[str]) -> None:
    proof = _hashes(inclusion_ranges(index, size), LEAVES)
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(index, size, LEAVES[index], proof, ROOTS[size])


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_are_the_published_ones(
    first: int, second: int, path: list[str]
) -> None:
    proof = _hashes(consistency_ranges(first, second), LEAVES)
    assert [p.hex() for p in proof] == path
    assert verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


WRONG = b"\xab" * 32
MANY = [leaf_hash(i.to_bytes(4, "big")) for i in range(40)]


@pytest.mark.parametrize("size", range(1, 41))
def test_every_audit_path_verifies_and_no_altered_one_does(size: int) -> None:
    leaves = MANY[:size]
    root = _direct_mth(leaves)
    for index in range(size):
        proof = _hashes(inclusion_ranges(index, size), leaves)
        assert verify_inclusion(index, size, leaves[index], proof, root)
        assert not verify_inclusion(index, size, leaves[index], proof, MANY[-1])
        if size > 1:
            assert not verify_inclusion((index + 1) % size, size, leaves[index], proof, root)
            assert not verify_inclusion(index, size, leaves[index], proof[:-1], root)
            assert not verify_inclusion(index, size, leaves[index], [*proof, root], root)
            flipped = bytes([proof[0][0] ^ 1]) + proof[0][1:]
            assert not verify_inclusion(index, size, leaves[index], [flipped, *proof[1:]], root)
    assert not verify_inclusion(size, size, leaves[0], [], root)
    assert not verify_inclusion(-1, size, leaves[0], [], root)


@pytest.mark.parametrize("second", range(1, 34))
def test_every_consistency_proof_verifies_and_no_altered_one_does(second: int) -> None:
    roots = [_direct_mth(MANY[:n]) for n in range(second + 1)]
    for first in range(second + 1):
        proof = _hashes(consistency_ranges(first, second), MANY[:second])
        assert verify_consistency(first, second, roots[first], roots[second], proof)
        if 0 < first < second:
            assert proof
            assert not verify_consistency(first, second, roots[first], WRONG, proof)
            assert not verify_consistency(first, second, WRONG, roots[second], proof)
            assert not verify_consistency(first, second, roots[first], roots[second], proof[:-1])
            assert not verify_consistency(
                first, second, roots[first], roots[second], [*proof, WRONG]
            )
            flipped = bytes([proof[-1][0] ^ 1]) + proof[-1][1:]
            assert not verify_consistency(
                first, second, roots[first], roots[second], [*proof[:-1], flipped]
            )
            assert not verify_consistency(second, first, roots[second], roots[first], proof)


def test_degenerate_consistency_cases() -> None:
    assert verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    assert not verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [ROOTS[1]])
    assert verify_consistency(4, 4, ROOTS[4], ROOTS[4], [])
    assert not verify_consistency(4, 4, ROOTS[4], ROOTS[5], [])
    assert not verify_consistency(4, 4, ROOTS[4], ROOTS[4], [ROOTS[4]])
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], [])


def test_hashes_of_the_wrong_length_never_verify() -> None:
    proof = _hashes(inclusion_ranges(5, 8), LEAVES)
    assert not verify_inclusion(5, 8, LEAVES[5][:31], proof, ROOTS[8])
    assert not verify_inclusion(5, 8, LEAVES[5], [proof[0][:31], *proof[1:]], ROOTS[8])
    assert not verify_inclusion(5, 8, LEAVES[5], proof, ROOTS[8][:31])


@given(st.integers(min_value=0, max_value=300), st.integers(min_value=1, max_value=300))
def test_extending_the_frontier_gives_every_node_once_and_the_root(before: int, added: int) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(before + added)]
    node = _node_lookup(leaves)
    frontier = [node(part) for part in frontier_parts(before)]
    new_frontier, size, completed = extend(frontier, before, leaves[before:])
    assert size == before + added
    assert new_frontier == [node(part) for part in frontier_parts(size)]
    assert merkle.fold(new_frontier) == _direct_mth(leaves)
    expected = {
        (level, index)
        for level in range(1, size.bit_length())
        for index in range(size >> level)
        if (index + 1) << level > before
    }
    assert {n for n, _ in completed} == expected
    assert len(completed) == len(expected)
    assert all(value == node(n) for n, value in completed)


def test_ranges_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError):
        inclusion_ranges(3, 3)
    with pytest.raises(ValueError):
        consistency_ranges(4, 3)
    with pytest.raises(ValueError):
        perfect_parts(1, 3)
