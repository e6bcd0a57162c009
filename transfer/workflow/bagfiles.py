"""The tag files of a BagIt 1.0 bag (RFC 8493), as pure functions over bytes.

- ``bagit.txt`` (§2.1.1), ``bag-info.txt`` (§2.2.2: ``Label: value`` lines, a line that
  starts with whitespace continues the previous value), payload and tag manifests
  (§2.1.3, §2.2.1: ``checksum <whitespace> path`` lines; CR, LF and ``%`` in paths are
  percent-encoded).
- :func:`safe_relpath` is the one gate every path of a bag or of its tar passes:
  relative, ``/``-separated, no ``.``/``..``/empty segments, no ``~``, no backslash,
  no control characters — nothing that could escape the bag's base directory.

Manifests are written sorted by path with LF line endings, so a bag's tag files (and
hence its package root) depend only on its content.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from transfer.workflow.errors import PackageError, UnsafePath

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
ALGORITHMS = ("sm3", "sha256")  # SM3 first: the package root is the SM3 tag manifest's digest
_HEX = {"sm3": re.compile(r"^[0-9a-fA-F]{64}$"), "sha256": re.compile(r"^[0-9a-fA-F]{64}$")}
_LABEL = re.compile(r"^[^\s:][^:]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OXUM = re.compile(r"^(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,9})$")


def manifest_name(algorithm: str) -> str:
    return f"manifest-{algorithm}.txt"


def tagmanifest_name(algorithm: str) -> str:
    return f"tagmanifest-{algorithm}.txt"


def safe_relpath(path: str, *, where: str) -> str:
    """Return ``path`` if it is a safe relative path inside a bag; raise :class:`UnsafePath`."""
    if not path or len(path) > 1024:
        raise UnsafePath(f"{where}: empty or over-long path", path[:200] or "<empty>")
    if _CONTROL.search(path) or "\\" in path:
        raise UnsafePath(f"{where}: control character or backslash in path", repr(path)[:200])
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        raise UnsafePath(f"{where}: absolute or home-relative path", path)
    segments = path.split("/")
    if any(s in ("", ".", "..") for s in segments) or any(s.startswith("~") for s in segments):
        raise UnsafePath(f"{where}: path has an empty, '.', '..' or '~' segment", path)
    if unicodedata.normalize("NFC", path) != path:
        # Two spellings of one name would let two manifest lines cover one file.
        raise UnsafePath(f"{where}: path is not in Unicode NFC", path)
    return path


# ---------------------------------------------------------------- bagit.txt


def check_bagit_txt(data: bytes) -> None:
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if lines != [b"BagIt-Version: 1.0", b"Tag-File-Character-Encoding: UTF-8"]:
        raise PackageError(
            "must declare exactly BagIt-Version 1.0 and Tag-File-Character-Encoding UTF-8",
            "bagit.txt",
        )


# ---------------------------------------------------------------- bag-info.txt


def format_bag_info(fields: Iterable[tuple[str, str]]) -> bytes:
    out = []
    for label, value in fields:
        if not _LABEL.fullmatch(label) or label != label.strip():
            raise ValueError(f"invalid bag-info label {label!r}")
        if _CONTROL.search(value):
            raise ValueError(f"bag-info value of {label} has a control character")
        out.append(f"{label}: {value}\n")
    return "".join(out).encode("utf-8")


def parse_bag_info(data: bytes) -> list[tuple[str, str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PackageError("not UTF-8", "bag-info.txt") from None
    if text.startswith("\ufeff"):
        raise PackageError("starts with a byte-order mark (RFC 8493 §2.1.1)", "bag-info.txt")
    fields: list[tuple[str, str]] = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if line == "":
            continue
        if line[0] in " \t":
            if not fields:
                raise PackageError(f"line {number} continues nothing", "bag-info.txt")
            label, value = fields[-1]
            fields[-1] = (label, f"{value} {line.strip()}")
            continue
        label, sep, value = line.partition(":")
        if not sep or not _LABEL.fullmatch(label) or label != label.strip():
            raise PackageError(f"line {number} is not 'Label: value'", "bag-info.txt")
        if _CONTROL.search(value):
            raise PackageError(f"line {number} has a control character", "bag-info.txt")
        fields.append((label, value.strip()))
    return fields


def parse_oxum(value: str) -> tuple[int, int]:
    """Payload-Oxum ``octetcount.streamcount`` (RFC 8493 §2.2.2)."""
    m = _OXUM.fullmatch(value)
    if not m:
        raise PackageError(f"Payload-Oxum {value!r:.40} is not octets.count", "bag-info.txt")
    return int(m.group(1)), int(m.group(2))


# ---------------------------------------------------------------- manifests


def _encode_path(path: str) -> str:
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def _decode_path(path: str, name: str, number: int) -> str:
    if re.search(r"%(?!25|0A|0D|0a|0d)", path):
        raise PackageError(f"line {number}: stray '%' in path", name)
    return (
        path.replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%25", "%")
    )


def format_manifest(digests: Mapping[str, str]) -> bytes:
    """``hex  path`` lines sorted by path (two spaces, as bagit-python writes them)."""
    return "".join(f"{digests[p]}  {_encode_path(p)}\n" for p in sorted(digests)).encode("utf-8")


def parse_manifest(data: bytes, name: str, algorithm: str) -> dict[str, str]:
    """Parse a (tag) manifest into {path: lowercase hex}; duplicates and unsafe paths refused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PackageError("not UTF-8", name) from None
    out: dict[str, str] = {}
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if line == "":
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not _HEX[algorithm].fullmatch(parts[0]):
            raise PackageError(f"line {number} is not '<{algorithm} hex> <path>'", name)
        path = safe_relpath(_decode_path(parts[1].strip(), name, number), where=name)
        if path in out:
            raise PackageError(f"line {number}: {path} is listed twice", name)
        out[path] = parts[0].lower()
    return out
