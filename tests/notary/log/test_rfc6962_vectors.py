"""With SHA-256 the log is RFC 6962: it reproduces Certificate Transparency's vectors.

Vectors copied from github.com/transparency-dev/merkle:
- ``testonly/constants.go``: the 8 leaf inputs, the hashes of every complete subtree
  (``NodeHashes``) and the roots of the trees of size 0..8 (``RootHashes``);
- ``proof/verify_test.go``: the inclusion and consistency proofs, the probes that
  corrupt them (``corruptInclusionProof``, ``corruptConsistencyProof``) and the
  edge-case tables of ``TestVerifyInclusionSingleEntry``, ``TestVerifyInclusion``
  and ``TestVerifyConsistency``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import partial

import pytest

from notary.log import (
    ConsistencyError,
    InclusionError,
    MemoryTreeStorage,
    MerkleLog,
    ProofError,
    empty_root,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def h(hex_digest: str) -> bytes:
    return bytes.fromhex(hex_digest)


LEAF_INPUTS = [
    h(x)
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

# NodeHashes()[level][index]: every complete subtree of the 8-leaf tree.
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]

EMPTY_ROOT = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# RootHashes()[size] for size 0..8.
ROOTS = [
    EMPTY_ROOT,
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# verify_test.go's inclusionProofs, whose leaf numbers are 1-based: {1, 8} is index 0.
INCLUSION_PROOFS = [
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# verify_test.go's consistencyProofs ({1, 1, nil} is covered by the edge-case table).
CONSISTENCY_PROOFS = [
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


@pytest.fixture(scope="module")
def log() -> MerkleLog:
    log = MerkleLog(MemoryTreeStorage(), hash_fn=sha256)
    log.append_many(LEAF_INPUTS)
    return log


def rejects(check: Callable[[], None]) -> bool:
    try:
        check()
    except ProofError:
        return True
    return False


# --- roots and stored nodes ---------------------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert empty_root(sha256) == EMPTY_ROOT
    assert MerkleLog(hash_fn=sha256).root() == EMPTY_ROOT
    assert root_of(sha256, []) == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_root_of_every_prefix_matches_ct(log: MerkleLog, size: int) -> None:
    assert log.root(size) == ROOTS[size]
    assert root_of(sha256, [leaf_hash(sha256, e) for e in LEAF_INPUTS[:size]]) == ROOTS[size]


def test_root_grows_with_each_append_as_ct() -> None:
    log = MerkleLog(hash_fn=sha256)
    for size, entry in enumerate(LEAF_INPUTS, start=1):
        assert log.append(entry) == size - 1
        assert log.root() == ROOTS[size]


def test_storage_holds_exactly_ct_complete_subtrees(log: MerkleLog) -> None:
    for level, row in enumerate(NODE_HASHES):
        keys = [(level, i) for i in range(len(row))]
        assert log.storage.get_nodes(keys) == row
    with pytest.raises(KeyError):
        log.storage.get_nodes([(4, 0)])


# --- known-good proofs: generated identically, verify, and every corruption is refused ---


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_inclusion_proof_matches_ct(
    log: MerkleLog, index: int, size: int, proof: list[bytes]
) -> None:
    assert log.inclusion_proof(index, size) == proof
    verify_inclusion(sha256, index, size, leaf_hash(sha256, LEAF_INPUTS[index]), proof, ROOTS[size])


def corrupt_inclusion(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, int, int, bytes, list[bytes], bytes]]:
    """verify_test.go ``corruptInclusionProof``: (desc, index, size, leaf, proof, root)."""
    probes = [
        ("leafIndex - 1", index - 1, size, leaf, proof, root),
        ("leafIndex + 1", index + 1, size, leaf, proof, root),
        ("leafIndex ^ 2", index ^ 2, size, leaf, proof, root),
        ("treeSize * 2", index, size * 2, leaf, proof, root),
        ("treeSize / 2", index, size // 2, leaf, proof, root),
        ("wrong leaf", index, size, b"WrongLeaf", proof, root),
        ("empty root", index, size, leaf, proof, EMPTY_ROOT),
        ("random root", index, size, leaf, proof, SOME_HASH),
        ("trailing garbage", index, size, leaf, [*proof, b""], root),
        ("trailing root", index, size, leaf, [*proof, root], root),
        ("preceding garbage", index, size, leaf, [b"", *proof], root),
        ("preceding root", index, size, leaf, [root, *proof], root),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 3", index, size, leaf, wrong, root))
    if proof:
        probes.append(("removed component", index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        probes.append(
            ("inserted component", index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root)
        )
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_every_ct_corruption_of_an_inclusion_proof_is_refused(
    index: int, size: int, proof: list[bytes]
) -> None:
    leaf = leaf_hash(sha256, LEAF_INPUTS[index])
    accepted = [
        desc
        for desc, i, n, lf, p, r in corrupt_inclusion(index, size, proof, ROOTS[size], leaf)
        if not rejects(partial(verify_inclusion, sha256, i, n, lf, p, r))
    ]
    assert accepted == []


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_PROOFS)
def test_consistency_proof_matches_ct(
    log: MerkleLog, size1: int, size2: int, proof: list[bytes]
) -> None:
    assert log.consistency_proof(size1, size2) == proof
    verify_consistency(sha256, size1, size2, ROOTS[size1], ROOTS[size2], proof)


def corrupt_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """verify_test.go ``corruptConsistencyProof``: (desc, size1, size2, root1, root2, proof)."""
    probes = [
        ("size1 - 1", size1 - 1, size2, root1, root2, proof),
        ("size1 + 1", size1 + 1, size2, root1, root2, proof),
        ("size1 ^ 2", size1 ^ 2, size2, root1, root2, proof),
        ("size2 * 2", size1, size2 * 2, root1, root2, proof),
        ("size2 / 2", size1, size2 // 2, root1, root2, proof),
        ("wrong root1", size1, size2, b"WrongRoot", root2, proof),
        ("wrong root2", size1, size2, root1, b"WrongRoot", proof),
        ("swapped roots", size1, size2, root2, root1, proof),
        ("empty proof", size1, size2, root1, root2, []),
        ("trailing garbage", size1, size2, root1, root2, [*proof, b""]),
        ("trailing root1", size1, size2, root1, root2, [*proof, root1]),
        ("trailing root2", size1, size2, root1, root2, [*proof, root2]),
        ("preceding garbage", size1, size2, root1, root2, [b"", *proof]),
        ("preceding root1", size1, size2, root1, root2, [root1, *proof]),
        ("preceding root2", size1, size2, root1, root2, [root2, *proof]),
        ("preceding proof[0]", size1, size2, root1, root2, [proof[0], *proof]),
        ("truncated proof", size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 4", size1, size2, root1, root2, wrong))
    return probes


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_PROOFS)
def test_every_ct_corruption_of_a_consistency_proof_is_refused(
    size1: int, size2: int, proof: list[bytes]
) -> None:
    probes = corrupt_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)
    accepted = [
        desc
        for desc, m, n, r1, r2, p in probes
        if not rejects(partial(verify_consistency, sha256, m, n, r1, r2, p))
    ]
    assert accepted == []


# --- edge cases --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "leaf", "ok"),
    [("hash", "hash", True), ("hash", "", False), ("", "hash", False), ("", "", False)],
)
def test_single_entry_tree_root_is_its_leaf_hash(root: str, leaf: str, ok: bool) -> None:
    """TestVerifyInclusionSingleEntry: an empty byte string is never a hash."""
    digest = leaf_hash(sha256, b"data")
    values = {"hash": digest, "": b""}
    assert (
        rejects(partial(verify_inclusion, sha256, 0, 1, values[leaf], [], values[root])) is not ok
    )


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_probes_with_invalid_root_or_leaf_are_refused(index: int, size: int) -> None:
    """TestVerifyInclusion's probes: none of these verifies."""
    for leaf, root in ((SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)):
        with pytest.raises(InclusionError):
            verify_inclusion(sha256, index, size, leaf, [], root)


# TestVerifyConsistency's table. Its "don't care" roots are 12-byte strings; ours
# are padded to 32 bytes because this verifier refuses any root that is not a
# digest of the hash in use, even where the sizes make the roots irrelevant.
CARE1 = b"don't care 1".ljust(32, b"\0")
CARE2 = b"don't care 2".ljust(32, b"\0")
CONSISTENCY_EDGE_CASES: Sequence[tuple[int, int, bytes, bytes, list[bytes], bool]] = [
    (0, 0, CARE1, CARE2, [], False),
    (1, 1, CARE1, CARE2, [], False),
    # Sizes that are always consistent.
    (0, 0, CARE1, CARE1, [], True),
    (0, 1, CARE1, CARE2, [], True),
    (1, 1, CARE2, CARE2, [], True),
    # Time travel to the past.
    (1, 0, CARE1, CARE2, [], False),
    (2, 1, CARE1, CARE2, [], False),
    # Empty proof.
    (1, 2, CARE1, CARE2, [], False),
    # Roots don't match.
    (0, 0, EMPTY_ROOT, CARE2, [], False),
    (1, 1, EMPTY_ROOT, CARE2, [], False),
    # Roots match but the proof is not empty.
    (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
]


@pytest.mark.parametrize(
    ("size1", "size2", "root1", "root2", "proof", "ok"), CONSISTENCY_EDGE_CASES
)
def test_consistency_edge_cases_as_ct(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes], ok: bool
) -> None:
    check = partial(verify_consistency, sha256, size1, size2, root1, root2, proof)
    assert rejects(check) is not ok


def test_ct_edge_case_roots_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ConsistencyError, match="root1 is 12 bytes"):
        verify_consistency(sha256, 0, 0, b"don't care 1", b"don't care 1", [])
