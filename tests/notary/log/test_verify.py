"""Verification refuses with a typed error whose message names the failed check."""

from __future__ import annotations

import pytest

from notary.crypto.sm3 import sm3
from notary.errors import VerificationError
from notary.log import (
    ConsistencyError,
    InclusionError,
    MerkleLog,
    ProofError,
    verify_consistency,
    verify_inclusion,
)
from notary.log.merkle import (
    consistency_proof_length,
    inclusion_proof_length,
    root_from_inclusion_proof,
)


@pytest.fixture(scope="module")
def log() -> MerkleLog:
    log = MerkleLog()
    log.append_many(f"entry {i}".encode() for i in range(100))
    return log


def test_error_hierarchy() -> None:
    # One class per failed check: the log's proofs raise the receipts' errors.
    assert issubclass(InclusionError, ProofError)
    assert issubclass(ConsistencyError, ProofError)
    assert issubclass(ProofError, VerificationError)
    assert InclusionError.check == "inclusion"
    assert ConsistencyError.check == "consistency"


def test_root_from_inclusion_proof_is_the_root(log: MerkleLog) -> None:
    proof = log.inclusion_proof(42, 77)
    assert root_from_inclusion_proof(sm3, 42, 77, log.leaf_hash(42), proof) == log.root(77)


@pytest.mark.parametrize(
    ("index", "size", "message"),
    [
        (5, 5, "leaf index 5 is not below tree size 5"),
        (9, 3, "leaf index 9 is not below tree size 3"),
        (-1, 3, "negative leaf index -1"),
        (0, 0, "leaf index 0 is not below tree size 0"),
    ],
)
def test_inclusion_index_outside_the_tree(index: int, size: int, message: str) -> None:
    with pytest.raises(InclusionError, match=message):
        verify_inclusion(sm3, index, size, sm3(b"x"), [], sm3(b"y"))


def test_inclusion_wrong_proof_length(log: MerkleLog) -> None:
    proof = log.inclusion_proof(3, 100)
    with pytest.raises(
        InclusionError,
        match=rf"wrong proof length: {len(proof) - 1} hashes for leaf 3 in a tree of size 100, "
        rf"expected {len(proof)}",
    ):
        verify_inclusion(sm3, 3, 100, log.leaf_hash(3), proof[:-1], log.root(100))


def test_inclusion_hash_of_the_wrong_size(log: MerkleLog) -> None:
    proof = log.inclusion_proof(3, 100)
    leaf, root = log.leaf_hash(3), log.root(100)
    with pytest.raises(InclusionError, match=r"proof\[2\] is 31 bytes, expected a 32-byte"):
        verify_inclusion(sm3, 3, 100, leaf, [*proof[:2], proof[2][1:], *proof[3:]], root)
    with pytest.raises(InclusionError, match="leaf hash is 33 bytes"):
        verify_inclusion(sm3, 3, 100, leaf + b"\0", proof, root)
    with pytest.raises(InclusionError, match="root is 0 bytes"):
        verify_inclusion(sm3, 3, 100, leaf, proof, b"")


def test_inclusion_root_mismatch_names_both_roots(log: MerkleLog) -> None:
    proof = log.inclusion_proof(3, 100)
    wrong = log.root(99)
    with pytest.raises(InclusionError, match=rf"root mismatch: .* to {log.root(100).hex()}"):
        verify_inclusion(sm3, 3, 100, log.leaf_hash(3), proof, wrong)


def test_the_tree_size_is_bound_by_the_root_not_by_the_proof(log: MerkleLog) -> None:
    """Leaf 0 has the same path shape in trees of size 3 and 4, so a proof against the
    size-3 root also "verifies" if the verifier is told size 4 with that root. Sizes and
    roots therefore must come together from a signed checkpoint, never separately."""
    proof = log.inclusion_proof(0, 3)
    verify_inclusion(sm3, 0, 4, log.leaf_hash(0), proof, log.root(3))
    with pytest.raises(InclusionError, match="root mismatch"):
        verify_inclusion(sm3, 0, 4, log.leaf_hash(0), proof, log.root(4))


def test_consistency_size1_greater_than_size2() -> None:
    with pytest.raises(ConsistencyError, match="size1 8 is greater than size2 5"):
        verify_consistency(sm3, 8, 5, sm3(b"a"), sm3(b"b"), [])
    with pytest.raises(ConsistencyError, match="negative tree size -1"):
        verify_consistency(sm3, -1, 5, sm3(b"a"), sm3(b"b"), [])


def test_consistency_wrong_proof_length(log: MerkleLog) -> None:
    proof = log.consistency_proof(10, 100)
    with pytest.raises(
        ConsistencyError,
        match=rf"wrong proof length: {len(proof) + 1} hashes from size 10 to 100, "
        rf"expected {len(proof)}",
    ):
        verify_consistency(sm3, 10, 100, log.root(10), log.root(100), [*proof, proof[0]])
    with pytest.raises(ConsistencyError, match="1 hashes between equal sizes, expected 0"):
        verify_consistency(sm3, 10, 10, log.root(10), log.root(10), [proof[0]])
    with pytest.raises(ConsistencyError, match="1 hashes from the empty tree, expected 0"):
        verify_consistency(sm3, 0, 10, log.root(0), log.root(10), [proof[0]])


def test_consistency_root_mismatch_says_which_root(log: MerkleLog) -> None:
    proof = log.consistency_proof(10, 100)
    r10, r100 = log.root(10), log.root(100)
    with pytest.raises(ConsistencyError, match=rf"not to root1 {r100.hex()}"):
        verify_consistency(sm3, 10, 100, r100, r100, proof)
    with pytest.raises(ConsistencyError, match=rf"not to root2 {r10.hex()}"):
        verify_consistency(sm3, 10, 100, r10, r10, proof)
    with pytest.raises(ConsistencyError, match="two different roots for the same size 10"):
        verify_consistency(sm3, 10, 10, r10, r100, [])


def test_consistency_hash_of_the_wrong_size(log: MerkleLog) -> None:
    proof = log.consistency_proof(10, 100)
    r10, r100 = log.root(10), log.root(100)
    with pytest.raises(ConsistencyError, match=r"proof\[0\] is 1 bytes"):
        verify_consistency(sm3, 10, 100, r10, r100, [b"x", *proof[1:]])
    with pytest.raises(ConsistencyError, match="root2 is 3 bytes"):
        verify_consistency(sm3, 10, 100, r10, b"abc", proof)


def test_proof_lengths_match_generated_proofs(log: MerkleLog) -> None:
    for size in range(1, 101):
        for index in range(size):
            assert inclusion_proof_length(index, size) == len(log.inclusion_proof(index, size))
        for size1 in range(1, size):
            got = len(log.consistency_proof(size1, size))
            assert consistency_proof_length(size1, size) == got
