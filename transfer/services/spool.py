"""A bounded spool for uploads whose SM3 is not declared in advance.

Sealing authenticates the material's SM3 as associated data before the first byte is
encrypted, so an upload without a declared SM3 is read twice: once to hash it, once to
seal it. In between it waits here: in memory up to ``memory_limit``, beyond that in a
temporary file encrypted under a key that exists only in this process (plaintext never
touches the disk, and the file is unreadable once the process forgets the key).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

from notary.crypto import sm4

MEMORY_LIMIT = 8 << 20


class EncryptedSpool:
    def __init__(self, directory: Path | None = None, memory_limit: int = MEMORY_LIMIT) -> None:
        self._directory = directory
        self._memory_limit = memory_limit
        self._memory: list[bytes] = []
        self._in_memory = 0
        self._file: IO[bytes] | None = None
        self._key = sm4.new_key()
        self._chunks = 0
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self._file is None and self._in_memory + len(chunk) <= self._memory_limit:
            self._memory.append(chunk)
            self._in_memory += len(chunk)
            return
        if self._file is None:
            if self._directory is not None:
                self._directory.mkdir(parents=True, exist_ok=True)
            # Closed by close(); it lives as long as the spool, not a block.
            self._file = tempfile.TemporaryFile(dir=self._directory, prefix="spool-")  # noqa: SIM115
            pending, self._memory, self._in_memory = self._memory, [], 0
            for piece in pending:
                self._append(piece)
        self._append(chunk)

    def _append(self, chunk: bytes) -> None:
        assert self._file is not None
        # The chunk number is the associated data: chunks cannot be reordered or dropped
        # without the read failing.
        sealed = sm4.encrypt(self._key, self._chunks.to_bytes(8, "big"), chunk)
        self._file.write(len(sealed).to_bytes(4, "big") + sealed)
        self._chunks += 1

    def reader(self) -> SpoolReader:
        return SpoolReader(self)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = []

    def __enter__(self) -> EncryptedSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SpoolReader:
    """Reads the spooled bytes back once, in order (a minimal binary file)."""

    def __init__(self, spool: EncryptedSpool) -> None:
        self._spool = spool
        self._buffer = b""
        self._memory = iter(list(spool._memory))
        self._index = 0
        if spool._file is not None:
            spool._file.flush()
            spool._file.seek(0, os.SEEK_SET)

    def _next(self) -> bytes:
        spool = self._spool
        if spool._file is None:
            return next(self._memory, b"")
        header = spool._file.read(4)
        if not header:
            return b""
        sealed = spool._file.read(int.from_bytes(header, "big"))
        chunk = sm4.decrypt(spool._key, self._index.to_bytes(8, "big"), sealed)
        self._index += 1
        return chunk

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            chunk = self._next()
            if not chunk:
                break
            self._buffer += chunk
        if n < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out
