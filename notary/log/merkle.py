"""Merkle tree hashing and proofs of RFC 9162 §2.1 (Certificate Transparency v2).

- §2.1.1: ``MTH({}) = HASH()``, leaf ``HASH(0x00 || d)``, node ``HASH(0x01 || l || r)``,
  split at the largest power of two smaller than ``n``;
- §2.1.3: inclusion proofs ``PATH(m, D_n)`` and their verification (§2.1.3.2);
- §2.1.4: consistency proofs ``PROOF(m, D_n)`` and their verification (§2.1.4.2).

The hash is a parameter (``HASH`` in the RFC). The product uses SM3; with SHA-256
the same code is RFC 6962 and reproduces Certificate Transparency's vectors.

Proofs are generated from a :class:`~notary.log.storage.TreeStorage` of perfect
subtree hashes: every proof element is the hash of a range ``[start, start + n)``
the RFC recursion names; the range is either one stored perfect subtree or, at the
right edge of the tree, the fold of the O(log n) perfect subtrees it decomposes into.
All nodes a proof needs are fetched in one ``get_nodes`` call.

Two edge cases lie outside the RFC's ``0 < m < n`` and are handled as
Certificate Transparency's reference implementation (transparency-dev/merkle) does:
between equal sizes the consistency proof is empty and the roots must be equal;
from size 0 the proof is empty (the empty tree is a prefix of every tree).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from notary.crypto.sm3 import sm3, sm3_prefixed
from notary.errors import ConsistencyError, InclusionError, ProofError
from notary.log.storage import NodeKey, TreeStorage

HashFn = Callable[[bytes], bytes]
"""``HASH`` of RFC 9162: bytes to a fixed-size digest (``sm3``, or SHA-256 for RFC 6962)."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


# --- hashing (§2.1.1) ---------------------------------------------------------------


@lru_cache(maxsize=16)
def prefixed(hash_fn: HashFn) -> tuple[HashFn, HashFn]:
    """``(data -> HASH(0x00 || data), data -> HASH(0x01 || data))`` for ``hash_fn``.

    For SM3 these absorb the prefix once and copy the state, which halves the cost
    of a 65-byte node hash; any other ``hash_fn`` is called on the concatenation.
    """
    if hash_fn is sm3:
        return sm3_prefixed(LEAF_PREFIX), sm3_prefixed(NODE_PREFIX)

    def leaf(data: bytes) -> bytes:
        return hash_fn(LEAF_PREFIX + data)

    def node(data: bytes) -> bytes:
        return hash_fn(NODE_PREFIX + data)

    return leaf, node


def leaf_hash(hash_fn: HashFn, entry: bytes) -> bytes:
    """``HASH(0x00 || entry)``."""
    return prefixed(hash_fn)[0](entry)


def node_hash(hash_fn: HashFn, left: bytes, right: bytes) -> bytes:
    """``HASH(0x01 || left || right)``."""
    return prefixed(hash_fn)[1](left + right)


def empty_root(hash_fn: HashFn) -> bytes:
    """``MTH({}) = HASH()``, the root of the empty tree."""
    return hash_fn(b"")


@lru_cache(maxsize=16)
def digest_size(hash_fn: HashFn) -> int:
    """Length of ``hash_fn``'s digests (cached: verification checks every hash's length)."""
    return len(hash_fn(b""))


def root_of(hash_fn: HashFn, leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a list of leaf hashes, in O(n) hashing and O(log n) memory.

    Leaves are merged into perfect subtrees as they arrive (a stack of at most one
    subtree per level); the remaining stack, folded right to left, is the root,
    because ``MTH`` splits off the largest power of two first.
    """
    if not leaf_hashes:
        return empty_root(hash_fn)
    node = prefixed(hash_fn)[1]
    stack: list[bytes] = []
    for n, h in enumerate(leaf_hashes):
        while n & 1:
            h = node(stack.pop() + h)
            n >>= 1
        stack.append(h)
    return fold_subtrees(hash_fn, stack)


def fold_subtrees(hash_fn: HashFn, hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of adjacent perfect subtrees given left to right, largest first (non-empty).

    ``MTH`` splits off the largest power of two, so such a list folds from the right.
    """
    node = prefixed(hash_fn)[1]
    r = hashes[-1]
    for h in reversed(hashes[:-1]):
        r = node(h + r)
    return r


# --- ranges of leaves the proofs are made of -----------------------------------------


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n > 1``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, n: int) -> list[NodeKey]:
    """The perfect subtrees, left to right, whose concatenation is ``[start, start + n)``.

    Valid for the ranges the RFC recursion produces, where ``start`` is a multiple of
    the largest power of two ``<= n``: then the decomposition follows ``n``'s bits.
    """
    keys: list[NodeKey] = []
    while n:
        level = n.bit_length() - 1
        keys.append((level, start >> level))
        start += 1 << level
        n -= 1 << level
    return keys


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """``(start, n)`` of each element of ``PATH(index, D[size])``, leaf to root (§2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, m, n = 0, index, size
    while n > 1:
        k = _split(n)
        if m < k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.append((start + k, n - k))
            n = k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.append((start, k))
            start, m, n = start + k, m - k, n - k
    ranges.reverse()  # the recursion's innermost element comes first in the proof
    return ranges


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """``(start, n)`` of each element of ``PROOF(size1, D[size2])`` (§2.1.4.1)."""
    if not 0 <= size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    if size1 in (0, size2):
        return []
    ranges: list[tuple[int, int]] = []
    start, m, n, whole = 0, size1, size2, True
    while m != n:
        k = _split(n)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.append((start + k, n - k))
            n = k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.append((start, k))
            start, m, n, whole = start + k, m - k, n - k, False
    if not whole:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        ranges.append((start, m))
    ranges.reverse()
    return ranges


# --- generation from storage ----------------------------------------------------------


def hashes_of_ranges(
    hash_fn: HashFn, storage: TreeStorage, ranges: Sequence[tuple[int, int]]
) -> list[bytes]:
    """``MTH`` of each range, from the stored perfect subtrees (one ``get_nodes`` call)."""
    parts = [perfect_subtrees(start, n) for start, n in ranges]
    flat = storage.get_nodes([key for keys in parts for key in keys])
    out: list[bytes] = []
    pos = 0
    for keys in parts:
        count = len(keys)
        out.append(flat[pos] if count == 1 else fold_subtrees(hash_fn, flat[pos : pos + count]))
        pos += count
    return out


def _check_size(storage: TreeStorage, size: int) -> None:
    stored = storage.size()
    if not 0 <= size <= stored:
        raise ValueError(f"tree size {size} is not between 0 and the log's size {stored}")


def root_at(hash_fn: HashFn, storage: TreeStorage, size: int) -> bytes:
    """``MTH`` of the first ``size`` leaves of the stored log."""
    _check_size(storage, size)
    if size == 0:
        return empty_root(hash_fn)
    return hashes_of_ranges(hash_fn, storage, [(0, size)])[0]


def inclusion_proof(hash_fn: HashFn, storage: TreeStorage, index: int, size: int) -> list[bytes]:
    """``PATH(index, D[size])`` (RFC 9162 §2.1.3.1) from the stored log."""
    _check_size(storage, size)
    return hashes_of_ranges(hash_fn, storage, inclusion_ranges(index, size))


def inclusion_proofs(
    hash_fn: HashFn, storage: TreeStorage, paths: Sequence[tuple[int, int]]
) -> list[list[bytes]]:
    """``PATH(index, D[size])`` for each ``(index, size)``, with one ``get_nodes`` call for
    all of them: proofs of neighbouring leaves share most of their nodes."""
    if not paths:
        return []
    _check_size(storage, max(size for _, size in paths))
    parts = [inclusion_ranges(index, size) for index, size in paths]
    flat = hashes_of_ranges(hash_fn, storage, [r for ranges in parts for r in ranges])
    out: list[list[bytes]] = []
    pos = 0
    for ranges in parts:
        out.append(flat[pos : pos + len(ranges)])
        pos += len(ranges)
    return out


def consistency_proof(hash_fn: HashFn, storage: TreeStorage, size1: int, size2: int) -> list[bytes]:
    """``PROOF(size1, D[size2])`` (RFC 9162 §2.1.4.1) from the stored log."""
    _check_size(storage, size2)
    return hashes_of_ranges(hash_fn, storage, consistency_ranges(size1, size2))


# --- verification (§2.1.3.2, §2.1.4.2) ---------------------------------------------------


def inclusion_proof_length(index: int, size: int) -> int:
    """Number of hashes in ``PATH(index, D[size])``, ``0 <= index < size``.

    ``inner`` levels lie below the point where the leaf's path and the right edge
    of the tree part (bits where ``index`` and ``size - 1`` differ); above it, one
    sibling per left turn, i.e. per set bit of ``index`` there.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(size1: int, size2: int) -> int:
    """Number of hashes in ``PROOF(size1, D[size2])``, ``0 < size1 < size2``.

    The inclusion path of leaf ``size1 - 1`` in ``D[size2]``, minus the levels inside
    the perfect subtree ``size1`` ends with (its root stands for them), plus that
    root itself unless it is the whole old tree (``size1`` a power of two).
    """
    shift = (size1 & -size1).bit_length() - 1  # trailing zeros of size1
    seed = 0 if size1 == 1 << shift else 1
    return inclusion_proof_length(size1 - 1, size2) - shift + seed


def _check_hash(what: str, value: bytes, size: int, error: type[ProofError]) -> None:
    if len(value) != size:
        raise error(f"{what} is {len(value)} bytes, expected a {size}-byte hash")


def _check_proof_hashes(proof: Sequence[bytes], size: int, error: type[ProofError]) -> None:
    # The common case (all well-formed) in one pass without a call per element:
    # verification speed is dominated by such per-hash overheads.
    if all(len(p) == size for p in proof):
        return
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p, size, error)


def root_from_inclusion_proof(
    hash_fn: HashFn, leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` (RFC 9162 §2.1.3.2 steps 1-4)."""
    err = InclusionError
    if tree_size < 0 or leaf_index < 0:
        raise err(f"negative leaf index {leaf_index} or tree size {tree_size}")
    if leaf_index >= tree_size:
        raise err(f"leaf index {leaf_index} is not below tree size {tree_size}")
    want = inclusion_proof_length(leaf_index, tree_size)
    if len(proof) != want:
        raise err(
            f"wrong proof length: {len(proof)} hashes for leaf {leaf_index} "
            f"in a tree of size {tree_size}, expected {want}"
        )
    size = digest_size(hash_fn)
    _check_hash("leaf hash", leaf, size, err)
    _check_proof_hashes(proof, size, err)

    node = prefixed(hash_fn)[1]
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in proof:
        # The length check above makes the RFC's own length guards (sn == 0 here,
        # sn != 0 after the loop) unreachable; they stay as the RFC writes them.
        if sn == 0:
            raise err("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node(p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r + p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise err("proof is shorter than the path to the root")
    return r


def verify_inclusion(
    hash_fn: HashFn,
    leaf_index: int,
    tree_size: int,
    leaf_hash: bytes,
    proof: Sequence[bytes],
    root: bytes,
) -> None:
    """Check that ``leaf_hash`` is leaf ``leaf_index`` of the tree of ``tree_size`` with
    ``root`` (RFC 9162 §2.1.3.2). Returns nothing; raises :class:`InclusionError`."""
    _check_hash("root", root, digest_size(hash_fn), InclusionError)
    got = root_from_inclusion_proof(hash_fn, leaf_index, tree_size, leaf_hash, proof)
    if got != root:
        raise InclusionError(
            f"root mismatch: the proof for leaf {leaf_index} leads to {got.hex()}, "
            f"not to the expected root {root.hex()} of tree size {tree_size}"
        )


def verify_consistency(
    hash_fn: HashFn,
    size1: int,
    size2: int,
    root1: bytes,
    root2: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the tree of ``size1`` with ``root1`` is a prefix of the tree of
    ``size2`` with ``root2`` (RFC 9162 §2.1.4.2). Raises :class:`ConsistencyError`."""
    err = ConsistencyError
    if size1 < 0:
        raise err(f"negative tree size {size1}")
    if size1 > size2:
        raise err(f"size1 {size1} is greater than size2 {size2}: a log never shrinks")
    size = digest_size(hash_fn)
    _check_hash("root1", root1, size, err)
    _check_hash("root2", root2, size, err)
    if size1 == size2:
        if proof:
            raise err(f"wrong proof length: {len(proof)} hashes between equal sizes, expected 0")
        if root1 != root2:
            raise err(f"root mismatch: two different roots for the same size {size1}")
        return
    if size1 == 0:
        if proof:
            raise err(f"wrong proof length: {len(proof)} hashes from the empty tree, expected 0")
        return
    want = consistency_proof_length(size1, size2)
    if len(proof) != want:
        raise err(
            f"wrong proof length: {len(proof)} hashes from size {size1} to {size2}, expected {want}"
        )
    _check_proof_hashes(proof, size, err)

    # RFC 9162 §2.1.4.2, step by step.
    node = prefixed(hash_fn)[1]
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise err("proof is longer than the path to the new root")
        if fn & 1 or fn == sn:
            fr = node(c + fr)
            sr = node(c + sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr + c)
        fn >>= 1
        sn >>= 1
    # step 7
    if sn != 0:
        raise err("proof is shorter than the path to the new root")
    if fr != root1:
        raise err(
            f"root mismatch: the proof leads to {fr.hex()} for size {size1}, "
            f"not to root1 {root1.hex()}"
        )
    if sr != root2:
        raise err(
            f"root mismatch: the proof leads to {sr.hex()} for size {size2}, "
            f"not to root2 {root2.hex()}"
        )
