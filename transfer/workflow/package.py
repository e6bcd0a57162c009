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

Reading is strict where nothing can be judged without the file (tag files, the
envelope: a failure raises, naming the file) and per file for materials and evidence
(:meth:`Bag.payload_report`), so that the receiver can record *which* material failed
and which of the 四性 it violates rather than refuse the bag wholesale.
:meth:`Bag.validate` is the all-or-nothing check.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol

from notary.crypto import SM3, sm3
from transfer.workflow import bagfiles
from transfer.workflow.envelope import (
    ENVELOPE_PATH,
    Envelope,
    EnvelopeEntry,
    check_against_notice,
    envelope_from_bytes,
    evidence_path,
    material_path,
)
from transfer.workflow.errors import (
    LimitExceeded,
    ManifestMismatch,
    MissingFile,
    PackageError,
    PackageRootMismatch,
    UnexpectedFile,
    UnsafePath,
)
from transfer.workflow.notice import Notice, notice_from_bytes

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


def _digests(chunks: Iterable[bytes]) -> tuple[dict[str, str], int]:
    digests = ManifestDigests()
    for chunk in chunks:
        digests.update(chunk)
    return digests.hexdigests(), digests.size


def _file_chunks(path: Path) -> Iterator[bytes]:
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
    tag_digests = {name: _digests([data])[0] for name, data in tags.items()}
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


# ---------------------------------------------------------------- reading


class FileState(StrEnum):
    OK = "ok"
    MISSING = "missing"
    ALTERED = "altered"


@dataclass(frozen=True, slots=True)
class FileCheck:
    path: str
    state: FileState
    detail: str = ""
    size: int = 0


@dataclass(frozen=True, slots=True)
class PayloadReport:
    files: dict[str, FileCheck]
    oxum_ok: bool
    oxum_detail: str = ""

    @property
    def ok(self) -> bool:
        return self.oxum_ok and all(c.state is FileState.OK for c in self.files.values())


@dataclass(slots=True)
class Bag:
    """An opened bag whose tag files, notice and envelope have been verified."""

    path: Path
    package_root: bytes
    notice: Notice
    envelope: Envelope
    info: list[tuple[str, str]]
    manifests: dict[str, dict[str, str]]  # algorithm -> {path: hex}
    limits: Limits = DEFAULT_LIMITS
    _report: PayloadReport | None = field(default=None, repr=False)

    def info_value(self, label: str) -> str | None:
        return next((v for k, v in self.info if k == label), None)

    def has_file(self, rel: str) -> bool:
        return rel in self.manifests["sm3"]

    def read_file(self, rel: str) -> bytes:
        """A payload file's bytes, bounded by the limits (no digest check: see payload_report)."""
        if not self.has_file(rel):
            raise MissingFile("not listed in the payload manifests", rel)
        return _read_bounded(self.path, rel, self.limits.max_file_bytes)

    def open_payload(self, rel: str) -> BinaryIO | None:
        """A payload file opened for one streaming read; ``None`` if it is absent.

        Refuses what is not a regular file (a symlink is never followed) and a file
        over the per-file limit. Pass the bytes read to :class:`ManifestDigests` and
        the result to :meth:`judge_payload`.
        """
        if not self.has_file(rel):
            raise MissingFile("not listed in the payload manifests", rel)
        try:
            fd = os.open(self.path / rel, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as e:  # ELOOP: a symlink where a file should be
            raise UnsafePath(f"not a regular file ({e.strerror})", rel) from None
        fh = os.fdopen(fd, "rb")
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            fh.close()
            raise UnsafePath("not a regular file", rel)
        if st.st_size > self.limits.max_file_bytes:
            fh.close()
            raise LimitExceeded(f"{st.st_size} bytes exceeds the limit", rel)
        return fh

    def judge_payload(self, rel: str, actual: dict[str, str], size: int) -> FileCheck:
        """The manifests' verdict on a payload file whose digests were computed."""
        wrong = [a for a in bagfiles.ALGORITHMS if self.manifests[a][rel] != actual[a]]
        if wrong:
            detail = "; ".join(
                f"{a} is {actual[a]}, {bagfiles.manifest_name(a)} lists {self.manifests[a][rel]}"
                for a in wrong
            )
            return FileCheck(rel, FileState.ALTERED, detail, size)
        return FileCheck(rel, FileState.OK, "", size)

    def check_payload(self, rel: str) -> FileCheck:
        """One payload file against both manifests."""
        fh = self.open_payload(rel)
        if fh is None:
            return FileCheck(rel, FileState.MISSING, "listed in the payload manifests but absent")
        with fh:
            actual, size = _digests(iter(lambda: fh.read(CHUNK), b""))
        return self.judge_payload(rel, actual, size)

    def payload_report(self, measured: Mapping[str, FileCheck] | None = None) -> PayloadReport:
        """Every payload file against both manifests, and Payload-Oxum (computed once).

        ``measured`` holds checks already made by a caller that read those files for
        its own purpose (:meth:`judge_payload`); they are not read again.
        """
        if self._report is None:
            files: dict[str, FileCheck] = {}
            octets = count = 0
            for rel in sorted(self.manifests["sm3"]):
                known = None if measured is None else measured.get(rel)
                files[rel] = known if known is not None else self.check_payload(rel)
                if files[rel].state is not FileState.MISSING:
                    octets += files[rel].size
                    count += 1
            declared = bagfiles.parse_oxum(self.info_value("Payload-Oxum") or "")
            ok = declared == (octets, count)
            detail = "" if ok else f"Payload-Oxum says {declared}, the payload is {octets}.{count}"
            self._report = PayloadReport(files, ok, detail)
        return self._report

    def validate(self) -> None:
        """All-or-nothing: raise for the first payload file that is missing or altered."""
        report = self.payload_report()
        for check in report.files.values():
            if check.state is FileState.MISSING:
                raise MissingFile("listed in the payload manifests but absent", check.path)
            if check.state is FileState.ALTERED:
                _raise_altered(self.path, check.path, self.manifests)
        if not report.oxum_ok:
            raise PackageError(report.oxum_detail, BAG_INFO)


def _read_bounded(root: Path, rel: str, limit: int) -> bytes:
    path = root / rel
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise MissingFile("absent", rel) from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath("not a regular file", rel)
    if st.st_size > limit:
        raise LimitExceeded(f"{st.st_size} bytes exceeds the limit of {limit}", rel)
    return path.read_bytes()


def _raise_altered(root: Path, rel: str, manifests: dict[str, dict[str, str]]) -> None:
    actual, _ = _digests(_file_chunks(root / rel))
    for alg in bagfiles.ALGORITHMS:
        if manifests[alg][rel] != actual[alg]:
            raise ManifestMismatch(
                rel, bagfiles.manifest_name(alg), alg, manifests[alg][rel], actual[alg]
            )


def _walk(root: Path, limits: Limits) -> set[str]:
    """Every regular file under ``root`` (relative, '/'-separated); anything else refused."""
    files: set[str] = set()
    total = 0
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as it:
            for entry in it:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                bagfiles.safe_relpath(rel, where="bag directory")
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(rel)
                elif stat.S_ISREG(st.st_mode):
                    files.add(rel)
                    total += st.st_size
                else:
                    raise UnsafePath("not a regular file or directory (symlink, device…)", rel)
                if len(files) > limits.max_members:
                    raise LimitExceeded(f"more than {limits.max_members} files in the bag")
                if total > limits.max_total_bytes:
                    raise LimitExceeded(f"the bag exceeds {limits.max_total_bytes} bytes")
    return files


def open_bag(
    path: Path, *, expected_root: bytes | None = None, limits: Limits = DEFAULT_LIMITS
) -> Bag:
    """Open and verify a bag's structure, tag files, notice and envelope.

    Raises a :class:`PackageError` subclass naming the file; the notice and envelope
    raise their own :class:`DocumentError`. Payload files are checked by
    :meth:`Bag.payload_report` / :meth:`Bag.validate`.
    """
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        raise PackageError(f"{path} is not a bag directory")
    files = _walk(path, limits)
    top = {f for f in files if "/" not in f}
    if "fetch.txt" in top:
        raise UnexpectedFile("remote payload (fetch.txt) is not accepted", "fetch.txt")
    for name in sorted(TAG_FILES - top):
        raise MissingFile("required tag file is absent", name)
    for name in sorted(top - TAG_FILES):
        raise UnexpectedFile("unknown tag file: no tag manifest covers it", name)
    outside = sorted(f for f in files if "/" in f and not f.startswith("data/"))
    if outside:
        raise UnexpectedFile("files outside data/ are not part of this bag profile", outside[0])

    def tag(name: str) -> bytes:
        return _read_bounded(path, name, limits.max_tag_file_bytes)

    tag_manifest_bytes = {n: tag(n) for n in TAG_MANIFESTS}
    package_root = sm3(tag_manifest_bytes[bagfiles.tagmanifest_name("sm3")])
    if expected_root is not None and package_root != expected_root:
        raise PackageRootMismatch(
            f"package root is {package_root.hex()}, the dispatched root is "
            f"{expected_root.hex()} (the tag manifest or a file it covers was altered)",
            bagfiles.tagmanifest_name("sm3"),
        )
    tag_contents = {n: tag(n) for n in sorted(COVERED_TAG_FILES)}
    for alg in bagfiles.ALGORITHMS:
        name = bagfiles.tagmanifest_name(alg)
        listed = bagfiles.parse_manifest(tag_manifest_bytes[name], name, alg)
        if set(listed) != COVERED_TAG_FILES:
            missing = sorted(COVERED_TAG_FILES - set(listed))
            raise PackageError(
                f"must list exactly {sorted(COVERED_TAG_FILES)}"
                + (f"; {missing[0]} is not covered" if missing else ""),
                name,
            )
        for rel, data in tag_contents.items():
            actual = _digests([data])[0][alg]
            if listed[rel] != actual:
                raise ManifestMismatch(rel, name, alg, listed[rel], actual)

    bagfiles.check_bagit_txt(tag_contents[BAGIT_TXT])
    manifests: dict[str, dict[str, str]] = {}
    for alg in bagfiles.ALGORITHMS:
        name = bagfiles.manifest_name(alg)
        manifests[alg] = bagfiles.parse_manifest(tag_contents[name], name, alg)
        outside = sorted(p for p in manifests[alg] if not p.startswith("data/"))
        if outside:
            raise UnsafePath("payload manifest lists a file outside data/", outside[0])
    if set(manifests["sm3"]) != set(manifests["sha256"]):
        odd = sorted(set(manifests["sm3"]) ^ set(manifests["sha256"]))[0]
        raise PackageError(
            f"the payload manifests list different files ({odd})", "manifest-sha256.txt"
        )
    payload_on_disk = {f for f in files if f.startswith("data/")}
    for rel in sorted(payload_on_disk - set(manifests["sm3"])):
        raise UnexpectedFile("payload file not listed in the manifests", rel)

    # The envelope is checked strictly: without it no material can be judged.
    if ENVELOPE_PATH not in manifests["sm3"]:
        raise MissingFile("the manifests do not list the envelope", ENVELOPE_PATH)
    envelope_bytes = _read_bounded(path, ENVELOPE_PATH, limits.max_tag_file_bytes)
    envelope_digests = _digests([envelope_bytes])[0]
    for alg in bagfiles.ALGORITHMS:
        if manifests[alg][ENVELOPE_PATH] != envelope_digests[alg]:
            raise ManifestMismatch(
                ENVELOPE_PATH, bagfiles.manifest_name(alg), alg,
                manifests[alg][ENVELOPE_PATH], envelope_digests[alg],
            )  # fmt: skip
    notice = notice_from_bytes(tag_contents[NOTICE_FILE])
    envelope = envelope_from_bytes(envelope_bytes)
    check_against_notice(envelope, notice)

    expected_payload = {ENVELOPE_PATH}
    for e in envelope.materials:
        expected_payload.add(material_path(e.material_id))
        if e.evidence:
            expected_payload.add(evidence_path(e.material_id))
    for rel in sorted(set(manifests["sm3"]) - expected_payload):
        raise UnexpectedFile("listed in the manifests but described by no envelope entry", rel)
    for rel in sorted(expected_payload - set(manifests["sm3"])):
        raise MissingFile("described by the envelope but not listed in the manifests", rel)

    info = bagfiles.parse_bag_info(tag_contents[BAG_INFO])
    _check_bag_info(info, notice)
    return Bag(path, package_root, notice, envelope, info, manifests, limits)


def _check_bag_info(info: list[tuple[str, str]], notice: Notice) -> None:
    values: dict[str, str] = {}
    for label, value in info:
        if label in values:
            raise PackageError(f"label {label} appears twice", BAG_INFO)
        values[label] = value
    expected = dict(bag_info_fields(notice, date.today(), 0, 0))
    for label in ("Bagging-Date", "Payload-Oxum"):
        if label not in values:
            raise PackageError(f"lacks {label}", BAG_INFO)
        expected[label] = values[label]
    try:
        date.fromisoformat(values["Bagging-Date"])
    except ValueError:
        raise PackageError("Bagging-Date is not YYYY-MM-DD", BAG_INFO) from None
    bagfiles.parse_oxum(values["Payload-Oxum"])
    if values != expected:
        labels = sorted(set(values) | set(expected))
        label = next(k for k in labels if values.get(k) != expected.get(k))
        raise PackageError(
            f"{label} is {values.get(label)!r}, the notice says {expected.get(label)!r}", BAG_INFO
        )
