"""The local blockstore: layout, durability, CAR round trips, and refusal of damaged blocks."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from multiformats import CID

from notary.store import (
    CHUNK_SIZE,
    CarFormatError,
    ContentIntegrityError,
    ContentNotFound,
    LocalStore,
    compute_cid,
)
from notary.store.car import CarReader, CarWriter
from notary.store.cid import RAW, cid_str, codec_of, make_cid, to_binary
from notary.store.unixfs import build_file, iter_dag
from tests.notary.store.helpers import CountingStream, content

SIZE = 3 * CHUNK_SIZE + 1000  # three full leaves, a short one, and a root node


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def _leaves(store: LocalStore, cid: str) -> list[bytes]:
    return [c for c, _ in iter_dag(to_binary(cid), store.get_block) if codec_of(c) == RAW]


def test_put_returns_the_kubo_cid_and_get_returns_the_bytes(store: LocalStore) -> None:
    data = content(SIZE)
    cid = store.put(data)
    assert cid == compute_cid(data)
    assert store.get(cid) == data
    assert [len(c) for c in store.iter_content(cid)] == [CHUNK_SIZE] * 3 + [1000]


def test_put_from_a_stream_and_empty_content(store: LocalStore) -> None:
    data = content(SIZE)
    assert store.put(io.BytesIO(data)) == compute_cid(data)
    empty = store.put(b"")
    assert empty == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert store.get(empty) == b""


def test_layout_is_sharded_multihash_files_and_leaves_no_temp_files(store: LocalStore) -> None:
    cid = store.put(content(SIZE))
    files = [p for p in (store.root / "blocks").rglob("*") if p.is_file()]
    assert len(files) == 5  # 4 leaves + root
    for path in files:
        assert not path.name.startswith(".tmp-")
        assert path.parent.name == path.name[-3:-1]
        assert path.name.startswith("ciq")  # base32 of the multihash prefix 0x12 0x20
    assert store.block_path(cid) in files


def test_put_pins_and_has_checks_every_block(store: LocalStore) -> None:
    cid = store.put(content(SIZE))
    assert store.is_pinned(cid)
    assert store.pins() == [cid]
    assert store.has(cid)
    store.block_path(_leaves(store, cid)[2]).unlink()
    assert not store.has(cid)
    assert not store.has(compute_cid(b"never stored"))


def test_pin_requires_the_whole_dag(store: LocalStore) -> None:
    cid = store.put(content(SIZE))
    other = LocalStore(store.root.parent / "other")
    with pytest.raises(ContentNotFound):
        other.pin(cid)
    assert not other.is_pinned(cid)


def test_identical_blocks_are_stored_once(store: LocalStore) -> None:
    cid = store.put(bytes(4 * CHUNK_SIZE))
    files = [p for p in (store.root / "blocks").rglob("*") if p.is_file()]
    assert len(files) == 2
    assert store.get(cid) == bytes(4 * CHUNK_SIZE)


def test_put_heals_a_damaged_block(store: LocalStore) -> None:
    data = content(SIZE)
    cid = store.put(data)
    leaf = store.block_path(_leaves(store, cid)[0])
    leaf.write_bytes(b"garbage")
    with pytest.raises(ContentIntegrityError):
        store.get(cid)
    assert store.put(data) == cid
    assert store.get(cid) == data


def test_put_names_a_block_only_after_its_bytes_are_durable_and_pins_last(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For every block of a 150-block put: its bytes are fsynced before the rename gives
    it its final name, its directory is fsynced after that rename, and the pin is
    written only once every block's directory entry is durable."""
    import os
    import threading

    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        real_fsync(fd)
        with lock:
            events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

    def replace(src: str, dst: str) -> None:
        with lock:
            events.append(("rename", f"{src} -> {dst}"))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    cid = store.put(CountingStream(150))  # type: ignore[arg-type]
    monkeypatch.undo()

    pin_rename = next(i for i, (kind, what) in enumerate(events) if "/pins/" in what)
    blocks = [str(p) for p in (store.root / "blocks").rglob("*") if p.is_file()]
    assert len(blocks) == 151  # 150 leaves and the root
    for block in blocks:
        renamed = next(
            i for i, (kind, what) in enumerate(events) if kind == "rename" and what.endswith(block)
        )
        temp = events[renamed][1].split(" -> ")[0]
        assert ("fsync", temp) in events[:renamed], block
        parent = str(Path(block).parent)
        synced = [i for i, e in enumerate(events) if e == ("fsync", parent) and i > renamed]
        assert synced and synced[0] < pin_rename, block
    assert store.is_pinned(cid)
    assert not [p for p in store.root.rglob(".tmp-*")]


# --- tampering battery ----------------------------------------------------------------


def _flip_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-1])


Tamper = Callable[[LocalStore, str], bytes]


def _flip_leaf(store: LocalStore, cid: str) -> bytes:
    leaf = _leaves(store, cid)[1]
    _flip_byte(store.block_path(leaf))
    return leaf


def _truncate_leaf(store: LocalStore, cid: str) -> bytes:
    leaf = _leaves(store, cid)[3]
    _truncate(store.block_path(leaf))
    return leaf


def _flip_root(store: LocalStore, cid: str) -> bytes:
    _flip_byte(store.block_path(cid))
    return to_binary(cid)


def _swap_leaves(store: LocalStore, cid: str) -> bytes:
    first, second = _leaves(store, cid)[:2]
    a, b = store.block_path(first), store.block_path(second)
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(raw_b)
    b.write_bytes(raw_a)
    return first  # read first, in file order


def _delete_leaf(store: LocalStore, cid: str) -> bytes:
    leaf = _leaves(store, cid)[2]
    store.block_path(leaf).unlink()
    return leaf


DAMAGE: list[tuple[Tamper, type[Exception]]] = [
    (_flip_leaf, ContentIntegrityError),
    (_truncate_leaf, ContentIntegrityError),
    (_flip_root, ContentIntegrityError),
    (_swap_leaves, ContentIntegrityError),
    (_delete_leaf, ContentNotFound),
]


@pytest.mark.parametrize(("tamper", "error"), DAMAGE, ids=[t.__name__ for t, _ in DAMAGE])
def test_every_read_refuses_damaged_content_and_names_the_block(
    store: LocalStore, tamper: Tamper, error: type[Exception]
) -> None:
    cid = store.put(content(SIZE))
    bad = cid_str(tamper(store, cid))
    reads: list[Callable[[], object]] = [
        lambda: store.get(cid),
        lambda: list(store.iter_content(cid)),
        lambda: store.export_car(cid, io.BytesIO()),
        lambda: store.pin(cid),
        lambda: store.get_block(bad),
    ]
    for read in reads:
        with pytest.raises(error) as err:
            read()
        assert isinstance(err.value, ContentIntegrityError | ContentNotFound)
        assert err.value.cid == bad
        assert bad in str(err.value)


def test_streaming_read_stops_at_the_damaged_block(store: LocalStore) -> None:
    """Chunks before the damage come out verified; the damaged one never does."""
    data = content(SIZE)
    cid = store.put(data)
    _flip_leaf(store, cid)
    got: list[bytes] = []
    with pytest.raises(ContentIntegrityError):
        for chunk in store.iter_content(cid):
            got.append(chunk)
    assert got == [data[:CHUNK_SIZE]]


# --- CAR -----------------------------------------------------------------------------


def test_car_round_trip_between_stores(store: LocalStore, tmp_path: Path) -> None:
    data = content(SIZE)
    cid = store.put(data)
    car = io.BytesIO()
    store.export_car(cid, car)
    other = LocalStore(tmp_path / "other")
    car.seek(0)
    assert other.import_car(car) == [cid]
    assert other.get(cid) == data
    assert other.is_pinned(cid)


def test_car_export_is_preorder_with_each_block_once(store: LocalStore) -> None:
    cid = store.put(bytes(4 * CHUNK_SIZE) + b"tail")
    car = io.BytesIO()
    store.export_car(cid, car)
    car.seek(0)
    reader = CarReader(car)
    assert [cid_str(r) for r in reader.roots] == [cid]
    order = [cid_str(c) for c, _ in reader]
    assert order[0] == cid
    assert len(order) == len(set(order)) == 3  # root, the zero leaf, the tail leaf


def test_car_header_matches_the_spec_bytes(store: LocalStore) -> None:
    cid = store.put(b"")
    car = io.BytesIO()
    store.export_car(cid, car)
    header = bytes.fromhex("3aa265726f6f747381d82a5825000155")  # len 58, {roots: [tag 42 ...
    assert car.getvalue().startswith(header)


def test_car_import_refuses_a_block_that_does_not_match_its_cid(
    store: LocalStore, tmp_path: Path
) -> None:
    good = make_cid(RAW, b"good")
    car = io.BytesIO()
    writer = CarWriter(car, [good])
    writer.write(good, b"evil")
    car.seek(0)
    with pytest.raises(ContentIntegrityError) as err:
        store.import_car(car)
    assert err.value.cid == cid_str(good)
    assert not store.has_block(good)


def test_car_import_of_an_incomplete_dag_is_not_pinned(store: LocalStore) -> None:
    blocks: list[tuple[bytes, bytes]] = []
    root = build_file(content(SIZE), lambda c, b: blocks.append((c, b)))
    car = io.BytesIO()
    writer = CarWriter(car, [CID.decode(root)])
    for c, b in blocks[1:]:  # the first leaf is left out
        writer.write(c, b)
    car.seek(0)
    with pytest.raises(ContentNotFound) as err:
        store.import_car(car)
    assert err.value.cid == cid_str(blocks[0][0])
    assert not store.is_pinned(cid_str(root))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"\x05ab", "truncated in the header"),
        (b"\x01\xa0", "not a CARv1 header"),
        (b"\xff\xff\xff\xff\x0f", "out of range"),
    ],
)
def test_car_format_errors(store: LocalStore, raw: bytes, message: str) -> None:
    with pytest.raises(CarFormatError, match=message):
        store.import_car(io.BytesIO(raw))


def test_car_truncated_section(store: LocalStore) -> None:
    cid = store.put(content(100))
    car = io.BytesIO()
    store.export_car(cid, car)
    with pytest.raises(CarFormatError, match="truncated"):
        store.import_car(io.BytesIO(car.getvalue()[:-10]))


def test_large_puts_and_reads_keep_memory_flat(store: LocalStore) -> None:
    """Blocks stream to and from disk: 120 chunks cost about as much memory as 10."""
    import tracemalloc

    def peak(action: Callable[[], object]) -> int:
        tracemalloc.start()
        try:
            action()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    cids: dict[int, str] = {}

    def put(count: int) -> None:
        cids[count] = store.put(CountingStream(count))  # type: ignore[arg-type]

    put_peaks = [peak(lambda: put(10)), peak(lambda: put(120))]
    # A put keeps at most a few blocks queued for its writer threads (see LocalStore.put):
    # the peak may differ by those, never by the 27 MiB between the two sizes.
    assert put_peaks[1] < put_peaks[0] + 8 * CHUNK_SIZE

    def read(count: int) -> None:
        assert sum(len(c) for c in store.iter_content(cids[count])) == count * CHUNK_SIZE

    read_peaks = [peak(lambda: read(10)), peak(lambda: read(120))]
    assert read_peaks[1] < read_peaks[0] + 256 * 1024
