"""Roots and proofs equal a plain transcription of RFC 9162 §2.1's recursive definitions.

The reference below is the RFC's MTH, PATH and PROOF/SUBPROOF written as the RFC
writes them, over ranges ``D[lo:hi]`` of one fixed list of entries, with its own
SHA-256 hashing; it shares no code with ``notary.log``. Every (index, size) and
every (size1, size2) up to 200 is compared exhaustively, then sampled sizes up to
5,000.
"""

from __future__ import annotations

import hashlib
import random
from functools import cache

import pytest

from notary.log import MerkleLog, leaf_hash, root_of, verify_consistency, verify_inclusion

N_EXHAUSTIVE = 200
N_SAMPLED = 5_000
ENTRIES = [f"entry {i}".encode() for i in range(N_SAMPLED)]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi])."""
    n = hi - lo
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + ENTRIES[lo]).digest()
    k = split(n)
    return hashlib.sha256(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi)).digest()


def path(m: int, lo: int, hi: int) -> list[bytes]:
    """PATH(m, D[lo:hi])."""
    n = hi - lo
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return [*path(m, lo, lo + k), mth(lo + k, hi)]
    return [*path(m - k, lo + k, hi), mth(lo, lo + k)]


def subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[lo:hi], b)."""
    n = hi - lo
    if m == n:
        return [] if b else [mth(lo, hi)]
    k = split(n)
    if m <= k:
        return [*subproof(m, lo, lo + k, b), mth(lo + k, hi)]
    return [*subproof(m - k, lo + k, hi, False), mth(lo, lo + k)]


def proof(m: int, n: int) -> list[bytes]:
    """PROOF(m, D[n]) for 0 < m < n."""
    return subproof(m, 0, n, True)


@pytest.fixture(scope="module")
def log() -> MerkleLog:
    log = MerkleLog(hash_fn=sha256)
    log.append_many(ENTRIES)
    return log


def test_roots_of_every_size_up_to_200(log: MerkleLog) -> None:
    for size in range(N_EXHAUSTIVE + 1):
        assert log.root(size) == mth(0, size), size
    leaves = [leaf_hash(sha256, e) for e in ENTRIES[:N_EXHAUSTIVE]]
    assert root_of(sha256, leaves) == mth(0, N_EXHAUSTIVE)


def test_inclusion_proofs_of_every_leaf_of_every_size_up_to_200(log: MerkleLog) -> None:
    for size in range(1, N_EXHAUSTIVE + 1):
        root = mth(0, size)
        for index in range(size):
            want = path(index, 0, size)
            assert log.inclusion_proof(index, size) == want, (index, size)
            verify_inclusion(sha256, index, size, mth(index, index + 1), want, root)


def test_consistency_proofs_between_every_pair_of_sizes_up_to_200(log: MerkleLog) -> None:
    for size2 in range(1, N_EXHAUSTIVE + 1):
        for size1 in range(1, size2):
            want = proof(size1, size2)
            assert log.consistency_proof(size1, size2) == want, (size1, size2)
            verify_consistency(sha256, size1, size2, mth(0, size1), mth(0, size2), want)
        assert log.consistency_proof(size2, size2) == []
        assert log.consistency_proof(0, size2) == []


def test_sampled_larger_sizes(log: MerkleLog) -> None:
    rnd = random.Random(2024)
    sizes = [*rnd.sample(range(N_EXHAUSTIVE, N_SAMPLED + 1), 40), 1024, 4096, N_SAMPLED]
    for size in sizes:
        assert log.root(size) == mth(0, size)
        for index in [0, size - 1, *rnd.sample(range(size), 10)]:
            assert log.inclusion_proof(index, size) == path(index, 0, size)
        for size1 in [1, size - 1, *rnd.sample(range(1, size), 10)]:
            assert log.consistency_proof(size1, size) == proof(size1, size)
