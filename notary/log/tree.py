"""The append-only Merkle log: RFC 9162 §2.1 trees over a :class:`TreeStorage`.

Appends keep the *compact range* of the tree in memory: the roots of the perfect
subtrees that make up ``[0, size)``, one per set bit of ``size`` (at most 64). A new
leaf merges with the trailing ones of that list, so an append is one leaf hash plus
one node hash on average, and writes exactly the nodes it completes, in one
atomic ``put_nodes`` batch. Roots and proofs for any size read O(log n) stored
nodes (``notary.log.merkle``).

A ``MerkleLog`` is the single writer of its storage: its compact range is loaded
when it is built and is not re-read, so two writers on one storage would diverge
(the storage refuses the second writer's conflicting nodes).
"""

from __future__ import annotations

from collections.abc import Iterable

from notary.crypto.sm3 import sm3
from notary.log import merkle
from notary.log.merkle import HashFn
from notary.log.storage import MemoryTreeStorage, Node, TreeStorage


class MerkleLog:
    """An append-only log of entries with RFC 9162 roots and proofs (SM3 by default)."""

    __slots__ = ("_frontier", "_hash", "_leaf", "_node", "_size", "_storage")

    def __init__(self, storage: TreeStorage | None = None, hash_fn: HashFn = sm3) -> None:
        self._storage: TreeStorage = storage if storage is not None else MemoryTreeStorage()
        self._hash = hash_fn
        self._leaf, self._node = merkle.prefixed(hash_fn)
        self._size = self._storage.size()
        # Highest level first; the last element is the lowest perfect subtree.
        keys = merkle.perfect_subtrees(0, self._size)
        self._frontier: list[bytes] = self._storage.get_nodes(keys) if keys else []

    @property
    def storage(self) -> TreeStorage:
        return self._storage

    @property
    def hash_fn(self) -> HashFn:
        return self._hash

    @property
    def size(self) -> int:
        """Number of entries appended."""
        return self._size

    def append(self, entry: bytes) -> int:
        """Append ``entry``; returns its leaf index."""
        return self.append_leaf_hashes([self._leaf(entry)]).start

    def append_many(self, entries: Iterable[bytes]) -> range:
        """Append ``entries`` in one storage batch; returns their leaf indices."""
        return self.append_leaf_hashes(list(map(self._leaf, entries)))

    def append_leaf_hashes(self, leaf_hashes: Iterable[bytes]) -> range:
        """Append already-hashed leaves (``HASH(0x00 || entry)``) in one storage batch."""
        node = self._node
        width = merkle.digest_size(self._hash)
        frontier = list(self._frontier)
        first = n = self._size
        nodes: list[Node] = []
        for digest in leaf_hashes:
            if len(digest) != width:
                raise ValueError(f"leaf hash is {len(digest)} bytes, expected {width}")
            nodes.append((0, n, digest))
            level, index = 0, n
            # Each trailing one bit of the leaf index is a left sibling waiting
            # on the frontier whose perfect subtree this leaf completes.
            while index & 1:
                digest = node(frontier.pop() + digest)
                level += 1
                index >>= 1
                nodes.append((level, index, digest))
            frontier.append(digest)
            n += 1
        if n == first:
            return range(first, first)
        self._storage.put_nodes(nodes)
        # Only once the batch is durable does the in-memory view move.
        self._frontier = frontier
        self._size = n
        return range(first, n)

    def root(self, size: int | None = None) -> bytes:
        """``MTH`` of the first ``size`` entries (default: all)."""
        if size is None or size == self._size:
            if not self._frontier:
                return merkle.empty_root(self._hash)
            return merkle.fold_subtrees(self._hash, self._frontier)
        return merkle.root_at(self._hash, self._storage, size)

    def leaf_hash(self, index: int) -> bytes:
        """The stored ``HASH(0x00 || entry)`` of leaf ``index``."""
        if not 0 <= index < self._size:
            raise ValueError(f"leaf index {index} is not below the log's size {self._size}")
        return self._storage.get_nodes([(0, index)])[0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """``PATH(index, D[size])`` (default size: all entries)."""
        return merkle.inclusion_proof(
            self._hash, self._storage, index, self._size if size is None else size
        )

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """``PROOF(size1, D[size2])`` (default size2: all entries)."""
        return merkle.consistency_proof(
            self._hash, self._storage, size1, self._size if size2 is None else size2
        )
