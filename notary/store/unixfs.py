"""UnixFS files as Kubo builds them with ``add --cid-version=1 --raw-leaves``.

Layout (go-unixfs "balanced" importer, identical in js-ipfs):

* the input is cut into 262,144-byte chunks (``chunker=size-262144``);
* each chunk is a raw block (codec raw 0x55);
* one chunk, or none (empty input), is the whole file: the raw block is the root;
* otherwise chunks are grouped 174 to a dag-pb node, those nodes 174 to a parent,
  and so on until one node remains. Each node carries UnixFS Data
  ``{Type: File, filesize, blocksizes}``; each link carries Hash, an empty Name
  and Tsize (the encoded size of the whole subtree).

dag-pb and UnixFS are two tiny protobuf schemas. No maintained Python package
encodes them (``ipld-dag-pb`` 0.0.1 is a fresh port with a mutable-default bug and
no UnixFS), so this module encodes them directly, in the canonical form the
dag-pb spec requires: PBNode Links (field 2) before Data (field 1), PBLink fields
in order Hash, Name, Tsize; UnixFS fields in field order, blocksizes unpacked.
The golden tests pin this byte-for-byte against js-ipfs and against the Rust
``aleph-cid`` crate.

Building is streaming: only the pending link lists (at most 174 per tree level)
are held, so a 1 GB input needs a few hundred KiB of memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from notary.store.base import ContentIntegrityError
from notary.store.cid import DAG_PB, RAW, binary_cid, cid_str, codec_of, to_binary

CHUNK_SIZE = 262_144
MAX_LINKS = 174

# UnixFS Data.Type values (unixfs.proto).
UNIXFS_RAW = 0
UNIXFS_FILE = 2

# Receives (binary CID, block) for every block as it is built.
BlockSink = Callable[[bytes, bytes], None]
# Returns the verified bytes of a block, given its binary CID.
BlockLoader = Callable[[bytes], bytes]


# --- protobuf primitives ---------------------------------------------------------


def uvarint(n: int) -> bytes:
    """Unsigned LEB128 varint (protobuf, multiformats and CAR all use this encoding)."""
    if n < 0:
        raise ValueError(f"varint must be non-negative, got {n}")
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _ProtoError(ValueError):
    """Malformed protobuf; turned into ContentIntegrityError naming the block."""


def _readuvarint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise _ProtoError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _ProtoError("varint longer than 64 bits")


def _read_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for varint and length-delimited fields."""
    pos = 0
    while pos < len(buf):
        key, pos = _readuvarint(buf, pos)
        fieldno, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _readuvarint(buf, pos)
            yield fieldno, wire, value
        elif wire == 2:
            size, pos = _readuvarint(buf, pos)
            if pos + size > len(buf):
                raise _ProtoError(f"field {fieldno} runs past the end of the message")
            yield fieldno, wire, buf[pos : pos + size]
            pos += size
        else:
            raise _ProtoError(f"field {fieldno} has unsupported wire type {wire}")


# --- dag-pb ----------------------------------------------------------------------


@dataclass(frozen=True)
class PBLink:
    hash: bytes  # binary CID
    name: str | None
    tsize: int | None


@dataclass(frozen=True)
class PBNode:
    links: list[PBLink]
    data: bytes | None


def encode_pbnode(links: list[PBLink], data: bytes | None) -> bytes:
    """Canonical dag-pb encoding: every link (field 2) first, then Data (field 1)."""
    out = bytearray()
    for link in links:
        body = b"\x0a" + uvarint(len(link.hash)) + link.hash
        if link.name is not None:
            name = link.name.encode("utf-8")
            body += b"\x12" + uvarint(len(name)) + name
        if link.tsize is not None:
            body += b"\x18" + uvarint(link.tsize)
        out += b"\x12" + uvarint(len(body)) + body
    if data is not None:
        out += b"\x0a" + uvarint(len(data)) + data
    return bytes(out)


def decode_pbnode(buf: bytes) -> PBNode:
    """Strict dag-pb decoding (spec: only fields 1 and 2, links before data)."""
    links: list[PBLink] = []
    data: bytes | None = None
    for fieldno, wire, value in _read_fields(buf):
        if fieldno == 2 and wire == 2 and isinstance(value, bytes):
            if data is not None:
                raise _ProtoError("PBNode Links after Data (non-canonical)")
            links.append(_decode_pblink(value))
        elif fieldno == 1 and wire == 2 and isinstance(value, bytes):
            if data is not None:
                raise _ProtoError("PBNode has two Data fields")
            data = value
        else:
            raise _ProtoError(f"PBNode has unexpected field {fieldno} (wire type {wire})")
    return PBNode(links, data)


def _decode_pblink(buf: bytes) -> PBLink:
    hash_: bytes | None = None
    name: str | None = None
    tsize: int | None = None
    for fieldno, wire, value in _read_fields(buf):
        if fieldno == 1 and wire == 2 and isinstance(value, bytes) and hash_ is None:
            hash_ = value
        elif fieldno == 2 and wire == 2 and isinstance(value, bytes) and name is None:
            try:
                name = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _ProtoError("PBLink Name is not UTF-8") from exc
        elif fieldno == 3 and wire == 0 and isinstance(value, int) and tsize is None:
            tsize = value
        else:
            raise _ProtoError(f"PBLink has unexpected field {fieldno} (wire type {wire})")
    if hash_ is None:
        raise _ProtoError("PBLink without Hash")
    return PBLink(hash_, name, tsize)


# --- UnixFS Data -----------------------------------------------------------------


@dataclass(frozen=True)
class UnixFSData:
    type: int
    data: bytes = b""
    filesize: int | None = None
    blocksizes: list[int] = field(default_factory=list)


def encode_unixfs_file(filesize: int, blocksizes: list[int]) -> bytes:
    """UnixFS Data of an intermediate file node: Type=File, filesize, blocksizes (unpacked)."""
    out = bytearray(b"\x08" + uvarint(UNIXFS_FILE))
    out += b"\x18" + uvarint(filesize)
    for size in blocksizes:
        out += b"\x20" + uvarint(size)
    return bytes(out)


def decode_unixfs(buf: bytes) -> UnixFSData:
    type_: int | None = None
    data = b""
    filesize: int | None = None
    blocksizes: list[int] = []
    for fieldno, wire, value in _read_fields(buf):
        if fieldno == 1 and isinstance(value, int):
            type_ = value
        elif fieldno == 2 and isinstance(value, bytes):
            data = value
        elif fieldno == 3 and isinstance(value, int):
            filesize = value
        elif fieldno == 4 and isinstance(value, int):
            blocksizes.append(value)
        elif fieldno == 4 and isinstance(value, bytes):  # packed encoding, also legal
            pos = 0
            while pos < len(value):
                size, pos = _readuvarint(value, pos)
                blocksizes.append(size)
        elif fieldno in (5, 6, 7, 8):  # hashType, fanout, mode, mtime: irrelevant to content
            continue
        else:
            raise _ProtoError(f"UnixFS Data has unexpected field {fieldno} (wire type {wire})")
    if type_ is None:
        raise _ProtoError("UnixFS Data without Type")
    return UnixFSData(type_, data, filesize, blocksizes)


# --- building --------------------------------------------------------------------


@dataclass(frozen=True)
class _Child:
    cid: bytes  # binary CID
    tsize: int  # encoded bytes of the whole subtree
    filesize: int  # file bytes under it


def chunks(data: BinaryIO | bytes, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Cut input into ``size``-byte chunks, the last one shorter; streams are read lazily.

    Short reads (pipes, sockets) are topped up so chunk boundaries never depend
    on how the stream delivers its bytes.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
        return
    while True:
        buf = data.read(size)
        if not buf:
            return
        while len(buf) < size:
            more = data.read(size - len(buf))
            if not more:
                break
            buf += more
        yield bytes(buf)
        if len(buf) < size:
            return


class FileDagBuilder:
    """Incremental balanced-DAG builder. Feed chunks with ``add``, then call ``finish``.

    ``sink`` receives every block as soon as it exists (leaves first, then each
    parent after its children), so a store can write blocks as they stream past.
    """

    def __init__(self, sink: BlockSink | None = None, max_links: int = MAX_LINKS) -> None:
        if max_links < 2:
            raise ValueError(f"max_links must be at least 2, got {max_links}")
        self._sink = sink
        self._max_links = max_links
        self._levels: list[list[_Child]] = [[]]
        self._finished = False

    def _emit(self, codec: int, block: bytes) -> bytes:
        # Binary CIDs on this hot path: see notary.store.cid for why not multiformats.
        cid = binary_cid(codec, block)
        if self._sink is not None:
            self._sink(cid, block)
        return cid

    def add(self, chunk: bytes) -> None:
        if self._finished:
            raise RuntimeError("builder already finished")
        cid = self._emit(RAW, chunk)
        self._push(0, _Child(cid, len(chunk), len(chunk)))

    def _push(self, level: int, child: _Child) -> None:
        if level == len(self._levels):
            self._levels.append([])
        # A full level is flushed only when one more child arrives: exactly 174
        # children must stay one node, not become a parent with a single link.
        if len(self._levels[level]) == self._max_links:
            self._push(level + 1, self._flush(level))
        self._levels[level].append(child)

    def _flush(self, level: int) -> _Child:
        children = self._levels[level]
        self._levels[level] = []
        filesize = sum(c.filesize for c in children)
        data = encode_unixfs_file(filesize, [c.filesize for c in children])
        block = encode_pbnode([PBLink(c.cid, "", c.tsize) for c in children], data)
        cid = self._emit(DAG_PB, block)
        return _Child(cid, len(block) + sum(c.tsize for c in children), filesize)

    def finish(self) -> bytes:
        """Close the DAG; return the root's binary CID."""
        if self._finished:
            raise RuntimeError("builder already finished")
        self._finished = True
        if len(self._levels) == 1 and len(self._levels[0]) <= 1:
            if not self._levels[0]:  # empty input: Kubo stores one empty raw leaf
                return self._emit(RAW, b"")
            return self._levels[0][0].cid  # one chunk: the leaf is the file
        level = 0
        while True:
            top = level == len(self._levels) - 1
            if top and level > 0 and len(self._levels[level]) == 1:
                return self._levels[level][0].cid
            self._push(level + 1, self._flush(level))
            level += 1


def build_file(data: BinaryIO | bytes, sink: BlockSink | None = None) -> bytes:
    """Chunk and build ``data``; return the root's binary CID. Blocks go to ``sink`` if given."""
    builder = FileDagBuilder(sink)
    for chunk in chunks(data):
        builder.add(chunk)
    return builder.finish()


def compute_cid(data: BinaryIO | bytes) -> str:
    """The CID Kubo's ``ipfs add --cid-version=1 --raw-leaves`` gives ``data`` (base32)."""
    return cid_str(build_file(data))


# --- reading ---------------------------------------------------------------------


def _children(cid: bytes, node: PBNode) -> list[bytes]:
    try:
        return [to_binary(link.hash) for link in node.links]
    except Exception as exc:
        raise ContentIntegrityError(cid_str(cid), f"links to an unusable CID: {exc}") from exc


def links_of(cid: bytes, block: bytes) -> list[bytes]:
    """Child CIDs (binary) of a verified block: none for raw, the PBNode links for dag-pb."""
    if codec_of(cid) == RAW:
        return []
    try:
        node = decode_pbnode(block)
    except _ProtoError as exc:
        raise ContentIntegrityError(cid_str(cid), f"malformed dag-pb node: {exc}") from exc
    return _children(cid, node)


def iter_file(root: bytes, load: BlockLoader) -> Iterator[bytes]:
    """Yield a UnixFS file's bytes in order. ``load`` must return verified block bytes.

    Beyond the hashes, sizes are cross-checked (blocksizes and filesize against
    what the children really hold), so a hash-valid but inconsistent DAG is
    refused rather than returned short or padded.
    """
    yield from _iter_node(root, load, None)


def _iter_node(cid: bytes, load: BlockLoader, expected: int | None) -> Iterator[bytes]:
    block = load(cid)
    if codec_of(cid) == RAW:
        if expected is not None and len(block) != expected:
            raise ContentIntegrityError(
                cid_str(cid), f"raw leaf holds {len(block)} bytes, its parent says {expected}"
            )
        yield block
        return
    try:
        node = decode_pbnode(block)
        if node.data is None:
            raise _ProtoError("dag-pb node without UnixFS Data")
        fs = decode_unixfs(node.data)
        if fs.type not in (UNIXFS_FILE, UNIXFS_RAW):
            raise _ProtoError(f"UnixFS type {fs.type} is not a file")
    except _ProtoError as exc:
        raise ContentIntegrityError(cid_str(cid), f"malformed UnixFS file node: {exc}") from exc
    children = _children(cid, node)
    if fs.blocksizes and len(fs.blocksizes) != len(children):
        raise ContentIntegrityError(
            cid_str(cid), f"{len(children)} links but {len(fs.blocksizes)} blocksizes"
        )
    total = len(fs.data) + sum(fs.blocksizes)
    for size in (fs.filesize, expected):
        if size is not None and fs.blocksizes and size != total:
            raise ContentIntegrityError(
                cid_str(cid), f"sizes disagree: declared {size}, data + blocksizes = {total}"
            )
    if fs.data:
        yield fs.data
    sizes: list[int | None] = list(fs.blocksizes) if fs.blocksizes else [None] * len(children)
    for child, size in zip(children, sizes, strict=True):
        yield from _iter_node(child, load, size)


def iter_dag(root: bytes, load: BlockLoader) -> Iterator[tuple[bytes, bytes]]:
    """Every distinct block (binary CID, bytes) of a DAG in depth-first pre-order (Kubo's)."""
    seen: set[bytes] = set()
    stack = [root]
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        block = load(cid)
        yield cid, block
        stack.extend(reversed(links_of(cid, block)))
