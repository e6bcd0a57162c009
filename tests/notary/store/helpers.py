"""Shared test data of the store tests."""

from __future__ import annotations

import hashlib

from notary.store import CHUNK_SIZE


def content(n: int, label: bytes = b"archive-notary/store golden") -> bytes:
    """``n`` deterministic bytes: SHAKE-256 output, so no two 256 KiB blocks are equal.

    (A repeating pattern with a period dividing 256 KiB would make every leaf the
    same block and hide ordering and deduplication bugs; tests that want equal
    blocks use zeros explicitly.) SHAKE-256 is standardised, unlike the
    byte stream of ``random.randbytes``, so the golden CIDs stay valid forever.
    """
    return hashlib.shake_256(label).digest(n)


class CountingStream:
    """``count`` distinct 256 KiB chunks generated on demand: never whole in memory."""

    def __init__(self, count: int) -> None:
        self._left = count
        self._index = 0

    def read(self, size: int = -1) -> bytes:
        assert size == CHUNK_SIZE, "the chunker asks for whole chunks"
        if self._left == 0:
            return b""
        self._left -= 1
        self._index += 1
        return (self._index - 1).to_bytes(4, "big") * (CHUNK_SIZE // 4)
