"""Against a real IPFS node (js-ipfs 0.66.1, offline, private): same CIDs, same CARs."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import pytest

from notary.store import CHUNK_SIZE, ContentNotFound, KuboStore, LocalStore, compute_cid
from notary.store.car import CarReader
from notary.store.cid import cid_str
from notary.store.jsipfs import JsIpfsNode
from tests.notary.store.helpers import content
from tests.notary.store.test_cid import GOLDEN, ZEROS_1MIB

pytestmark = pytest.mark.node

NEVER_ADDED = compute_cid(b"archive-notary: never added to any node")


@pytest.mark.parametrize(("size", "expected"), GOLDEN, ids=[str(s) for s, _ in GOLDEN])
def test_node_add_gives_the_golden_cid(kubo: KuboStore, size: int, expected: str) -> None:
    # put() also fails if the node's CID differs from the locally computed one.
    assert kubo.put(content(size)) == expected
    assert kubo.is_pinned(expected)


def test_node_add_of_repeated_blocks(kubo: KuboStore) -> None:
    assert kubo.put(io.BytesIO(bytes(4 * CHUNK_SIZE))) == ZEROS_1MIB


def test_cat_and_verified_get_return_the_bytes(kubo: KuboStore) -> None:
    data = content(3 * CHUNK_SIZE + 5, b"cat")
    cid = kubo.put(data)
    assert kubo.cat(cid) == data
    assert kubo.get(cid) == data
    assert [len(c) for c in kubo.iter_content(cid)] == [CHUNK_SIZE] * 3 + [5]
    assert kubo.has(cid)


def test_pin_and_pin_ls(kubo: KuboStore, jsipfs: JsIpfsNode) -> None:
    data = content(CHUNK_SIZE + 1, b"pin")
    # Add unpinned behind the client's back, so that pin() has something to do.
    answer = httpx.post(
        f"{jsipfs.api_url}/api/v0/add",
        params={"cid-version": "1", "raw-leaves": "true", "pin": "false", "cid-base": "base32"},
        files={"file": ("blob", data, "application/octet-stream")},
        timeout=10,
    )
    cid = answer.json()["Hash"]
    assert cid == compute_cid(data)
    assert not kubo.is_pinned(cid)
    assert cid not in kubo.pins()
    kubo.pin(cid)
    assert kubo.is_pinned(cid)
    assert cid in kubo.pins()
    kubo.pin(cid)  # idempotent


def test_missing_content_is_not_found_within_the_timeout(kubo: KuboStore) -> None:
    started = time.monotonic()
    with pytest.raises(ContentNotFound) as err:
        kubo.get_block(NEVER_ADDED, timeout=1.0)
    assert err.value.cid == NEVER_ADDED
    assert not kubo.has(NEVER_ADDED, timeout=0.5)
    with pytest.raises(ContentNotFound):
        kubo.pin(NEVER_ADDED, timeout=0.5)
    assert time.monotonic() - started < 8.0


def test_local_car_imports_into_the_node_under_the_same_root(
    kubo: KuboStore, tmp_path: Path
) -> None:
    local = LocalStore(tmp_path / "local")
    data = content(5 * CHUNK_SIZE + 123, b"local to node")
    cid = local.put(data)
    car = io.BytesIO()
    local.export_car(cid, car)
    car.seek(0)
    assert kubo.import_car(car) == [cid]
    assert kubo.is_pinned(cid)
    assert kubo.cat(cid) == data


def test_node_car_export_imports_into_the_local_store(kubo: KuboStore, tmp_path: Path) -> None:
    data = content(2 * CHUNK_SIZE + 1, b"node to local")
    cid = kubo.put(data)
    car = io.BytesIO()
    kubo.export_car(cid, car)
    car.seek(0)
    assert [cid_str(r) for r in CarReader(car).roots] == [cid]
    car.seek(0)
    local = LocalStore(tmp_path / "local")
    assert local.import_car(car) == [cid]
    assert local.get(cid) == data
    assert local.is_pinned(cid)


def test_node_and_local_car_exports_are_identical(kubo: KuboStore, tmp_path: Path) -> None:
    data = content(4 * CHUNK_SIZE, b"same car")
    local = LocalStore(tmp_path / "local")
    cid = local.put(data)
    assert kubo.put(data) == cid
    ours, theirs = io.BytesIO(), io.BytesIO()
    local.export_car(cid, ours)
    kubo.export_car(cid, theirs)
    assert ours.getvalue() == theirs.getvalue()


def test_launcher_binds_loopback_only_and_is_offline(jsipfs: JsIpfsNode, kubo: KuboStore) -> None:
    assert jsipfs.api_url.startswith("http://127.0.0.1:")
    ident = kubo.id()
    assert ident["Addresses"] == []  # no swarm listeners at all
    assert kubo.version()["Version"] == "0.18.1"  # ipfs@0.66.1 ships ipfs-core 0.18.1
