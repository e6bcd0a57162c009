"""Opening a transfer package (transfer/workflow/package.py has its layout) and
checking it.

Reading is strict where nothing can be judged without the file (tag files, the
envelope: a failure raises, naming the file) and per file for materials and evidence
(:meth:`Bag.payload_report`), so that the receiver can record *which* material failed
and which of the 四性 it violates rather than refuse the bag wholesale.
:meth:`Bag.validate` is the all-or-nothing check.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from notary.crypto import sm3
from transfer.workflow import bagfiles
from transfer.workflow.envelope import (
    ENVELOPE_PATH,
    Envelope,
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
from transfer.workflow.package import (
    BAG_INFO,
    BAGIT_TXT,
    CHUNK,
    COVERED_TAG_FILES,
    DEFAULT_LIMITS,
    NOTICE_FILE,
    TAG_FILES,
    TAG_MANIFESTS,
    Limits,
    bag_info_fields,
    digests,
    file_chunks,
)


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
            actual, size = digests(iter(lambda: fh.read(CHUNK), b""))
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
    actual, _ = digests(file_chunks(root / rel))
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
    _check_layout(files)
    package_root, tags = _verified_tag_files(path, limits, expected_root)
    bagfiles.check_bagit_txt(tags[BAGIT_TXT])
    manifests = _payload_manifests(tags, files)
    envelope_bytes = _verified_envelope(path, limits, manifests)
    notice = notice_from_bytes(tags[NOTICE_FILE])
    envelope = envelope_from_bytes(envelope_bytes)
    check_against_notice(envelope, notice)
    _check_payload_described(manifests, envelope)
    info = bagfiles.parse_bag_info(tags[BAG_INFO])
    _check_bag_info(info, notice)
    return Bag(path, package_root, notice, envelope, info, manifests, limits)


def _check_layout(files: set[str]) -> None:
    """Exactly the profile's tag files at the top, everything else under data/."""
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


def _verified_tag_files(
    path: Path, limits: Limits, expected_root: bytes | None
) -> tuple[bytes, dict[str, bytes]]:
    """The package root and the covered tag files, each checked against both tag
    manifests (and the root against the dispatched one, when given)."""

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
            actual = digests([data])[0][alg]
            if listed[rel] != actual:
                raise ManifestMismatch(rel, name, alg, listed[rel], actual)
    return package_root, tag_contents


def _payload_manifests(tags: dict[str, bytes], files: set[str]) -> dict[str, dict[str, str]]:
    """Both payload manifests: inside data/, the same files, every payload file listed."""
    manifests: dict[str, dict[str, str]] = {}
    for alg in bagfiles.ALGORITHMS:
        name = bagfiles.manifest_name(alg)
        manifests[alg] = bagfiles.parse_manifest(tags[name], name, alg)
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
    return manifests


def _verified_envelope(path: Path, limits: Limits, manifests: dict[str, dict[str, str]]) -> bytes:
    """The envelope's bytes, checked strictly: without it no material can be judged."""
    if ENVELOPE_PATH not in manifests["sm3"]:
        raise MissingFile("the manifests do not list the envelope", ENVELOPE_PATH)
    envelope_bytes = _read_bounded(path, ENVELOPE_PATH, limits.max_tag_file_bytes)
    envelope_digests = digests([envelope_bytes])[0]
    for alg in bagfiles.ALGORITHMS:
        if manifests[alg][ENVELOPE_PATH] != envelope_digests[alg]:
            raise ManifestMismatch(
                ENVELOPE_PATH, bagfiles.manifest_name(alg), alg,
                manifests[alg][ENVELOPE_PATH], envelope_digests[alg],
            )  # fmt: skip
    return envelope_bytes


def _check_payload_described(manifests: dict[str, dict[str, str]], envelope: Envelope) -> None:
    """The manifests list exactly the files the envelope describes."""
    expected_payload = {ENVELOPE_PATH}
    for e in envelope.materials:
        expected_payload.add(material_path(e.material_id))
        if e.evidence:
            expected_payload.add(evidence_path(e.material_id))
    for rel in sorted(set(manifests["sm3"]) - expected_payload):
        raise UnexpectedFile("listed in the manifests but described by no envelope entry", rel)
    for rel in sorted(expected_payload - set(manifests["sm3"])):
        raise MissingFile("described by the envelope but not listed in the manifests", rel)


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
