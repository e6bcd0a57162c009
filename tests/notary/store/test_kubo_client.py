"""The Kubo RPC client without a node: request shape, error mapping, and distrust of answers.

A real node never returns a block that fails its hash, so these tests play a
lying node through httpx.MockTransport; test_jsipfs.py covers the real one.
"""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Callable

import httpx
import pytest
from multiformats import CID

from notary.store import (
    CHUNK_SIZE,
    ContentIntegrityError,
    ContentNotFound,
    KuboStore,
    StoreError,
    StoreUnavailable,
    compute_cid,
)
from notary.store import kubo as kubo_module
from notary.store.car import CarWriter
from notary.store.cid import cid_str
from notary.store.unixfs import build_file
from tests.notary.store.helpers import content

Handler = Callable[[httpx.Request], httpx.Response]

DATA = content(2 * CHUNK_SIZE + 10)


def _blocks(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    blocks: dict[str, bytes] = {}
    root = build_file(data, lambda c, b: blocks.__setitem__(cid_str(c), b))
    return root, blocks


def _store(handler: Handler) -> KuboStore:
    return KuboStore("http://127.0.0.1:5001", timeout=3.0, transport=httpx.MockTransport(handler))


def _block_server(blocks: dict[str, bytes], seen: list[httpx.Request] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        assert request.url.path == "/api/v0/block/get"
        arg = request.url.params["arg"]
        if arg not in blocks:
            return httpx.Response(500, json={"Message": "block was not found locally (offline)"})
        return httpx.Response(200, content=blocks[arg])

    return handler


def test_every_call_is_a_post_with_base32_and_a_timeout() -> None:
    root, blocks = _blocks(DATA)
    seen: list[httpx.Request] = []
    with _store(_block_server(blocks, seen)) as store:
        assert store.get(cid_str(root)) == DATA
        store.get_block(cid_str(root), timeout=7.5)
    assert len(seen) == 5
    for request in seen:
        assert request.method == "POST"
        assert request.url.params["cid-base"] == "base32"
        assert request.url.params["timeout"] in ("3000ms", "7500ms")
    assert seen[-1].url.params["timeout"] == "7500ms"


@pytest.mark.parametrize("which", ["root", "leaf"])
def test_a_tampered_block_from_the_node_is_refused_and_named(which: str) -> None:
    root, blocks = _blocks(DATA)
    target = cid_str(root) if which == "root" else list(blocks)[1]
    blocks[target] = blocks[target][:-1] + bytes([blocks[target][-1] ^ 1])
    with _store(_block_server(blocks)) as store, pytest.raises(ContentIntegrityError) as err:
        store.get(cid_str(root))
    assert err.value.cid == target


def test_a_swapped_block_from_the_node_is_refused() -> None:
    root, blocks = _blocks(DATA)
    first, second = list(blocks)[:2]
    blocks[first], blocks[second] = blocks[second], blocks[first]
    with _store(_block_server(blocks)) as store, pytest.raises(ContentIntegrityError) as err:
        store.get(cid_str(root))
    assert err.value.cid == first


def test_a_missing_block_is_content_not_found() -> None:
    root, blocks = _blocks(DATA)
    missing = next(iter(blocks))
    del blocks[missing]
    with _store(_block_server(blocks)) as store, pytest.raises(ContentNotFound) as err:
        store.get(cid_str(root))
    assert err.value.cid == missing


def test_cat_recomputes_the_cid() -> None:
    root, _ = _blocks(DATA)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=DATA[:-1] + b"!")

    with _store(handler) as store, pytest.raises(ContentIntegrityError, match="cat returned"):
        store.cat(cid_str(root))


def test_put_checks_the_cid_the_node_claims_and_streams_the_input() -> None:
    uploaded = bytearray()

    def lying(request: httpx.Request) -> httpx.Response:
        assert request.url.params["cid-version"] == "1"
        assert request.url.params["raw-leaves"] == "true"
        assert request.url.params["chunker"] == f"size-{CHUNK_SIZE}"
        assert request.url.params["pin"] == "true"
        uploaded.extend(request.read())
        return httpx.Response(200, json={"Name": "blob", "Hash": compute_cid(b"other")})

    with _store(lying) as store, pytest.raises(ContentIntegrityError) as err:
        store.put(io.BytesIO(DATA))
    assert err.value.cid == compute_cid(b"other")
    assert compute_cid(DATA) in str(err.value)
    assert DATA in bytes(uploaded)

    def honest(request: httpx.Request) -> httpx.Response:
        request.read()
        line = json.dumps({"Name": "blob", "Hash": compute_cid(DATA), "Size": str(len(DATA))})
        return httpx.Response(200, content=line.encode() + b"\n")

    with _store(honest) as store:
        assert store.put(DATA) == compute_cid(DATA)


def _car(root: bytes, sections: list[tuple[bytes, bytes]]) -> bytes:
    out = io.BytesIO()
    writer = CarWriter(out, [CID.decode(root)])
    for c, b in sections:
        writer.write(c, b)
    return out.getvalue()


def _export_server(body: bytes) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v0/dag/export"
        return httpx.Response(200, content=body)

    return handler


def test_dag_export_is_verified_block_by_block() -> None:
    sections: list[tuple[bytes, bytes]] = []
    root = build_file(DATA, lambda c, b: sections.append((c, b)))
    preorder = [sections[-1], *sections[:-1]]

    with _store(_export_server(_car(root, preorder))) as store:
        out = io.BytesIO()
        store.export_car(cid_str(root), out)
        assert out.getvalue() == _car(root, preorder)

    tampered = [*preorder]
    tampered[2] = (tampered[2][0], b"x" + tampered[2][1][1:])
    with _store(_export_server(_car(root, tampered))) as store:
        with pytest.raises(ContentIntegrityError) as err:
            store.export_car(cid_str(root), io.BytesIO())
        assert err.value.cid == cid_str(tampered[2][0])

    short = _store(_export_server(_car(root, preorder[:-1])))
    with short as store, pytest.raises(ContentIntegrityError, match="left out 1"):
        store.export_car(cid_str(root), io.BytesIO())

    stranger = build_file(b"unrelated")
    extra = [*preorder, (stranger, b"unrelated")]
    padded = _store(_export_server(_car(root, extra)))
    with padded as store, pytest.raises(ContentIntegrityError, match="does not link"):
        store.export_car(cid_str(root), io.BytesIO())


def test_dag_import_uploads_only_verified_blocks() -> None:
    sections: list[tuple[bytes, bytes]] = []
    root = build_file(DATA, lambda c, b: sections.append((c, b)))
    sections[0] = (sections[0][0], b"evil")
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        request.read()
        return httpx.Response(200, json={"Root": {"Cid": {"/": cid_str(root)}, "PinErrorMsg": ""}})

    with _store(handler) as store, pytest.raises(ContentIntegrityError):
        store.import_car(io.BytesIO(_car(root, sections)))


def test_node_errors_are_typed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pin/ls"):
            return httpx.Response(500, json={"Message": "path 'x' is not pinned", "Code": 0})
        if request.url.path.endswith("/block/stat"):
            return httpx.Response(500, json={"Message": "request timed out", "Code": 0})
        return httpx.Response(500, json={"Message": "repo is locked", "Code": 0})

    cid = compute_cid(b"x")
    with _store(handler) as store:
        assert store.is_pinned(cid) is False
        assert store.has(cid) is False
        with pytest.raises(StoreError, match="repo is locked") as err:
            store.version()
        assert not isinstance(err.value, ContentNotFound | StoreUnavailable)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_node_down_is_store_unavailable_quickly() -> None:
    port = _closed_port()
    started = time.monotonic()
    with KuboStore(f"http://127.0.0.1:{port}", timeout=30.0) as store:
        unreachable = rf"IPFS node at 127\.0\.0\.1:{port} is unreachable"
        with pytest.raises(StoreUnavailable, match=unreachable):
            store.put(DATA)
        with pytest.raises(StoreUnavailable):
            store.get(compute_cid(DATA))
        with pytest.raises(StoreUnavailable):
            store.export_car(compute_cid(DATA), io.BytesIO())
    assert time.monotonic() - started < 2.0


def test_a_node_that_does_not_answer_is_store_unavailable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # accepts connections, never answers
        port = server.getsockname()[1]
        started = time.monotonic()
        with KuboStore(f"http://127.0.0.1:{port}") as store:
            store_timeout = 0.2
            with pytest.raises(StoreUnavailable, match="did not answer"):
                store.version(timeout=store_timeout)
        assert time.monotonic() - started < 3.0


def test_swarm_addresses_are_asked_once_per_ttl_and_a_failure_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GET /v1/federation needs no key: it must not cost a call to the node each time."""
    seen: list[httpx.Request] = []
    answers = [
        httpx.Response(500, json={"Message": "node starting"}),
        httpx.Response(
            200,
            json={
                "ID": "12D3KooWPeer",
                "Addresses": ["/ip4/127.0.0.1/tcp/4001", "/ip4/10.0.0.5/tcp/4001"],
            },
        ),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.path == "/api/v0/id"
        return answers.pop(0) if answers else httpx.Response(500, json={"Message": "gone"})

    store = _store(handler)
    with pytest.raises(StoreError):
        store.swarm_addresses()
    expected = ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWPeer"]
    assert store.swarm_addresses() == expected
    assert store.swarm_addresses() == expected
    assert len(seen) == 2

    clock = time.monotonic() + kubo_module.SWARM_ADDRESSES_TTL + 1
    monkeypatch.setattr(kubo_module.time, "monotonic", lambda: clock)
    with pytest.raises(StoreError):
        store.swarm_addresses()  # expired: asked again, and the node is gone
    assert len(seen) == 3
