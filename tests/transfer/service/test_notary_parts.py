"""Parts of the notary service on their own: the encrypted spool, content sniffing,
hosted unit keys, the anchoring lock between instances, and the CLI's demo."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notary.deployment import Deployment
from tests._support import notary_api as n
from tests._support.api import Cast
from transfer.db.session import read_sessionmaker, write_sessionmaker
from transfer.services.anchoring import AnchoringWorker
from transfer.services.media import MediaSniffer, sniff_head
from transfer.services.spool import EncryptedSpool


def test_spool_keeps_plaintext_off_disk(tmp_path: Path) -> None:
    marker = b"CADRE-PERSONNEL-ARCHIVE-PLAINTEXT"
    data = (marker * 40_000)[:1_200_000]
    seen: list[bytes] = []
    real = tempfile.TemporaryFile

    def spy(*args: object, **kwargs: object) -> object:
        f = real(*args, **kwargs)  # type: ignore[call-overload]
        seen.append(b"")
        spy.file = f  # type: ignore[attr-defined]
        return f

    with EncryptedSpool(tmp_path, memory_limit=100_000) as spool:
        tempfile.TemporaryFile = spy  # type: ignore[assignment]
        try:
            for i in range(0, len(data), 65536):
                spool.write(data[i : i + 65536])
        finally:
            tempfile.TemporaryFile = real  # type: ignore[assignment]
        assert seen, "beyond the memory limit the spool goes to a file"
        f = spy.file  # type: ignore[attr-defined]
        f.flush()
        on_disk = Path(f"/proc/self/fd/{f.fileno()}").read_bytes()
        assert len(on_disk) > len(data) and marker not in on_disk
        assert spool.reader().read() == data


def test_small_spools_stay_in_memory(tmp_path: Path) -> None:
    with EncryptedSpool(tmp_path) as spool:
        spool.write(b"abc")
        spool.write(b"def")
        reader = spool.reader()
        assert reader.read(4) == b"abcd" and reader.read() == b"ef"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (n.pdf(), "application/pdf"),
        (b"II*\x00" + b"\x00" * 20, "image/tiff"),
        (b"MM\x00*" + b"\x00" * 20, "image/tiff"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (n.png(), "image/png"),
        (n.ofd(), "application/ofd"),
        (b"MZ\x90\x00" + b"\x00" * 20, None),
        (b"<html><body>", None),
    ],
)
def test_types_are_judged_by_content(content: bytes, expected: str | None) -> None:
    sniffer = MediaSniffer()
    for i in range(0, len(content), 3):  # any chunking gives the same answer
        sniffer.feed(content[i : i + 3])
    assert sniffer.media_type() == expected


def test_a_zip_with_ofd_xml_only_in_a_folder_is_not_ofd() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("Doc_0/OFD.xml", "<x/>")
    sniffer = MediaSniffer()
    sniffer.feed(out.getvalue())
    assert sniff_head(out.getvalue()) == "application/zip" and sniffer.media_type() is None


def test_registering_a_unit_creates_its_hosted_envelope_key(
    nclient: TestClient, cast: Cast, deployment: Deployment
) -> None:
    r = nclient.post(
        "/v1/units",
        json={"code": "HOSTED-1", "name": "托管单位", "kind": "unit"},
        headers=cast.admin.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    key = deployment.unit_key("HOSTED-1")
    assert body["public_key_hex"] == key.public_key.raw.hex()
    assert body["key_fingerprint"] == key.public_key.fingerprint().hex()


def test_exactly_one_instance_anchors_at_a_time(
    backend_url: str, clean_engine: Engine, deployment: Deployment
) -> None:
    if not backend_url.startswith("postgresql"):
        pytest.skip("the anchoring lock is PostgreSQL's (SQLite has one instance per database)")

    def worker() -> AnchoringWorker:
        return AnchoringWorker(
            clean_engine,
            read_sessionmaker(clean_engine),
            write_sessionmaker(clean_engine),
            signer=deployment.log_key,
            origin="tests/anchoring-lock",
            chain=deployment.chain,
            interval_s=1.0,
            max_entries=1000,
        )

    first, second = worker(), worker()
    try:
        assert first._hold_lock() and first.active
        assert not second._hold_lock() and not second.active
        assert first._hold_lock()  # still held, on the same connection
        first._drop_lock()
        assert second._hold_lock() and second.active
    finally:
        first._drop_lock()
        second._drop_lock()


@pytest.mark.slow
def test_demo_seeds_anchors_and_prints_keys(tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    cmd = [sys.executable, "-c", "from clients.cli import main; main()", "demo"]
    args = ["--home", str(home), "--port", "0", "--exit-after-seed"]
    out = subprocess.run(cmd + args, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "锚定完成" in out.stdout and "/docs" in out.stdout
    for who in ("admin", "security", "audit", "DEMO-A", "DEMO-B"):
        assert who in out.stdout
    # A second run reuses the deployment and seeds nothing twice, with fresh demo keys.
    again = subprocess.run(cmd + args, capture_output=True, text=True, timeout=180, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "已登记" not in again.stdout and "DEMO-A" in again.stdout
