"""What an upload is, judged by its bytes (never by its name or declared type).

The first bytes decide PDF, TIFF, JPEG and PNG. OFD (GB/T 33190) is a ZIP package
whose root holds ``OFD.xml``; a ZIP is only known to be OFD once its central
directory (at the end of the file) has been read, so :class:`MediaSniffer` watches
the whole stream and keeps its tail.
"""

from __future__ import annotations

import struct

PDF = "application/pdf"
TIFF = "image/tiff"
JPEG = "image/jpeg"
PNG = "image/png"
OFD = "application/ofd"
ZIP = "application/zip"

# Bytes needed at the start to tell the types apart.
HEAD_BYTES = 8
# The end of a ZIP: EOCD (22 bytes + comment ≤ 64 KiB) and, for a normal OFD, its
# central directory. Packages with a larger directory are refused, not misjudged.
_TAIL_BYTES = 1 << 20
_EOCD = b"PK\x05\x06"
_CDH = b"PK\x01\x02"


def sniff_head(head: bytes) -> str | None:
    """The media type the first bytes announce (ZIP for a possible OFD), or None."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    return None


def zip_root_names(tail: bytes) -> list[str] | None:
    """Names in a ZIP's central directory, from the file's last bytes (None if not found)."""
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    _, _, _, _, count, cd_size, _, _ = struct.unpack("<IHHHHIIH", tail[at : at + 22])
    start = at - cd_size
    if start < 0:
        return None
    names: list[str] = []
    pos = start
    for _ in range(count):
        if tail[pos : pos + 4] != _CDH or pos + 46 > at:
            return None
        name_len, extra_len, comment_len = struct.unpack("<HHH", tail[pos + 28 : pos + 34])
        raw = tail[pos + 46 : pos + 46 + name_len]
        names.append(raw.decode("utf-8", errors="replace"))
        pos += 46 + name_len + extra_len + comment_len
    return names


class MediaSniffer:
    """Feed the whole stream; :meth:`media_type` then names it (or None: refuse)."""

    def __init__(self) -> None:
        self.head_type: str | None = None
        self._head = b""
        self._tail = bytearray()

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
            if len(self._head) >= HEAD_BYTES:
                self.head_type = sniff_head(self._head)
        # Only a ZIP needs its tail (for the central directory); while the head is
        # incomplete the bytes are kept in case it turns out to be one.
        if self.head_type == ZIP or len(self._head) < HEAD_BYTES:
            self._tail += chunk
            if len(self._tail) > _TAIL_BYTES:
                del self._tail[: len(self._tail) - _TAIL_BYTES]

    def media_type(self) -> str | None:
        kind = self.head_type if self.head_type is not None else sniff_head(self._head)
        if kind != ZIP:
            return kind
        names = zip_root_names(bytes(self._tail)) or []
        return OFD if "OFD.xml" in names else None
