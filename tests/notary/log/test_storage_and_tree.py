"""The log stores only complete subtrees, writes append-only batches, and reads each
root or proof in one storage round trip."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from notary.crypto.sm3 import sm3
from notary.log import MemoryTreeStorage, MerkleLog, StorageError, TreeStorage
from notary.log.storage import Node, NodeKey


class CountingStorage:
    """A TreeStorage that records its calls, standing in for a database."""

    def __init__(self) -> None:
        self.inner = MemoryTreeStorage()
        self.gets: list[list[NodeKey]] = []
        self.puts: list[list[Node]] = []

    def size(self) -> int:
        return self.inner.size()

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        self.gets.append(list(keys))
        return self.inner.get_nodes(keys)

    def put_nodes(self, nodes: Iterable[Node]) -> None:
        batch = list(nodes)
        self.puts.append(batch)
        self.inner.put_nodes(batch)


def entries(n: int, start: int = 0) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(start, start + n)]


# --- MemoryTreeStorage --------------------------------------------------------------


def test_memory_storage_implements_the_protocol() -> None:
    assert isinstance(MemoryTreeStorage(), TreeStorage)
    assert isinstance(CountingStorage(), TreeStorage)


def test_size_counts_leaves_and_nodes_read_back_in_order() -> None:
    s = MemoryTreeStorage()
    assert s.size() == 0
    s.put_nodes([(0, 0, b"a"), (0, 1, b"b"), (1, 0, b"ab")])
    assert s.size() == 2
    assert s.get_nodes([(1, 0), (0, 1), (0, 0)]) == [b"ab", b"b", b"a"]
    assert s.get_nodes([]) == []


@pytest.mark.parametrize("key", [(0, 2), (1, 1), (5, 0), (0, -1), (-1, 0)])
def test_absent_nodes_raise_key_error(key: NodeKey) -> None:
    s = MemoryTreeStorage()
    s.put_nodes([(0, 0, b"a"), (0, 1, b"b"), (1, 0, b"ab")])
    with pytest.raises(KeyError, match=rf"node \({key[0]}, {key[1]}\) is not stored"):
        s.get_nodes([(0, 0), key])


def test_nodes_are_immutable_but_rewriting_the_same_hash_is_harmless() -> None:
    s = MemoryTreeStorage()
    s.put_nodes([(0, 0, b"a")])
    s.put_nodes([(0, 0, b"a")])
    with pytest.raises(StorageError, match=r"node \(0, 0\) is already written"):
        s.put_nodes([(0, 0, b"z")])
    assert s.get_nodes([(0, 0)]) == [b"a"]


def test_a_gap_is_refused() -> None:
    with pytest.raises(StorageError, match=r"node \(0, 1\) leaves a gap: next index at level 0"):
        MemoryTreeStorage().put_nodes([(0, 1, b"b")])
    with pytest.raises(StorageError, match="negative level"):
        MemoryTreeStorage().put_nodes([(-1, 0, b"b")])


def test_a_refused_batch_writes_nothing() -> None:
    s = MemoryTreeStorage()
    s.put_nodes([(0, 0, b"a")])
    with pytest.raises(StorageError):
        s.put_nodes([(0, 1, b"b"), (1, 0, b"ab"), (0, 0, b"rewritten")])
    assert s.size() == 1
    with pytest.raises(KeyError):
        s.get_nodes([(0, 1)])


# --- MerkleLog over a storage ------------------------------------------------------


def test_append_returns_leaf_indices_and_append_many_a_range() -> None:
    log = MerkleLog()
    assert log.size == 0
    assert log.append(b"first") == 0
    assert log.append_many(entries(5)) == range(1, 6)
    assert log.append_many([]) == range(6, 6)
    assert log.size == 6
    assert log.leaf_hash(0) == sm3(b"\x00first")


def test_one_by_one_and_batched_appends_build_the_same_tree() -> None:
    one, many = MerkleLog(), MerkleLog()
    for e in entries(300):
        one.append(e)
    many.append_many(entries(100))
    many.append_many(entries(200, start=100))
    assert one.root() == many.root()
    assert one.consistency_proof(37, 300) == many.consistency_proof(37, 300)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 100, 1023, 1024, 1025])
def test_only_complete_subtrees_are_stored(n: int) -> None:
    """n leaves make 2n - popcount(n) complete subtrees: about two nodes per entry."""
    storage = CountingStorage()
    MerkleLog(storage).append_many(entries(n))
    written = {(level, index) for level, index, _ in storage.puts[0]}
    assert len(written) == len(storage.puts[0]) == 2 * n - n.bit_count()
    for level, index in written:
        assert (index + 1) << level <= n


def test_each_append_is_one_batch_of_the_leaf_and_the_subtrees_it_completes() -> None:
    storage = CountingStorage()
    log = MerkleLog(storage)
    log.append_many(entries(7))
    log.append(b"eighth")  # index 7 completes (1, 3), (2, 1) and (3, 0)
    assert [(level, index) for level, index, _ in storage.puts[-1]] == [
        (0, 7),
        (1, 3),
        (2, 1),
        (3, 0),
    ]
    assert storage.gets == []  # appends never read the storage back


def test_roots_and_proofs_are_one_storage_read_each() -> None:
    storage = CountingStorage()
    log = MerkleLog(storage)
    log.append_many(entries(1000))
    for read in (
        lambda: log.root(999),
        lambda: log.inclusion_proof(500, 999),
        lambda: log.consistency_proof(333, 999),
    ):
        storage.gets.clear()
        read()
        assert len(storage.gets) == 1
        assert len(storage.gets[0]) <= 2 * 10  # O(log n) nodes, n = 1000
    storage.gets.clear()
    log.root()  # the current root comes from the in-memory compact range
    assert storage.gets == []


def test_a_log_reopened_on_its_storage_continues_where_it_stopped() -> None:
    storage = MemoryTreeStorage()
    first = MerkleLog(storage)
    first.append_many(entries(77))
    reopened = MerkleLog(storage)
    assert reopened.size == 77
    assert reopened.root() == first.root()
    reopened.append_many(entries(23, start=77))
    fresh = MerkleLog()
    fresh.append_many(entries(100))
    assert reopened.root() == fresh.root()


def test_a_failed_write_leaves_the_log_unchanged() -> None:
    class FailingStorage(MemoryTreeStorage):
        fail = False

        def put_nodes(self, nodes: Iterable[Node]) -> None:
            if self.fail:
                raise OSError("disk full")
            super().put_nodes(nodes)

    storage = FailingStorage()
    log = MerkleLog(storage)
    log.append_many(entries(5))
    root = log.root()
    storage.fail = True
    with pytest.raises(OSError, match="disk full"):
        log.append(b"lost")
    assert (log.size, log.root()) == (5, root)
    storage.fail = False
    assert log.append(b"kept") == 5


def test_two_writers_on_one_storage_cannot_fork_it() -> None:
    storage = MemoryTreeStorage()
    a, b = MerkleLog(storage), MerkleLog(storage)
    a.append(b"from a")
    with pytest.raises(StorageError, match="already written"):
        b.append(b"from b")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda log: log.root(11), "tree size 11 is not between 0 and the log's size 10"),
        (lambda log: log.root(-1), "tree size -1 is not between 0"),
        (lambda log: log.inclusion_proof(10), "leaf index 10 is not in a tree of size 10"),
        (lambda log: log.inclusion_proof(3, 3), "leaf index 3 is not in a tree of size 3"),
        (lambda log: log.inclusion_proof(0, 11), "tree size 11 is not between"),
        (lambda log: log.consistency_proof(5, 4), "no consistency proof from size 5 to size 4"),
        (lambda log: log.consistency_proof(5, 11), "tree size 11 is not between"),
        (lambda log: log.leaf_hash(10), "leaf index 10 is not below the log's size 10"),
    ],
)
def test_requests_outside_the_log_are_value_errors(call, message: str) -> None:  # type: ignore[no-untyped-def]
    log = MerkleLog()
    log.append_many(entries(10))
    with pytest.raises(ValueError, match=message):
        call(log)


def test_leaf_hashes_of_the_wrong_length_are_refused_before_any_write() -> None:
    log = MerkleLog()
    with pytest.raises(ValueError, match="leaf hash is 3 bytes, expected 32"):
        log.append_leaf_hashes([sm3(b"ok"), b"bad"])
    assert log.size == 0
    assert log.append_leaf_hashes([sm3(b"ok")]) == range(0, 1)


def test_the_empty_log() -> None:
    log = MerkleLog()
    assert log.root() == log.root(0) == sm3(b"")
    assert log.consistency_proof(0, 0) == []
