"""The seeded demo of ``notary demo``: small but valid sample documents, made in code."""

from __future__ import annotations

import struct
import zlib


def sample_pdf(title: str) -> bytes:
    """A one-page PDF (ASCII text only: the built-in Helvetica has no CJK glyphs)."""
    text = title.encode("ascii", errors="replace")
    stream = b"BT /F1 18 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length " + str(len(stream)).encode() + b">>stream\n" + stream + b"\nendstream",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer<</Size {len(objects) + 1}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def sample_png(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """An RGB gradient PNG (zlib-compressed scanlines, CRC-checked chunks)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(
        b"\x00" + b"".join(bytes(((x * 4 + seed) % 256, (y * 5) % 256, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def sample_jpeg() -> bytes:
    """A 16×16 greyscale baseline JPEG (encoded once with libjpeg, decodes cleanly)."""
    return bytes.fromhex(
        "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318"
        "281a181616183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d"
        "71797064785c656763ffc0000b080010001001011100ffc4001f0000010501010101010100000000"
        "000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300"
        "041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a"
        "25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475"
        "767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9ba"
        "c2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda"
        "0008010100003f00c9d12cfeef15d46a177fd8ba149729c4effbb878fe33d0f4238009e7ae31deab"
        "e8967f778ac7f12ddff696ba2da3e60b2cc638eaff00c67a67a803bfddc8eb5fffd9"
    )


# (category, seq_no, pages, title, formation date, kind)
DEMO_MATERIALS = [
    ("1", 1, 2, "干部履历表", "1998-07-01", "pdf"),
    ("4-1", 1, 1, "学历学位证书", "1998-06-30", "png"),
    ("4-2", 1, 1, "专业技术职务任职资格材料", "2005-12-20", "jpeg"),
    ("9-1", 1, 2, "工资审批表", "2010-03-15", "pdf"),
]
