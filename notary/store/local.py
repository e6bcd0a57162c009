"""The embedded default store: content-addressed blocks in a directory.

Layout under ``root``::

    blocks/<shard>/<key>   one file per block; key = base32 multihash (lowercase),
                           shard = its next-to-last two characters (Kubo's flatfs
                           ``next-to-last/2``: the leading characters of a sha2-256
                           multihash are always the same, the trailing ones spread)
    pins/<cid>             one empty file per recursively pinned root

Writes are atomic and durable: a temp file in the target directory, fsync,
rename over the final name, fsync of the directory. Reads trust nothing on disk:
every block is re-hashed against its CID before its bytes are used.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from multiformats import CID

from notary.store.base import ContentIntegrityError, ContentNotFound, ContentStore
from notary.store.car import CarReader, CarWriter
from notary.store.cid import (
    DAG_PB,
    cid_str,
    codec_of,
    multihash_key,
    to_binary,
    to_v1,
    verify_block,
)
from notary.store.unixfs import build_file, iter_dag, iter_file, links_of


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore(ContentStore):
    """Blocks on the local file system; ``put`` pins, reads always re-verify."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._blocks = self.root / "blocks"
        self._blocks_dir = str(self._blocks)
        self._pins = self.root / "pins"
        self._blocks.mkdir(parents=True, exist_ok=True)
        self._pins.mkdir(parents=True, exist_ok=True)

    # --- blocks ---------------------------------------------------------------

    def block_path(self, cid: str | bytes | CID) -> Path:
        """Where the block of ``cid`` lives (whether or not it exists)."""
        key = multihash_key(to_binary(cid))
        return self._blocks / key[-3:-1] / key

    def _atomic_write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)

    def put_block(self, cid: str | bytes | CID, block: bytes) -> None:
        """Store one block after checking it hashes to ``cid``."""
        binary = to_binary(cid)
        verify_block(binary, block)
        self._write_block(binary, block)

    def _write_block(self, cid: bytes, block: bytes) -> None:
        # Also the builder's sink during put(): the builder has just hashed the block.
        path = self.block_path(cid)
        try:
            # An existing file is kept only if it still holds the right bytes:
            # writing known-good bytes over a damaged copy is how a store heals.
            if path.read_bytes() == block:
                return
        except FileNotFoundError:
            pass
        self._atomic_write(path, block)

    def get_block(self, cid: str | bytes | CID) -> bytes:
        """The verified bytes of one block (ContentNotFound / ContentIntegrityError)."""
        binary = to_binary(cid)
        key = multihash_key(binary)
        # block_path's file as a string: no Path objects on the audit's per-block path.
        path = os.path.join(self._blocks_dir, key[-3:-1], key)
        try:
            with open(path, "rb") as f:
                block = f.read()
        except FileNotFoundError:
            raise ContentNotFound(
                cid_str(binary), f"block is missing from the local store ({path})"
            ) from None
        try:
            verify_block(binary, block)
        except ContentIntegrityError as exc:
            raise ContentIntegrityError(exc.cid, f"{exc.detail} (file {path})") from None
        return block

    def has_block(self, cid: str | bytes | CID) -> bool:
        return self.block_path(cid).is_file()

    # --- content --------------------------------------------------------------

    def put(self, data: BinaryIO | bytes) -> str:
        # Block writes wait on fsync, which releases the GIL: a few writer threads let
        # the disk flush one block while the next is chunked and hashed. The pin is
        # written only after every block is durable.
        # At most a few blocks wait in memory, so memory stays flat for any size.
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="blockstore") as pool:
            writes: deque[Future[None]] = deque()

            def sink(cid: bytes, block: bytes) -> None:
                if len(writes) >= 4:
                    writes.popleft().result()
                writes.append(pool.submit(self._write_block, cid, block))

            root = build_file(data, sink)
            while writes:
                writes.popleft().result()
        self._write_pin(root)
        return cid_str(root)

    def iter_content(self, cid: str) -> Iterator[bytes]:
        return iter_file(to_binary(cid), self.get_block)

    def has(self, cid: str) -> bool:
        """True when every block of the DAG is present (leaves are stat'ed, not read).

        Presence is not integrity: a damaged leaf still counts here and is caught by
        the verified read; a damaged inner node raises ContentIntegrityError, since
        its links cannot be followed.
        """
        stack = [to_binary(cid)]
        while stack:
            node = stack.pop()
            if not self.has_block(node):
                return False
            if codec_of(node) == DAG_PB:
                stack.extend(links_of(node, self.get_block(node)))
        return True

    def _pin_file(self, cid: bytes) -> Path:
        # Named by CIDv1 so that a root pinned as v0 and asked for as v1 is one pin.
        return self._pins / cid_str(to_v1(cid))

    def pin(self, cid: str) -> None:
        """Pin the DAG of ``cid``; every block must be present and verify."""
        binary = to_binary(cid)
        for _ in iter_dag(binary, self.get_block):
            pass
        self._write_pin(binary)

    def _write_pin(self, cid: bytes) -> None:
        path = self._pin_file(cid)
        if not path.exists():
            self._atomic_write(path, b"")

    def is_pinned(self, cid: str) -> bool:
        return self._pin_file(to_binary(cid)).exists()

    def pins(self) -> list[str]:
        return sorted(p.name for p in self._pins.iterdir() if not p.name.startswith("."))

    def export_car(self, cid: str, out: BinaryIO) -> None:
        root = to_binary(cid)
        # Read the root first: a missing root fails before anything is written.
        self.get_block(root)
        writer = CarWriter(out, [CID.decode(root)])
        for block_cid, block in iter_dag(root, self.get_block):
            writer.write(block_cid, block)

    def import_car(self, stream: BinaryIO) -> list[str]:
        """Store every block (each verified against its CID), then pin each complete root.

        A root whose DAG is incomplete after the import raises ContentNotFound
        naming the missing block; the verified blocks already written stay (they
        are valid content-addressed data either way).
        """
        reader = CarReader(stream)
        for block_cid, block in reader:
            self.put_block(block_cid, block)
        for root in reader.roots:
            self.pin(cid_str(root))
        return [cid_str(r) for r in reader.roots]
