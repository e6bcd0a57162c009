"""The transfer package on disk and in the content store.

Layout under the deployment home: ``transfers/<transfer_id>/package.tar`` (the sender's
package, written straight from the store into its one-file form) and
``transfers/<transfer_id>/bag`` (the BagIt bag the receiver unpacked from it). Both are
written beside their final place and renamed, so a crash never leaves half a package
where a reader would take it for a whole one.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, cast

from notary.canonical import canonical_json
from notary.crypto import Decrypter, SM2PublicKey
from notary.envelope import WrappedKey, rewrap_key
from notary.store import ContentStore, StoreError
from transfer.workflow.archive import Readable, import_tar, write_tar
from transfer.workflow.bag_reader import Bag, open_bag
from transfer.workflow.envelope import Envelope, EnvelopeEntry
from transfer.workflow.notice import Notice
from transfer.workflow.package import DEFAULT_LIMITS, Limits, PackageMaterial, WrittenBag

CHUNK = 1 << 20


def transfer_dir(home: Path, transfer_id: str) -> Path:
    return home / "transfers" / transfer_id


def bag_dir(home: Path, transfer_id: str) -> Path:
    return transfer_dir(home, transfer_id) / "bag"


def tar_path(home: Path, transfer_id: str) -> Path:
    return transfer_dir(home, transfer_id) / "package.tar"


@dataclass(frozen=True, slots=True)
class SourceMaterial:
    """A material as the sender holds it: metadata, the sender's wrapped key, evidence."""

    entry: EnvelopeEntry  # wrapped_key still the sender's
    sender_key: WrappedKey
    evidence: dict[str, object] | None


@dataclass(frozen=True, slots=True)
class BuiltPackage:
    bag: WrittenBag  # its path is the package tar
    cid: str
    rewrapped: dict[str, WrappedKey]  # by material id: the receiver's wrapped data keys


def _replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        old = final.with_name(f".old-{uuid.uuid4().hex}")
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)


def build_package(
    home: Path,
    store: ContentStore,
    notice: Notice,
    sources: list[SourceMaterial],
    *,
    holder: Decrypter,
    recipient: SM2PublicKey,
    bagging_date: date,
) -> BuiltPackage:
    """Re-wrap every data key for ``recipient`` (content is not re-encrypted), write the
    bag, tar it into the content store. ``holder`` is the sender's envelope key."""
    rewrapped: dict[str, WrappedKey] = {}
    entries: list[EnvelopeEntry] = []
    for src in sources:
        wrapped = rewrap_key(src.sender_key, holder, recipient)
        rewrapped[src.entry.material_id] = wrapped
        entries.append(_with_key(src.entry, wrapped.ciphertext))
    envelope = Envelope(
        transfer_id=notice.transfer_id,
        recipient_unit=notice.receiver.code,
        recipient_key=recipient.fingerprint(),
        materials=tuple(entries),
    )
    materials = [
        PackageMaterial(
            entry=e,
            sealed=_lazy(store, e.cid),
            evidence=None if src.evidence is None else canonical_json(src.evidence),
        )
        for e, src in zip(entries, sources, strict=True)
    ]
    base = transfer_dir(home, notice.transfer_id)
    base.mkdir(parents=True, exist_ok=True)
    # Straight from the store into the tar, the tar into its file and the store: each
    # sealed byte is read once, hashed for the manifests on the way, and no bag
    # directory is written on the sending side (the receiver unpacks the tar).
    tar = tar_path(home, notice.transfer_id)
    fd, tmp_tar = tempfile.mkstemp(dir=base, prefix=".tar-")
    try:
        with os.fdopen(fd, "wb") as out, _StoreTee(store, out) as tee:
            root, octets, files = write_tar(
                tee, notice.transfer_id, notice, envelope, materials, bagging_date=bagging_date
            )
        cid = tee.cid
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_tar)
        raise
    os.replace(tmp_tar, tar)
    return BuiltPackage(WrittenBag(tar, root, octets, files), cid, rewrapped)


class _StoreTee:
    """Writes the package tar to its file and, in the same pass, into the content store:
    ``store.put`` reads it on another thread as it is written, so the tar is not read
    back from disk. A failed write aborts the put, which then pins nothing."""

    _FLUSH = 1 << 20  # tar writes are small (headers, 16 KiB copies): hand over 1 MiB at once

    def __init__(self, store: ContentStore, out: BinaryIO) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=8)
        self._buf = bytearray()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="package-put")
        # put() only ever calls read(n) on its source.
        source = cast(BinaryIO, ChunkStream(self._drain(), limit=sys.maxsize))
        self._put = self._pool.submit(store.put, source)
        self.cid = ""

    def _drain(self) -> Iterator[bytes]:
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _hand_over(self, item: bytes | BaseException | None) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._put.done():  # the store stopped reading: its error, if any
                    self._put.result()
                    raise RuntimeError("the content store stopped reading the package") from None

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._buf += data
        if len(self._buf) >= self._FLUSH:
            self._hand_over(bytes(self._buf))
            self._buf.clear()
        return len(data)

    def __enter__(self) -> _StoreTee:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                if self._buf:
                    self._hand_over(bytes(self._buf))
                self._hand_over(None)
                self.cid = self._put.result()
            else:
                with contextlib.suppress(Exception):
                    self._hand_over(RuntimeError("packaging failed"))
        finally:
            self._pool.shutdown(wait=True)


def _with_key(entry: EnvelopeEntry, wrapped: bytes) -> EnvelopeEntry:
    fields = {name: getattr(entry, name) for name in EnvelopeEntry.__slots__}
    fields["wrapped_key"] = wrapped
    return EnvelopeEntry(**fields)


def _lazy(store: ContentStore, cid: str) -> Iterator[bytes]:
    """The sealed bytes, read only when the bag writer gets to them (bounded memory)."""
    yield from store.iter_content(cid)


# ---------------------------------------------------------------- receiving


def receive_tar(
    home: Path,
    transfer_id: str,
    source: Readable,
    *,
    expected_root: bytes,
    limits: Limits = DEFAULT_LIMITS,
    dest: Path | None = None,
) -> Bag:
    """Unpack a package file into the transfer's bag directory, or into ``dest`` (a
    staging directory that :func:`install_bag` moves in place later), checked against
    the package root dispatched on chain; a previous bag there is replaced."""
    base = transfer_dir(home, transfer_id)
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".import-{uuid.uuid4().hex}"  # extract_tar creates it
    try:
        bag = import_tar(source, tmp, expected_root=expected_root, limits=limits)
        final = dest or bag_dir(home, transfer_id)
        _replace_dir(bag.path, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return open_bag(final, expected_root=expected_root)


def staging_dir(home: Path, transfer_id: str) -> Path:
    """Where another copy of a delivered package is unpacked before it replaces the bag."""
    return transfer_dir(home, transfer_id) / f".bag-next-{uuid.uuid4().hex}"


def install_bag(home: Path, transfer_id: str, staged: Path) -> None:
    """Move a staged bag in place of the transfer's bag (renames only)."""
    _replace_dir(staged, bag_dir(home, transfer_id))


class FetchFailed(Exception):
    """The content store failed while the package was read from it."""

    def __init__(self, cause: StoreError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class ChunkStream:
    """A read-only stream over chunks (the store's verified blocks, an upload), so a
    package is unpacked as it arrives instead of being copied to a file first.

    More than ``limit`` bytes raise :class:`OverflowError`; a store failure raises
    :class:`FetchFailed` (not a ``ValueError``/``OSError``, which the tar reader would
    take for a corrupt archive).
    """

    def __init__(self, chunks: Iterator[bytes], *, limit: int) -> None:
        self._chunks, self._limit = chunks, limit
        self._buf, self._pos, self.total = b"", 0, 0

    def _fill(self) -> bool:
        try:
            chunk = next(self._chunks, None)
        except StoreError as e:
            raise FetchFailed(e) from None
        if chunk is None:
            return False
        self.total += len(chunk)
        if self.total > self._limit:
            raise OverflowError(f"the package exceeds {self._limit} bytes")
        self._buf, self._pos = bytes(chunk), 0
        return True

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left if ``n`` < 0); short only at the end."""
        parts: list[bytes] = []
        want = n if n >= 0 else None
        while want is None or want > 0:
            if self._pos >= len(self._buf) and not self._fill():
                break
            end = len(self._buf) if want is None else min(len(self._buf), self._pos + want)
            whole = self._pos == 0 and end == len(self._buf)
            part = self._buf if whole else self._buf[self._pos : end]
            parts.append(part)
            self._pos = end
            if want is not None:
                want -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)
