"""The transfer package: a BagIt 1.0 bag (RFC 8493) with SM3 and SHA-256 manifests.

Layout (``docs/transfer-format.md`` §2)::

    bagit.txt                 BagIt-Version 1.0, UTF-8
    bag-info.txt              Source-Organization, External-Identifier (转递编号), Bagging-Date,
                              Payload-Oxum, Receiving-Organization, Transfer-Reason, ...
    transfer-notice.json      the notice (转递通知单), canonical JSON
    manifest-sm3.txt          every payload file
    manifest-sha256.txt       the same files (RFC 8493 §2.1.3: all manifests list one set)
    tagmanifest-sm3.txt       bagit.txt, bag-info.txt, both manifests, the notice
    tagmanifest-sha256.txt    the same tag files, for BagIt tools that know no SM3
    data/envelope.json        the delivery envelope (keys wrapped for the receiver)
    data/materials/<id>.sm4   SM4-GCM sealed materials
    data/evidence/<id>.json   evidence receipts from the sender's log (optional)

The **package root** is SM3(bytes of ``tagmanifest-sm3.txt``): through the tag manifest
it commits to the notice, bag-info and both payload manifests, and through those to
every payload byte. It is what the dispatch act signs and the chain anchors.

This module holds the layout and writes bags; :mod:`transfer.workflow.bag_reader`
opens and checks them.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from notary.crypto import SM3, sm3
from transfer.workflow import bagfiles
from transfer.workflow.envelope import (
    ENVELOPE_PATH,
    Envelope,
    EnvelopeEntry,
    check_against_notice,
    evidence_path,
    material_path,
)
from transfer.workflow.errors import (
    PackageError,
)
from transfer.workflow.notice import Notice

NOTICE_FILE = "transfer-notice.json"
BAG_INFO = "bag-info.txt"
BAGIT_TXT = "bagit.txt"
PAYLOAD_MANIFESTS = tuple(bagfiles.manifest_name(a) for a in bagfiles.ALGORITHMS)
TAG_MANIFESTS = tuple(bagfiles.tagmanifest_name(a) for a in bagfiles.ALGORITHMS)
# What the tag manifests must cover: every tag file except the tag manifests themselves.
COVERED_TAG_FILES = frozenset({BAGIT_TXT, BAG_INFO, NOTICE_FILE, *PAYLOAD_MANIFESTS})
TAG_FILES = COVERED_TAG_FILES | set(TAG_MANIFESTS)
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a receiver reads (tar/zip bomb and resource exhaustion protection)."""

    max_total_bytes: int = 16 << 30
    max_file_bytes: int = 4 << 30
    max_tag_file_bytes: int = 64 << 20
    max_members: int = 250_000
    # Expansion bound for compressed tars: ciphertext does not compress, so a real
    # package expands ~1:1; small archives are exempt below ratio_floor_bytes.
    max_ratio: int = 20
    ratio_floor_bytes: int = 16 << 20


DEFAULT_LIMITS = Limits()


class ManifestDigests:
    """The digests every payload manifest lists (SM3, SHA-256) of bytes fed in order.

    Callers that read a payload file for another reason feed the same chunks here, so
    the manifests are checked without a second read.
    """

    __slots__ = ("_hashers", "size")

    def __init__(self) -> None:
        self._hashers: dict[str, SM3 | hashlib._Hash] = {"sm3": SM3(), "sha256": hashlib.sha256()}
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        for h in self._hashers.values():
            h.update(chunk)

    def hexdigests(self) -> dict[str, str]:
        return {a: h.digest().hex() for a, h in self._hashers.items()}


def digests(chunks: Iterable[bytes]) -> tuple[dict[str, str], int]:
    digests = ManifestDigests()
    for chunk in chunks:
        digests.update(chunk)
    return digests.hexdigests(), digests.size


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


# ---------------------------------------------------------------- writing

# Hashing lanes of the bag writer: SM3 is the costly part of packaging and hashlib
# releases the GIL on large buffers, so two cores hash two files at once.
_LANES = max(1, min(2, os.cpu_count() or 1))
# Chunks handed to the lanes and not yet hashed: bounds memory for any material size.
_IN_FLIGHT = 16


class _Digesting:
    """Manifest digests of the payload files, computed on worker lanes as the chunks
    pass on their way to the sink. Each file stays on one single-thread lane (its
    chunks in order); the next file goes to the next lane."""

    def __init__(self) -> None:
        self._lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="bag-lane") for _ in range(_LANES)
        ]
        self._pending: deque[Future[None]] = deque()
        self._files: list[tuple[str, ManifestDigests, int]] = []

    def __enter__(self) -> _Digesting:
        return self

    def __exit__(self, *exc: object) -> None:
        for lane in self._lanes:
            lane.shutdown(wait=True, cancel_futures=True)

    def tee(self, rel: str, chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
        """``chunks``, each also handed to this file's digests."""
        lane = self._lanes[len(self._files) % len(self._lanes)]
        digests = ManifestDigests()
        self._files.append((rel, digests, size))
        for chunk in chunks:
            while len(self._pending) >= _IN_FLIGHT:
                self._pending.popleft().result()
            self._pending.append(lane.submit(digests.update, chunk))
            yield chunk

    def finish(self) -> dict[str, dict[str, str]]:
        """Wait for every file; their digests by path (sizes checked)."""
        while self._pending:
            self._pending.popleft().result()
        payload: dict[str, dict[str, str]] = {}
        for rel, digests, expected in self._files:
            if digests.size != expected:
                raise PackageError(
                    f"sealed size is {digests.size}, the envelope says {expected}", rel
                )
            payload[rel] = digests.hexdigests()
        return payload


class BagSink(Protocol):
    """Where a bag's members go, in path order: a directory, or a tar stream."""

    def directory(self, rel: str) -> None: ...

    def file(self, rel: str, size: int, chunks: Iterable[bytes]) -> None: ...


@dataclass(frozen=True, slots=True)
class PackageMaterial:
    """One material to package: its envelope entry, its sealed bytes, its evidence receipt."""

    entry: EnvelopeEntry
    sealed: bytes | Iterable[bytes]
    evidence: bytes | None = None  # canonical JSON of the evidence receipt


@dataclass(frozen=True, slots=True)
class WrittenBag:
    path: Path
    package_root: bytes
    payload_octets: int
    payload_files: int


def bag_info_fields(
    notice: Notice, bagging_date: date, payload_octets: int, payload_files: int
) -> list[tuple[str, str]]:
    """bag-info.txt in a fixed order: reserved labels of RFC 8493 §2.2.2, then ours."""
    return [
        ("Source-Organization", notice.sender.name),
        ("External-Identifier", notice.transfer_no),
        ("External-Description", f"干部人事档案转递 {notice.transfer_no}"),
        ("Bagging-Date", bagging_date.isoformat()),
        ("Payload-Oxum", f"{payload_octets}.{payload_files}"),
        ("Transfer-Id", notice.transfer_id),
        ("Sending-Unit-Code", notice.sender.code),
        ("Receiving-Organization", notice.receiver.name),
        ("Receiving-Unit-Code", notice.receiver.code),
        ("Transfer-Reason", notice.reason),
        ("Classification", notice.classification.value),
    ]


def _check_consistent(
    notice: Notice, envelope: Envelope, materials: Sequence[PackageMaterial]
) -> None:
    check_against_notice(envelope, notice)
    by_id = {m.entry.material_id: m for m in materials}
    if [e.material_id for e in envelope.materials] != [m.entry.material_id for m in materials]:
        raise PackageError("the materials given differ from the envelope's list")
    catalogue = {c.material_id: c for c in notice.materials}
    if set(catalogue) != set(by_id):
        raise PackageError("the envelope's materials differ from the notice's catalogue")
    for e in envelope.materials:
        c = catalogue[e.material_id]
        if (c.sm3, c.volume_id, c.category) != (e.sm3, e.volume_id, e.category):
            raise PackageError(f"material {e.material_id}: envelope and catalogue disagree")
        if e.evidence != (by_id[e.material_id].evidence is not None):
            raise PackageError(f"material {e.material_id}: evidence flag and file disagree")


def emit_bag(
    sink: BagSink,
    notice: Notice,
    envelope: Envelope,
    materials: Sequence[PackageMaterial],
    *,
    bagging_date: date,
) -> tuple[bytes, int, int]:
    """Lay the bag out into ``sink``, every member once and in path order; return the
    package root, payload octets and payload file count.

    Path order puts every payload file before the manifests that list it, and bag-info
    (whose Payload-Oxum the envelope's sizes give up front) before them all, so a tar
    can be written in one pass. The sender's own consistency is checked first: a
    package whose envelope does not match the notice's catalogue is a bug at the
    sender and is never written.
    """
    _check_consistent(notice, envelope, materials)
    envelope_bytes = envelope.to_bytes()
    payload_sources: dict[str, tuple[int, bytes | Iterable[bytes]]] = {
        ENVELOPE_PATH: (len(envelope_bytes), envelope_bytes)
    }
    for m in materials:
        payload_sources[material_path(m.entry.material_id)] = (m.entry.sealed_size, m.sealed)
        if m.evidence is not None:
            payload_sources[evidence_path(m.entry.material_id)] = (len(m.evidence), m.evidence)
    octets = sum(size for size, _ in payload_sources.values())
    head: dict[str, bytes] = {
        BAGIT_TXT: bagfiles.BAGIT_TXT,
        BAG_INFO: bagfiles.format_bag_info(
            bag_info_fields(notice, bagging_date, octets, len(payload_sources))
        ),
        NOTICE_FILE: notice.to_bytes(),
    }
    directories = {"data", "data/materials"}
    if any(m.evidence is not None for m in materials):
        directories.add("data/evidence")
    tail_names = {*PAYLOAD_MANIFESTS, *TAG_MANIFESTS}
    tail: dict[str, bytes] = {}
    root = b""
    with _Digesting() as digesting:
        for rel in sorted({*directories, *head, *payload_sources, *tail_names}):
            if rel in directories:
                sink.directory(rel)
            elif rel in head:
                sink.file(rel, len(head[rel]), [head[rel]])
            elif rel in payload_sources:
                size, source = payload_sources[rel]
                chunks = [source] if isinstance(source, bytes) else source
                sink.file(rel, size, digesting.tee(rel, chunks, size))
            else:
                if not tail:  # the first manifest: every payload file has passed
                    tail, root = _tag_files(digesting.finish(), head)
                sink.file(rel, len(tail[rel]), [tail[rel]])
    return root, octets, len(payload_sources)


def _tag_files(
    payload: dict[str, dict[str, str]], head: dict[str, bytes]
) -> tuple[dict[str, bytes], bytes]:
    """The payload manifests and the tag manifests over them; and the package root."""
    tags = dict(head)
    for alg in bagfiles.ALGORITHMS:
        tags[bagfiles.manifest_name(alg)] = bagfiles.format_manifest(
            {p: d[alg] for p, d in payload.items()}
        )
    tag_digests = {name: digests([data])[0] for name, data in tags.items()}
    out = {name: tags[name] for name in PAYLOAD_MANIFESTS}
    for alg in bagfiles.ALGORITHMS:
        out[bagfiles.tagmanifest_name(alg)] = bagfiles.format_manifest(
            {n: d[alg] for n, d in tag_digests.items()}
        )
    return out, sm3(out[bagfiles.tagmanifest_name("sm3")])


class _DirectorySink:
    def __init__(self, dest: Path) -> None:
        self.dest = dest

    def directory(self, rel: str) -> None:
        (self.dest / rel).mkdir()

    def file(self, rel: str, size: int, chunks: Iterable[bytes]) -> None:
        with (self.dest / rel).open("xb") as out:
            for chunk in chunks:
                out.write(chunk)


def write_bag(
    dest: Path,
    notice: Notice,
    envelope: Envelope,
    materials: Sequence[PackageMaterial],
    *,
    bagging_date: date,
) -> WrittenBag:
    """Write the bag into ``dest`` (which must not exist) and return its package root."""
    _check_consistent(notice, envelope, materials)
    dest.mkdir(parents=True, exist_ok=False)
    root, octets, files = emit_bag(
        _DirectorySink(dest), notice, envelope, materials, bagging_date=bagging_date
    )
    return WrittenBag(dest, root, octets, files)
