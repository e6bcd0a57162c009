"""One-file form of a transfer package for offline delivery (机要交换): a POSIX tar.

Export is deterministic (the same bag always gives the same bytes): members sorted by
path under one top-level directory (RFC 8493 §4: a serialized bag unpacks to a single
base directory), ustar format, mtime 0, uid/gid 0, no user/group names, modes 0644 /
0755. The payload is ciphertext, so the tar is not compressed.

Import trusts nothing in the file. Before a byte is written it refuses: members other
than regular files and directories (symlinks, hard links, devices, FIFOs, sparse
files), unsafe names (absolute, ``..``, ``~``, backslashes, control characters, a
second top-level directory), duplicate names (a later member would overwrite an
earlier one), more than ``max_members`` members, a member or a total over the size
limits, and — for a compressed tar — an expansion ratio over ``max_ratio``. Sizes are
counted as bytes are actually copied, not as headers declare them. Extraction writes
files itself (``open(..., "xb")`` under the destination), never through
``TarFile.extract``.
"""

from __future__ import annotations

import io
import lzma
import os
import tarfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Protocol

from transfer.workflow.bag_reader import Bag, open_bag
from transfer.workflow.bagfiles import safe_relpath
from transfer.workflow.envelope import Envelope
from transfer.workflow.errors import LimitExceeded, PackageError, UnsafePath
from transfer.workflow.notice import Notice
from transfer.workflow.package import CHUNK, DEFAULT_LIMITS, Limits, PackageMaterial, emit_bag

_TOP_DIR_MAX = 100


class Readable(Protocol):
    """What a package is read from: a file, an upload, the content store's blocks."""

    def read(self, n: int = -1, /) -> bytes: ...


class Writable(Protocol):
    """What a package is written to: a file, or a file and the content store at once."""

    def write(self, data: bytes, /) -> int: ...


def export_tar(bag_dir: Path, out: Writable, *, top_dir: str | None = None) -> None:
    """Write ``bag_dir`` as a deterministic tar to ``out``."""
    bag_dir = Path(bag_dir)
    top = top_dir or bag_dir.name
    safe_relpath(top, where="top directory")
    if "/" in top or len(top) > _TOP_DIR_MAX:
        raise PackageError(f"top directory {top!r} must be one short path segment")
    entries: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(bag_dir, followlinks=False):
        rel_dir = os.path.relpath(dirpath, bag_dir)
        for name in dirnames + filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            entries.append((rel.replace(os.sep, "/"), Path(dirpath) / name))
    # Not the stream mode "w|": its record buffer re-slices every write; the same bytes
    # come out of "w" over a writer that keeps the offset.
    with tarfile.open(fileobj=_Offset(out), mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_info(top, directory=True, size=0))
        for rel, path in sorted(entries):
            st = path.lstat()
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                raise UnsafePath("not a regular file or directory", rel)
            if path.is_dir():
                tar.addfile(_info(f"{top}/{rel}", directory=True, size=0))
            else:
                with path.open("rb") as fh:
                    tar.addfile(_info(f"{top}/{rel}", directory=False, size=st.st_size), fh)


def write_tar(
    out: Writable,
    top_dir: str,
    notice: Notice,
    envelope: Envelope,
    materials: Sequence[PackageMaterial],
    *,
    bagging_date: date,
) -> tuple[bytes, int, int]:
    """Write a bag straight into a tar (no bag directory): the same bytes as
    :func:`write_bag` then :func:`export_tar`, with every payload byte read once.
    Returns the package root, payload octets and payload file count."""
    safe_relpath(top_dir, where="top directory")
    if "/" in top_dir or len(top_dir) > _TOP_DIR_MAX:
        raise PackageError(f"top directory {top_dir!r} must be one short path segment")
    with tarfile.open(fileobj=_Offset(out), mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_info(top_dir, directory=True, size=0))
        return emit_bag(
            _TarSink(tar, top_dir), notice, envelope, materials, bagging_date=bagging_date
        )


class _TarSink:
    """Bag members as tar members under one top directory, in the order they come."""

    def __init__(self, tar: tarfile.TarFile, top: str) -> None:
        self.tar, self.top = tar, top

    def directory(self, rel: str) -> None:
        self.tar.addfile(_info(f"{self.top}/{rel}", directory=True, size=0))

    def file(self, rel: str, size: int, chunks: Iterable[bytes]) -> None:
        source = _Exact(iter(chunks), size, rel)
        self.tar.addfile(_info(f"{self.top}/{rel}", directory=False, size=size), source)
        source.check_drained()


class _Exact:
    """Reads a member's chunks for the tar writer, which copies exactly the declared
    size: fewer or more bytes than declared are refused, naming the file."""

    def __init__(self, chunks: Iterator[bytes], size: int, rel: str) -> None:
        self.chunks, self.size, self.rel = chunks, size, rel
        self.buf, self.pos, self.total = b"", 0, 0

    def read(self, n: int = -1, /) -> bytes:
        """Exactly ``n`` bytes (the tar writer takes a short read for the end); ``n`` < 0:
        the rest of the declared size."""
        if n < 0:
            n = self.size - (self.total - (len(self.buf) - self.pos))
        parts: list[bytes] = []
        while n > 0:
            if self.pos >= len(self.buf):
                chunk = next(self.chunks, None)
                if chunk is None:
                    raise PackageError(
                        f"sealed size is {self.total}, the envelope says {self.size}", self.rel
                    )
                self.total += len(chunk)
                self.buf, self.pos = chunk, 0
            end = min(len(self.buf), self.pos + n)
            whole = self.pos == 0 and end == len(self.buf)
            parts.append(self.buf if whole else self.buf[self.pos : end])
            n -= end - self.pos
            self.pos = end
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def check_drained(self) -> None:
        for chunk in self.chunks:
            self.total += len(chunk)
        if self.total != self.size or self.pos != len(self.buf):
            raise PackageError(
                f"sealed size is {self.total}, the envelope says {self.size}", self.rel
            )


class _Offset:
    """Counts what is written, for a tar writer that asks where it is (``tell``) on an
    output that may not know (a pipe, a socket)."""

    def __init__(self, out: Writable) -> None:
        self.out, self.offset = out, 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def read(self, size: int, /) -> bytes:
        raise io.UnsupportedOperation("write-only")

    def seek(self, pos: int, /) -> int:
        raise io.UnsupportedOperation("not seekable")

    def close(self) -> None:
        """The caller's output stays open: the caller closes it."""


def _info(name: str, *, directory: bool, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _CountingReader:
    """Reads ``raw`` after the bytes already taken from it (``head``, for sniffing the
    format, so a stream that cannot seek back works), counting what it reads for the
    expansion-ratio check."""

    def __init__(self, raw: Readable, head: bytes) -> None:
        self.raw, self.head, self.count = raw, head, len(head)

    def read(self, n: int = -1) -> bytes:
        head, self.head = self.head, b""
        if 0 <= n < len(head):
            head, self.head = head[:n], head[n:]
            return head
        more = self.raw.read(-1 if n < 0 else n - len(head))
        self.count += len(more)
        return head + more


def _is_compressed(head: bytes) -> bool:
    return head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head == b"\xfd7zXZ\x00"


def extract_tar(source: Readable, dest: Path, *, limits: Limits = DEFAULT_LIMITS) -> Path:
    """Safely unpack a package tar into ``dest`` (created, must not exist).

    Returns the bag's base directory (``dest/<top>``). Plain and gzip/bzip2/xz tars are
    read as a stream (``source`` need not seek); every refusal is a :class:`PackageError`
    subclass naming the member.
    """
    dest = Path(dest)
    head = source.read(6)
    compressed = _is_compressed(head)
    counter = _CountingReader(source, head)
    dest.mkdir(parents=True, exist_ok=False)
    state = _Extraction(dest, limits, compressed, counter)
    try:
        with tarfile.open(fileobj=counter, mode="r|*") as tar:  # type: ignore[call-overload]
            state.run(tar)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        # Named by the member (never by the path it was written to: no server path
        # leaves in an error).
        raise UnsafePath("collides with another member's path", state.current) from None
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, UnicodeError,
            ValueError, OSError) as e:  # fmt: skip
        # OSError here is what the gzip/bz2 readers raise on corrupt streams; one of the
        # file system's would carry the destination's path: only its reason is told.
        reason = e.strerror if isinstance(e, OSError) and e.filename is not None else e
        raise PackageError(f"corrupt tar archive: {reason}", state.current) from None
    top = state.top
    if top is None:
        raise PackageError("the tar archive is empty")
    base = dest / top
    if not base.is_dir():
        raise PackageError("the tar's top-level entry is not a directory", top)
    return base


class _Extraction:
    """The member-by-member checks and copies of :func:`extract_tar`."""

    def __init__(self, dest: Path, limits: Limits, compressed: bool, counter: _CountingReader):
        self.dest, self.limits, self.compressed, self.counter = dest, limits, compressed, counter
        self.top: str | None = None
        self.current: str | None = None  # the member being extracted, for errors
        self.seen: set[str] = set()
        self.seen_folded: set[str] = set()
        self.members = self.total = 0

    def run(self, tar: tarfile.TarFile) -> None:
        while (member := tar.next()) is not None:
            self.member(tar, member)

    def member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        limits = self.limits
        self.members += 1
        if self.members > limits.max_members:
            raise LimitExceeded(f"more than {limits.max_members} members in the tar")
        name = member.name
        self.current = name
        safe_relpath(name, where="tar member")
        if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
            kind = {
                tarfile.SYMTYPE: "symbolic link", tarfile.LNKTYPE: "hard link",
                tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device",
                tarfile.FIFOTYPE: "FIFO", tarfile.GNUTYPE_SPARSE: "sparse file",
            }.get(member.type, f"member of type {member.type!r}")  # fmt: skip
            raise UnsafePath(f"a {kind} is not accepted in a package", name)
        head = name.split("/", 1)[0]
        if self.top is None:
            self.top = head
        elif head != self.top:
            raise UnsafePath(f"a second top-level directory (the first was {self.top!r})", name)
        # Case-folded duplicates would collide on case-insensitive file systems.
        if name in self.seen or name.casefold() in self.seen_folded:
            raise UnsafePath("the tar holds this name twice", name)
        self.seen.add(name)
        self.seen_folded.add(name.casefold())
        target = self.dest / name
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            return
        if member.size > limits.max_file_bytes:
            raise LimitExceeded(
                f"declares {member.size} bytes, over the per-file limit {limits.max_file_bytes}",
                name,
            )
        if self.total + member.size > limits.max_total_bytes:
            raise LimitExceeded(f"the package would exceed {limits.max_total_bytes} bytes", name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fh = tar.extractfile(member)
        if fh is None:  # pragma: no cover - regular files always have a reader
            raise PackageError("unreadable member", name)
        written = 0
        with target.open("xb") as out:
            while chunk := fh.read(CHUNK):
                written += len(chunk)
                self.total += len(chunk)
                if written > member.size or self.total > limits.max_total_bytes:
                    raise LimitExceeded("more bytes than declared or allowed", name)
                if (
                    self.compressed
                    and self.total > limits.ratio_floor_bytes
                    and self.total > limits.max_ratio * max(self.counter.count, 1)
                ):
                    raise LimitExceeded(
                        f"expands more than {limits.max_ratio}:1 (compression bomb)", name
                    )
                out.write(chunk)
        if written != member.size:
            raise PackageError(f"truncated: {written} of {member.size} bytes", name)


def import_tar(
    source: Readable,
    dest: Path,
    *,
    expected_root: bytes | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Bag:
    """Extract safely, then open the bag (tag files, notice, envelope verified)."""
    return open_bag(extract_tar(source, dest, limits=limits), expected_root=expected_root,
                    limits=limits)  # fmt: skip
