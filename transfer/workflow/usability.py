"""可用性 (usability): does a material open as its declared media type?

DA/T 70 requires that a received electronic material can be rendered. Full rendering
is out of scope for a notary; these are the structural checks that catch truncation,
corruption and mislabelled files, per format:

- ``application/pdf`` (ISO 32000): ``%PDF-1.x`` or ``%PDF-2.0`` header, ``%%EOF`` in the
  last 1 KiB, a ``startxref`` before it.
- ``image/png`` (ISO/IEC 15948): signature, IHDR first, every chunk's CRC-32 correct,
  IEND last with nothing after it.
- ``image/jpeg`` (ISO/IEC 10918-1): SOI ``FFD8`` then a marker, EOI ``FFD9`` at the end.
- ``image/tiff`` (TIFF 6.0): ``II*\\0`` or ``MM\\0*`` and a first IFD offset inside the file.
- ``application/ofd`` (GB/T 33190): a ZIP whose entries include ``OFD.xml``.
- ``text/plain``, ``application/xml``, ``text/xml``: valid UTF-8.

Pure functions: :func:`check_usability` returns ``None`` or the reason it failed.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable

_PDF_TAIL = 1024


def _pdf(data: bytes) -> str | None:
    if not (data.startswith(b"%PDF-1.") or data.startswith(b"%PDF-2.")):
        return "no %PDF- header"
    tail = data[-_PDF_TAIL:]
    eof = tail.rfind(b"%%EOF")
    if eof < 0:
        return "no %%EOF marker at the end (truncated?)"
    if tail.rfind(b"startxref", 0, eof) < 0 and data.rfind(b"startxref") < 0:
        return "no startxref before %%EOF"
    return None


def _png(data: bytes) -> str | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "no PNG signature"
    pos, first = 8, True
    while True:
        if pos + 12 > len(data):
            return "truncated: no IEND chunk"
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 2**31 - 1 or end > len(data):
            return f"chunk {kind!r} at offset {pos} runs past the end of the file"
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            return f"chunk {kind.decode('latin-1')} at offset {pos}: CRC mismatch"
        if first and kind != b"IHDR":
            return "the first chunk is not IHDR"
        first = False
        pos = end
        if kind == b"IEND":
            return None if pos == len(data) else "data after IEND"


def _jpeg(data: bytes) -> str | None:
    if len(data) < 4 or not data.startswith(b"\xff\xd8\xff"):
        return "no SOI marker"
    if not data.endswith(b"\xff\xd9"):
        return "no EOI marker at the end (truncated?)"
    return None


def _tiff(data: bytes) -> str | None:
    if data[:4] == b"II*\x00":
        (ifd,) = struct.unpack("<I", data[4:8]) if len(data) >= 8 else (0,)
    elif data[:4] == b"MM\x00*":
        (ifd,) = struct.unpack(">I", data[4:8]) if len(data) >= 8 else (0,)
    else:
        return "no TIFF byte-order header"
    if not 8 <= ifd < len(data):
        return "the first IFD offset points outside the file"
    return None


def _ofd(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        return f"not a ZIP container: {e}"
    return None if "OFD.xml" in names else "no OFD.xml entry"


def _utf8(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8 at byte {e.start}"
    return None


CHECKS: dict[str, Callable[[bytes], str | None]] = {
    "application/pdf": _pdf,
    "image/png": _png,
    "image/jpeg": _jpeg,
    "image/tiff": _tiff,
    "application/ofd": _ofd,
    "text/plain": _utf8,
    "text/xml": _utf8,
    "application/xml": _utf8,
}


def check_usability(data: bytes, media_type: str) -> str | None:
    """``None`` if ``data`` opens as ``media_type``; otherwise why not."""
    check = CHECKS.get(media_type)
    if check is None:
        return f"media type {media_type} is not one the receiver can check"
    if not data:
        return "the file is empty"
    return check(data)
