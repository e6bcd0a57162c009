"""The product hash is SM3 and its roots are pinned, so tree hashing cannot drift silently.

The pinned values were computed with ``gmssl``'s pure-Python SM3 (an implementation
independent of OpenSSL's) over the plain recursive MTH of RFC 9162 §2.1.1; the test
recomputes a few of them that way too.
"""

from __future__ import annotations

import pytest
from gmssl import sm3 as gmssl_sm3

from notary.crypto.sm3 import sm3
from notary.log import MerkleLog, empty_root, leaf_hash, node_hash, root_of, verify_inclusion
from notary.log.merkle import prefixed

LEAF_INPUTS = [
    bytes.fromhex(x)
    for x in (
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

# MTH with SM3 of the first n of the RFC 6962 test leaves, n = 0..8.
SM3_ROOTS = [
    "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b",
    "2daef60e7a0b8f5e024c81cd2ab3109f2b4f155cf83adeb2ae5532f74a157fdf",
    "0b990fe0c7ad70f1bf1a1262f2c7908ea48146b14253a6db99f2917ab1f5cc4d",
    "209ec96a210d662a964772680e8544d18cab7b88ffec3e00962220349b56ea56",
    "28e4e307ef6d2d0c62d84b11ef96e835efe490f35b93c8f024ecfe38c8dd4377",
    "bb10c996aeebbcdc69be3715fc847344de77442d37a5ab8213da9f41785b103b",
    "8723c1ab1f82ddfba4a3733ac0c80d936d9f4c208c7dbc8cc81ca9fff8584f66",
    "bd36c22a1ac6ff4308e0c3cc1a85bf0ffa30538ec60a55c70413ab15d45db4d2",
    "bc48ba7a709184b5f2a631e1adeb8dc2a0d4c018c1d6cc89b5664fe154c93b38",
]
# MTH with SM3 of b"entry 0" .. b"entry 999".
SM3_ROOT_1000 = "01e103d1ba55a81575574da6b8ef858402401ac254c220ea77eb8f4f570f68af"


def independent_sm3(data: bytes) -> bytes:
    return bytes.fromhex(gmssl_sm3.sm3_hash(list(data)))


def independent_mth(entries: list[bytes]) -> bytes:
    if not entries:
        return independent_sm3(b"")
    if len(entries) == 1:
        return independent_sm3(b"\x00" + entries[0])
    k = 1
    while k * 2 < len(entries):
        k *= 2
    return independent_sm3(b"\x01" + independent_mth(entries[:k]) + independent_mth(entries[k:]))


def test_the_log_hashes_with_sm3_by_default() -> None:
    log = MerkleLog()
    assert log.hash_fn is sm3
    assert log.root() == sm3(b"") == empty_root(sm3)
    log.append(b"abc")
    assert log.root() == sm3(b"\x00abc")


@pytest.mark.parametrize("size", range(9))
def test_pinned_sm3_roots_of_the_rfc6962_leaves(size: int) -> None:
    log = MerkleLog()
    log.append_many(LEAF_INPUTS[:size])
    assert log.root().hex() == SM3_ROOTS[size]


@pytest.mark.parametrize("size", [0, 1, 3, 8])
def test_pinned_roots_agree_with_an_independent_sm3(size: int) -> None:
    assert independent_mth(LEAF_INPUTS[:size]).hex() == SM3_ROOTS[size]


def test_pinned_sm3_root_of_a_thousand_entries() -> None:
    log = MerkleLog()
    for i in range(1000):
        log.append(f"entry {i}".encode())
    assert log.root().hex() == SM3_ROOT_1000
    leaves = [leaf_hash(sm3, f"entry {i}".encode()) for i in range(1000)]
    assert root_of(sm3, leaves).hex() == SM3_ROOT_1000


def test_sm3_fast_path_equals_hashing_the_concatenation() -> None:
    """SM3's precomputed-prefix hashing is only an optimisation of HASH(prefix || data)."""

    def plain_sm3(data: bytes) -> bytes:
        return sm3(data)

    leaf_fast, node_fast = prefixed(sm3)
    leaf_plain, node_plain = prefixed(plain_sm3)
    assert leaf_plain is not leaf_fast
    for data in (b"", b"x", bytes(64), bytes(range(256)) * 5):
        assert leaf_fast(data) == leaf_plain(data) == sm3(b"\x00" + data)
        assert node_fast(data) == node_plain(data) == sm3(b"\x01" + data)
    a, b = sm3(b"a"), sm3(b"b")
    assert node_hash(sm3, a, b) == node_hash(plain_sm3, a, b) == sm3(b"\x01" + a + b)

    fast, plain = MerkleLog(), MerkleLog(hash_fn=plain_sm3)
    entries = [f"entry {i}".encode() for i in range(1000)]
    fast.append_many(entries)
    plain.append_many(entries)
    assert fast.root(777) == plain.root(777)
    assert fast.inclusion_proof(500, 777) == plain.inclusion_proof(500, 777)
    verify_inclusion(
        plain_sm3, 500, 777, fast.leaf_hash(500), fast.inclusion_proof(500, 777), fast.root(777)
    )
