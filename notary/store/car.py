"""Streaming CARv1 (Content Addressable aRchive) reader and writer.

Format: ``varint(len(header)) header`` where header is DAG-CBOR
``{"roots": [CID, ...], "version": 1}``, then sections
``varint(len(cid) + len(block)) cid block`` until the end of the stream.

The header goes through ``dag-cbor`` (the companion of ``multiformats``) so that
headers written by Kubo or js-ipfs decode whatever their key order or CID form.
Blocks are streamed one section at a time; nothing here holds a whole CAR in
memory, so a 1 GB archive moves with bounded memory. This module only parses:
verifying blocks against their CIDs is the importer's job.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import dag_cbor
from multiformats import CID

from notary.store.base import CarFormatError
from notary.store.unixfs import uvarint

# Kubo refuses blocks above 4 MiB (2 MiB on bitswap); anything larger here is a
# corrupt length, and must not make us allocate gigabytes.
MAX_BLOCK_SIZE = 4 * 1024 * 1024
MAX_HEADER_SIZE = 64 * 1024


def encode_header(roots: list[CID]) -> bytes:
    header = dag_cbor.encode({"version": 1, "roots": list(roots)})
    return uvarint(len(header)) + header


def write_section(out: BinaryIO, cid: bytes | CID, block: bytes) -> None:
    raw_cid = bytes(cid)
    out.write(uvarint(len(raw_cid) + len(block)))
    out.write(raw_cid)
    out.write(block)


def _read_exact(stream: BinaryIO, n: int, what: str) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        part = stream.read(n - len(buf))
        if not part:
            raise CarFormatError(f"CAR truncated in {what}: wanted {n} bytes, got {len(buf)}")
        buf += part
    return bytes(buf)


def _read_varint(stream: BinaryIO, what: str) -> int | None:
    """Read an unsigned varint; None at a clean end of stream (before its first byte)."""
    result = 0
    shift = 0
    first = True
    while True:
        b = stream.read(1)
        if not b:
            if first:
                return None
            raise CarFormatError(f"CAR truncated inside the length varint of {what}")
        first = False
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise CarFormatError(f"CAR length varint of {what} is longer than 9 bytes")


def _split_cid(section: bytes) -> tuple[bytes, bytes]:
    """Split a section into its binary CID and block; the CID's own length is implicit.

    The CID stays binary (see notary.store.cid): checking that it is one a store
    can verify is the importer's job, with to_binary.
    """
    if section[:2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash
        end = 34
    else:
        pos = 0
        try:
            for _ in range(3):  # version, codec, hash function
                pos = _skip_varint(section, pos)
            length = 0
            shift = 0
            while True:  # digest length
                b = section[pos]
                pos += 1
                length |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
        except IndexError:
            raise CarFormatError("CAR section ends inside its CID") from None
        end = pos + length
    if end > len(section):
        raise CarFormatError("CAR section's CID runs past the end of the section")
    return section[:end], section[end:]


def _skip_varint(buf: bytes, pos: int) -> int:
    for i in range(pos, min(pos + 9, len(buf))):
        if not buf[i] & 0x80:
            return i + 1
    raise IndexError("varint")


class CarReader:
    """Reads a CARv1 stream: ``roots`` after construction, then iterate (binary CID, block)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        size = _read_varint(stream, "the header")
        if size is None:
            raise CarFormatError("CAR stream is empty (no header)")
        if not 0 < size <= MAX_HEADER_SIZE:
            raise CarFormatError(f"CAR header length {size} is out of range")
        raw = _read_exact(stream, size, "the header")
        try:
            header = dag_cbor.decode(raw)
        except Exception as exc:
            raise CarFormatError(f"CAR header is not DAG-CBOR: {exc}") from exc
        if not isinstance(header, dict) or header.get("version") != 1:
            raise CarFormatError(f"not a CARv1 header: {header!r}")
        roots = header.get("roots")
        if not isinstance(roots, list) or not all(isinstance(r, CID) for r in roots):
            raise CarFormatError(f"CAR header roots are not a list of CIDs: {roots!r}")
        self.roots: list[CID] = [r for r in roots if isinstance(r, CID)]

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        while True:
            size = _read_varint(self._stream, "a section")
            if size is None:
                return
            if not 0 < size <= MAX_BLOCK_SIZE + 128:
                raise CarFormatError(f"CAR section length {size} is out of range")
            yield _split_cid(_read_exact(self._stream, size, "a section"))


class CarWriter:
    """Writes a CARv1 stream: the header at construction, then one section per ``write``."""

    def __init__(self, out: BinaryIO, roots: list[CID]) -> None:
        self._out = out
        out.write(encode_header(roots))

    def write(self, cid: bytes | CID, block: bytes) -> None:
        write_section(self._out, cid, block)
