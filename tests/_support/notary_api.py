"""Helpers of the notary API tests: sample documents, uploads, waiting for anchoring."""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib
from typing import Any

from fastapi.testclient import TestClient

from tests._support.api import Actor
from tests.notary.receipts.schema import checked_receipt


def pdf(text: str = "sample") -> bytes:
    body = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R>>endobj\n"
        + f"4 0 obj<</Length {len(body)}>>stream\n".encode()
        + body
        + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def png(seed: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    raw = b"".join(b"\x00" + bytes([(seed + x) % 256] * 3 * 4) for x in range(4))
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def ofd() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
        z.writestr("Doc_0/Document.xml", "<ofd:Document/>")
    return out.getvalue()


def meta(**over: Any) -> dict[str, str]:
    data = {
        "category": "1",
        "seq_no": "1",
        "pages": "2",
        "title": "干部履历表",
        "formation_date": "1990-07-01",
    }
    data.update({k: str(v) for k, v in over.items()})
    return data


def upload(
    client: TestClient,
    actor: Actor,
    volume_id: str,
    content: bytes,
    *,
    filename: str = "m.pdf",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    return client.post(
        f"/v1/volumes/{volume_id}/materials",
        data=meta(**fields),
        files={"file": (filename, content, "application/octet-stream")},
        headers={**actor.headers, **(headers or {})},
    )


def new_volume(client: TestClient, actor: Actor, ident: str = "110105194912310020") -> str:
    r = client.post(
        "/v1/volumes", json={"cadre_identifier": ident, "kind": "main"}, headers=actor.headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def wait_receipt(client: TestClient, actor: Actor, material_id: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/v1/materials/{material_id}/receipt", headers=actor.headers)
        if r.status_code == 200:
            checked_receipt(r.content)  # docs/receipt.schema.json and the strict reader
            return r.json()
        assert r.status_code == 202, r.text
        assert time.monotonic() < deadline, "the receipt was not anchored in time"
        time.sleep(0.05)
