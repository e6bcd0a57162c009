"""Properties: every generated proof verifies, and every tampering is refused.

Over a 3,000-entry SM3 log, for random sizes and indices: a proof verifies; flipping
any bit of any proof hash, changing the index, the root, adding or removing a proof
element is refused; so is claiming another size with that size's real root, unless
the proof happens to be that size's genuine proof too.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from notary.crypto.sm3 import sm3
from notary.log import MerkleLog, ProofError, verify_consistency, verify_inclusion

N = 3_000
LOG = MerkleLog()
LOG.append_many(f"entry {i}".encode() for i in range(N))
ROOTS = [LOG.root(size) for size in range(N + 1)]

examples = settings(max_examples=150, deadline=None)


def refused(check: Callable[[], None]) -> bool:
    try:
        check()
    except ProofError:
        return True
    return False


@st.composite
def leaf_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, N))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(2, N))
    return draw(st.integers(1, size2 - 1)), size2


@examples
@given(leaf_in_tree(), st.data())
def test_inclusion_proofs_verify_and_resist_tampering(
    leaf_size: tuple[int, int], data: st.DataObject
) -> None:
    index, size = leaf_size
    proof = LOG.inclusion_proof(index, size)
    leaf, root = LOG.leaf_hash(index), ROOTS[size]
    verify_inclusion(sm3, index, size, leaf, proof, root)

    def check(i: int = index, n: int = size, p: list[bytes] = proof, r: bytes = root) -> bool:
        return refused(lambda: verify_inclusion(sm3, i, n, leaf, p, r))

    if proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        flipped = bytearray(proof[k])
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert check(p=[*proof[:k], bytes(flipped), *proof[k + 1 :]])
        assert check(p=[*proof[:k], *proof[k + 1 :]])
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="index")
        assert check(i=other)
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")
    at = data.draw(st.integers(0, len(proof)), label="at")
    assert check(p=[*proof[:at], extra, *proof[at:]])
    wrong_root = data.draw(st.integers(0, N).filter(lambda s: s != size), label="root of")
    assert check(r=ROOTS[wrong_root])
    if not index + 1 == size == N:  # else no other size holds this leaf
        other_size = data.draw(st.integers(index + 1, N).filter(lambda s: s != size), label="size")
        genuine = LOG.inclusion_proof(index, other_size)
        assert check(n=other_size, r=ROOTS[other_size]) is (genuine != proof)


@examples
@given(two_sizes(), st.data())
def test_consistency_proofs_verify_and_resist_tampering(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = sizes
    proof = LOG.consistency_proof(size1, size2)
    verify_consistency(sm3, size1, size2, ROOTS[size1], ROOTS[size2], proof)

    def check(
        m: int = size1,
        n: int = size2,
        r1: bytes = ROOTS[size1],
        r2: bytes = ROOTS[size2],
        p: list[bytes] = proof,
    ) -> bool:
        return refused(lambda: verify_consistency(sm3, m, n, r1, r2, p))

    k = data.draw(st.integers(0, len(proof) - 1), label="element")
    bit = data.draw(st.integers(0, 255), label="bit")
    flipped = bytearray(proof[k])
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert check(p=[*proof[:k], bytes(flipped), *proof[k + 1 :]])
    assert check(p=[*proof[:k], *proof[k + 1 :]])
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")
    at = data.draw(st.integers(0, len(proof)), label="at")
    assert check(p=[*proof[:at], extra, *proof[at:]])

    wrong1 = data.draw(st.integers(0, N).filter(lambda s: s != size1), label="root1 of")
    wrong2 = data.draw(st.integers(0, N).filter(lambda s: s != size2), label="root2 of")
    assert check(r1=ROOTS[wrong1])
    assert check(r2=ROOTS[wrong2])
    assert check(r1=ROOTS[size2], r2=ROOTS[size1])

    # Another size with that size's real root: only its genuine proof may verify.
    if size2 > 2:  # else no other size1 lies between 0 and size2
        s1 = data.draw(st.integers(1, size2 - 1).filter(lambda s: s != size1), label="size1'")
        assert check(m=s1, r1=ROOTS[s1]) is (LOG.consistency_proof(s1, size2) != proof)
    if not size1 + 1 == size2 == N:
        s2 = data.draw(st.integers(size1 + 1, N).filter(lambda s: s != size2), label="size2'")
        assert check(n=s2, r2=ROOTS[s2]) is (LOG.consistency_proof(size1, s2) != proof)


@examples
@given(st.integers(0, N), st.integers(0, N))
def test_a_log_is_consistent_with_every_earlier_version_of_itself(a: int, b: int) -> None:
    size1, size2 = min(a, b), max(a, b)
    proof = LOG.consistency_proof(size1, size2)
    verify_consistency(sm3, size1, size2, ROOTS[size1], ROOTS[size2], proof)
