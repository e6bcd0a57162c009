"""CID computation is byte-for-byte Kubo's ``add --cid-version=1 --raw-leaves`` (offline)."""

from __future__ import annotations

import base64
import hashlib
import io
import tracemalloc

import pytest
from multiformats import CID

from notary.store import CHUNK_SIZE, InvalidCIDError, compute_cid
from notary.store.base import ContentIntegrityError
from notary.store.cid import (
    DAG_PB,
    RAW,
    binary_cid,
    cid_str,
    codec_of,
    make_cid,
    multihash_key,
    parse_cid,
    to_binary,
    verify_block,
)
from notary.store.unixfs import (
    FileDagBuilder,
    PBLink,
    build_file,
    chunks,
    decode_pbnode,
    decode_unixfs,
    encode_pbnode,
    encode_unixfs_file,
    iter_dag,
    iter_file,
)
from tests.notary.store.helpers import CountingStream, content

KIB = 1024
MIB = 1024 * KIB

# Computed by this project and by the Rust aleph-cid crate, and equal to what a
# real js-ipfs node returns for the same bytes (test_jsipfs.py re-checks that).
GOLDEN: list[tuple[int, str]] = [
    (0, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
    (1, "bafkreig6fyzr3ci24jt2oae4wrnu5cbq6fyobsjxfchke4y2dfa4pjj3bu"),
    (256 * KIB - 1, "bafkreiclotzrowkvmfns3qclaadyd4g4bgllapf55o7v2ogps73dnidaz4"),
    (256 * KIB, "bafkreicwn57okrulbkrvhjvay2fkfotilvxjklehdrspznjs2nft6usliu"),
    (256 * KIB + 1, "bafybeiaknzk4devmat4a6gxqu64g3k3xxhl5obenxencyfrwwwa24zbmpq"),
    (1 * MIB, "bafybeiaisk4o5dmu4bvtsvatf7233phivnwt7iskwhrxmp3yrhwpk43u3e"),
    (10 * MIB, "bafybeia4gpjdvbhotibeyb6qnggx5abezbecaehslqt6bzpglf4ofuufze"),
]
# 1 MiB of zeros: four identical leaves (Kubo's answer for `head -c 1M /dev/zero`).
ZEROS_1MIB = "bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla"


@pytest.mark.parametrize(("size", "expected"), GOLDEN, ids=[str(s) for s, _ in GOLDEN])
def test_golden_cids(size: int, expected: str) -> None:
    assert compute_cid(content(size)) == expected


def test_zeros_dedupe_to_one_leaf() -> None:
    assert compute_cid(bytes(MIB)) == ZEROS_1MIB
    blocks: list[bytes] = []
    build_file(bytes(MIB), lambda cid, _block: blocks.append(cid))
    # The builder emits each leaf occurrence; the DAG walk visits the shared leaf once.
    assert len(blocks) == 5
    assert len(set(blocks)) == 2


def test_empty_file_is_the_raw_leaf_of_no_bytes() -> None:
    # Kubo with --raw-leaves: not a dag-pb node, the raw block of b"".
    cid = CID.decode(compute_cid(b""))
    assert cid.codec.code == RAW
    assert cid == make_cid(RAW, b"")


def test_single_chunk_is_raw_more_chunks_are_dag_pb() -> None:
    assert CID.decode(compute_cid(content(CHUNK_SIZE))).codec.code == RAW
    assert CID.decode(compute_cid(content(CHUNK_SIZE + 1))).codec.code == DAG_PB


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 7])
def test_stream_and_bytes_agree_even_with_short_reads(size: int) -> None:
    data = content(size)

    class Trickle(io.RawIOBase):
        """Returns at most 1000 bytes per read, like a pipe or socket."""

        def __init__(self) -> None:
            self._src = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            part = self._src.read(min(len(b), 1000))
            b[: len(part)] = part
            return len(part)

    expected = compute_cid(data)
    assert compute_cid(io.BytesIO(data)) == expected
    assert compute_cid(Trickle()) == expected  # type: ignore[arg-type]


def test_chunks_are_exactly_256_kib() -> None:
    sizes = [len(c) for c in chunks(io.BytesIO(content(2 * CHUNK_SIZE + 5)))]
    assert sizes == [CHUNK_SIZE, CHUNK_SIZE, 5]


def test_multi_chunk_root_node_layout() -> None:
    """The root of a 2.5-chunk file: three links, empty names, UnixFS File with sizes."""
    data = content(2 * CHUNK_SIZE + CHUNK_SIZE // 2)
    blocks: dict[bytes, bytes] = {}
    root = build_file(data, blocks.__setitem__)
    node = decode_pbnode(blocks[root])
    assert [link.name for link in node.links] == ["", "", ""]
    assert [link.tsize for link in node.links] == [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE // 2]
    assert node.data is not None
    fs = decode_unixfs(node.data)
    assert (fs.type, fs.filesize, fs.blocksizes) == (2, len(data), [CHUNK_SIZE] * 2 + [131072])
    # Canonical bytes: links (field 2, 0x12) come before Data (field 1, 0x0a).
    raw = blocks[root]
    assert raw[0] == 0x12
    assert raw.endswith(b"\x0a" + bytes([len(node.data)]) + node.data)


def test_pbnode_encoding_is_canonical() -> None:
    cid = bytes(make_cid(RAW, b"x"))
    data = encode_unixfs_file(1, [1])
    encoded = encode_pbnode([PBLink(cid, "", 1)], data)
    # 0x12 len [0x0a 0x24 cid] [0x12 0x00] [0x18 0x01] then 0x0a len data
    link = b"\x0a\x24" + cid + b"\x12\x00" + b"\x18\x01"
    assert encoded == b"\x12" + bytes([len(link)]) + link + b"\x0a" + bytes([len(data)]) + data
    assert data == b"\x08\x02\x18\x01\x20\x01"
    assert decode_pbnode(encoded).links == [PBLink(cid, "", 1)]


def test_pbnode_decoding_refuses_non_canonical_order() -> None:
    cid = bytes(make_cid(RAW, b"x"))
    link = b"\x0a\x24" + cid
    data_first = b"\x0a\x01X" + b"\x12" + bytes([len(link)]) + link
    with pytest.raises(ValueError, match="Links after Data"):
        decode_pbnode(data_first)


def _shape(root: bytes, blocks: dict[bytes, bytes]) -> object:
    if codec_of(root) == RAW:
        return len(blocks[root])
    node = decode_pbnode(blocks[root])
    return [_shape(link.hash, blocks) for link in node.links]


def test_balanced_tree_fills_left_subtrees_first() -> None:
    """With 3 links per node, 10 leaves give Kubo's balanced shape (full left subtrees)."""
    blocks: dict[bytes, bytes] = {}
    builder = FileDagBuilder(blocks.__setitem__, max_links=3)
    for i in range(10):
        builder.add(bytes([i]))
    root = builder.finish()
    assert _shape(root, blocks) == [[[1, 1, 1], [1, 1, 1], [1, 1, 1]], [[1]]]
    assert b"".join(iter_file(root, blocks.__getitem__)) == bytes(range(10))


@pytest.mark.parametrize(("leaves", "shape"), [(3, [1, 1, 1]), (4, [[1, 1, 1], [1]])])
def test_exactly_full_node_is_not_wrapped(leaves: int, shape: object) -> None:
    blocks: dict[bytes, bytes] = {}
    builder = FileDagBuilder(blocks.__setitem__, max_links=3)
    for i in range(leaves):
        builder.add(bytes([i]))
    assert _shape(builder.finish(), blocks) == shape


def test_more_than_174_chunks_matches_the_rust_implementation() -> None:
    """175 chunks need a second tree level; aleph-cid (Rust, Kubo-compatible) agrees."""
    aleph_cid = pytest.importorskip("aleph_cid")
    data = content(175 * CHUNK_SIZE + 3)
    hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
    hasher.update(data)
    assert compute_cid(data) == hasher.finalize()


def test_iter_dag_visits_each_block_once_in_preorder() -> None:
    blocks: dict[bytes, bytes] = {}
    root = build_file(bytes(MIB), blocks.__setitem__)
    order = [c for c, _ in iter_dag(root, blocks.__getitem__)]
    assert order[0] == root
    assert len(order) == 2


def test_parse_cid_refuses_garbage_and_unverifiable_hashes() -> None:
    with pytest.raises(InvalidCIDError, match="not a CID"):
        parse_cid("hello")
    identity = CID("base32", 1, "raw", ("identity", b"abc"))
    with pytest.raises(InvalidCIDError, match="only sha2-256"):
        parse_cid(str(identity))
    cbor = CID("base32", 1, "dag-cbor", ("sha2-256", bytes(32)))
    with pytest.raises(InvalidCIDError, match="codec dag-cbor"):
        parse_cid(str(cbor))


def test_cidv0_is_accepted_and_keyed_like_its_v1_form() -> None:
    v1 = make_cid(DAG_PB, b"node")
    v0 = v1.set(version=0, base="base58btc")
    assert multihash_key(to_binary(str(v0))) == multihash_key(bytes(v1))
    assert len(to_binary(str(v0))) == 34


def test_verify_block_names_the_block() -> None:
    cid = binary_cid(RAW, b"right")
    verify_block(cid, b"right")
    with pytest.raises(ContentIntegrityError) as err:
        verify_block(cid, b"wrong")
    assert err.value.cid == str(make_cid(RAW, b"right"))
    assert "sha2-256" in str(err.value)


@pytest.mark.parametrize("codec", [RAW, DAG_PB])
def test_hand_made_binary_cids_agree_with_multiformats(codec: int) -> None:
    binary = binary_cid(codec, b"block")
    parsed = CID.decode(binary)
    assert parsed.codec.code == codec
    assert parsed.hashfun.name == "sha2-256"
    assert cid_str(binary) == str(parsed.set(base="base32"))
    assert to_binary(cid_str(binary)) == binary
    if codec == DAG_PB:
        v0 = bytes(parsed.set(version=0, base="base58btc"))
        assert cid_str(v0).startswith("Qm")
        assert codec_of(v0) == DAG_PB


def _peak_while_hashing(count: int) -> tuple[str, int]:
    tracemalloc.start()
    try:
        cid = compute_cid(CountingStream(count))  # type: ignore[arg-type]
        return cid, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_streams_are_built_in_bounded_memory() -> None:
    """350 chunks (87.5 MiB, two tree levels) need no more memory than 20 chunks."""
    _, small_peak = _peak_while_hashing(20)
    cid, peak = _peak_while_hashing(350)
    assert peak < 2 * MIB
    assert peak < small_peak + 256 * KIB
    aleph_cid = pytest.importorskip("aleph_cid")
    hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
    for i in range(350):
        hasher.update(i.to_bytes(4, "big") * (CHUNK_SIZE // 4))
    assert cid == hasher.finalize()


def _outcome(value: object) -> tuple[object, ...]:
    try:
        return ("ok", to_binary(value))  # type: ignore[arg-type]
    except InvalidCIDError as e:
        return ("error", type(e), str(e))


def _cid_texts() -> list[str]:
    """Canonical base32 CIDv1s and many near misses of them."""
    import random

    from multiformats import multihash

    rng = random.Random(19)
    texts: list[str] = []
    for i in range(200):
        digest = hashlib.sha256(i.to_bytes(4, "big")).digest()
        texts.append(cid_str(binary_cid(RAW if i % 2 else DAG_PB, digest)))
    alphabet = "abcdefghijklmnopqrstuvwxyz234567ABCZ=01889!é "
    for text in texts[:40]:
        for _ in range(25):  # one character changed
            k = rng.randrange(len(text))
            texts.append(text[:k] + rng.choice(alphabet) + text[k + 1 :])
        texts += [
            text.upper(), "B" + text[1:], text[:-1], text + "a", text[1:], text + "=",
            text[:-1] + chr(ord(text[-1]) + 1),  # non-zero trailing bits, or not base32
            "z" + text[1:], "f" + text[1:], text.replace("b", "b ", 1),
        ]  # fmt: skip
    digest = hashlib.sha256(b"x").digest()
    sha512 = multihash.digest(b"x", "sha2-512")
    other = [
        CID("base32", 1, "dag-cbor", ("sha2-256", digest)),  # codec not supported
        CID("base32", 1, "raw", sha512),  # hash not supported
        CID("base32", 1, "raw", ("identity", b"abc")),
        CID("base58btc", 0, "dag-pb", ("sha2-256", digest)),  # CIDv0
        CID("base58btc", 1, "raw", ("sha2-256", digest)),
        CID("base16", 1, "raw", ("sha2-256", digest)),
    ]
    texts += [str(c) for c in other]
    # A truncated sha2-256 digest: a valid CID, but not one the store can verify.
    truncated = bytes((1, RAW, 0x12, 31)) + digest[:31]
    texts.append("b" + base64.b32encode(truncated).decode().rstrip("=").lower())
    texts += ["", "b", "b" * 59, "b" + "a" * 58, "Qm", "bafkrei", "\u0000" * 59, "b" + "é" * 58]
    return texts


def test_base32_fast_path_is_multiformats_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hand decoding of base32 CIDv1 gives multiformats' answer on canonical CIDs and
    leaves everything else to it: the same bytes, the same error type and message."""
    import notary.store.cid as cid_module

    texts = _cid_texts()
    fast = [_outcome(t) for t in texts]
    with monkeypatch.context() as m:
        m.setattr(cid_module, "_from_base32", lambda _text: None)
        slow = [_outcome(t) for t in texts]
    assert fast == slow
    assert sum(1 for o in fast if o[0] == "ok") >= 200
    assert sum(1 for o in fast if o[0] == "error") >= 300


def test_base32_fast_path_skips_multiformats(monkeypatch: pytest.MonkeyPatch) -> None:
    text = compute_cid(b"abc")

    def refuse(*_a: object) -> None:
        raise AssertionError("CID.decode called")

    import notary.store.cid as cid_module

    monkeypatch.setattr(cid_module.CID, "decode", refuse)
    assert to_binary(text) == binary_cid(RAW, b"abc")


def test_base32_encoder_is_rfc4648() -> None:
    import random

    from notary.store.cid import _b32

    rng = random.Random(5)
    for n in [0, 1, 2, 3, 4, 5, 6, 7, 31, 32, 34, 36, 37, 64] + [
        rng.randrange(80) for _ in range(200)
    ]:
        data = rng.randbytes(n)
        assert _b32(data) == base64.b32encode(data).decode().rstrip("=").lower(), n
