"""The transfer package on disk and in the content store.

Layout under the deployment home: ``transfers/<transfer_id>/bag`` (the BagIt bag) and
``transfers/<transfer_id>/package.tar`` (its one-file form). A bag is written into a
temporary directory beside its final place and renamed, so a crash never leaves half
a bag where a reader would take it for a whole one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from notary.canonical import canonical_json
from notary.crypto import Decrypter, SM2PublicKey
from notary.envelope import WrappedKey, rewrap_key
from notary.store import ContentStore
from transfer.workflow.archive import export_tar, import_tar
from transfer.workflow.envelope import Envelope, EnvelopeEntry
from transfer.workflow.notice import Notice
from transfer.workflow.package import (
    DEFAULT_LIMITS,
    Bag,
    Limits,
    PackageMaterial,
    WrittenBag,
    open_bag,
    write_bag,
)

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
    bag: WrittenBag
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
    tmp = base / f".bag-{uuid.uuid4().hex}"
    try:
        written = write_bag(tmp, notice, envelope, materials, bagging_date=bagging_date)
        final = bag_dir(home, notice.transfer_id)
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    written = WrittenBag(final, written.package_root, written.payload_octets, written.payload_files)
    tar = tar_path(home, notice.transfer_id)
    fd, tmp_tar = tempfile.mkstemp(dir=base, prefix=".tar-")
    with os.fdopen(fd, "wb") as out:
        export_tar(final, out, top_dir=notice.transfer_id)
    os.replace(tmp_tar, tar)
    with tar.open("rb") as fh:
        cid = store.put(fh)
    return BuiltPackage(written, cid, rewrapped)


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
    source: BinaryIO,
    *,
    expected_root: bytes,
    limits: Limits = DEFAULT_LIMITS,
) -> Bag:
    """Unpack a package file into the transfer's bag directory (checked against the
    package root dispatched on chain); the previous bag, if any, is replaced."""
    base = transfer_dir(home, transfer_id)
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".import-{uuid.uuid4().hex}"  # extract_tar creates it
    try:
        bag = import_tar(source, tmp, expected_root=expected_root, limits=limits)
        final = bag_dir(home, transfer_id)
        _replace_dir(bag.path, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return open_bag(final, expected_root=expected_root)


def copy_to_file(chunks: Iterator[bytes], out: BinaryIO, *, limit: int) -> int:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise OverflowError(f"the package exceeds {limit} bytes")
        out.write(chunk)
    return total
