"""The BagIt package: written by the project, read strictly, and every alteration named."""

from __future__ import annotations

import os
from pathlib import Path

import bagit
import pytest

from notary.crypto import sm3
from tests._support.transfer_package import Built, Parties, build
from transfer.workflow.bag_reader import FileState, open_bag
from transfer.workflow.errors import (
    DocumentError,
    ManifestMismatch,
    MissingFile,
    PackageError,
    PackageRootMismatch,
    UnexpectedFile,
    UnsafePath,
)


@pytest.fixture
def built(tmp_path: Path, parties: Parties) -> Built:
    return build(tmp_path, parties)


def test_round_trip(built: Built) -> None:
    bag = open_bag(built.path, expected_root=built.written.package_root)
    bag.validate()
    assert bag.package_root == sm3((built.path / "tagmanifest-sm3.txt").read_bytes())
    assert bag.notice == built.notice
    assert bag.envelope == built.envelope
    assert bag.info_value("External-Identifier") == built.notice.transfer_no
    assert bag.info_value("Payload-Oxum") == f"{built.written.payload_octets}.13"
    assert bag.payload_report().ok


def test_bagit_python_validates_the_bag(built: Built) -> None:
    bag = bagit.Bag(str(built.path))
    bag.validate()  # full fixity check
    # bagit-python only knows hashlib.algorithms_guaranteed: it skips the SM3 manifests
    # silently and validates the SHA-256 ones (payload and tag).
    assert bag.algorithms == ["sha256"]
    assert bag.info["External-Identifier"] == built.notice.transfer_no


def test_bagit_python_detects_payload_tampering_too(built: Built) -> None:
    p = built.path / "data/materials/m001.sm4"
    data = bytearray(p.read_bytes())
    data[40] ^= 1
    p.write_bytes(bytes(data))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(built.path)).validate()


def test_same_content_same_tag_files(tmp_path: Path, parties: Parties) -> None:
    from tests._support.transfer_package import materials, seal_all

    items = materials(3)
    seal_all(items)
    # Evidence receipts carry randomised SM2 signatures, so leave them out here.
    a = build(tmp_path, parties, items, with_evidence=False, name="a")
    b = build(tmp_path, parties, items, entries=list(a.envelope.materials), name="b")
    assert a.written.package_root == b.written.package_root


def _flip(path: Path, offset: int = -5) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "rel",
    ["data/materials/m000.sm4", "data/materials/m004.sm4", "data/evidence/m002.json"],
)
def test_payload_tampering_is_named(built: Built, rel: str) -> None:
    _flip(built.path / rel)
    bag = open_bag(built.path, expected_root=built.written.package_root)
    assert bag.payload_report().files[rel].state is FileState.ALTERED
    with pytest.raises(ManifestMismatch) as e:
        bag.validate()
    assert e.value.path == rel
    assert e.value.manifest == "manifest-sm3.txt"


def test_envelope_tampering_is_refused_at_open(built: Built) -> None:
    _flip(built.path / "data/envelope.json", 30)
    with pytest.raises(ManifestMismatch) as e:
        open_bag(built.path)
    assert e.value.path == "data/envelope.json"


@pytest.mark.parametrize(
    "rel",
    [
        "bag-info.txt",
        "transfer-notice.json",
        "manifest-sm3.txt",
        "manifest-sha256.txt",
        "bagit.txt",
    ],
)
def test_tag_file_tampering_is_named(built: Built, rel: str) -> None:
    p = built.path / rel
    p.write_bytes(p.read_bytes() + b"\n")
    with pytest.raises(ManifestMismatch) as e:
        open_bag(built.path)
    assert e.value.path == rel
    assert e.value.manifest == "tagmanifest-sm3.txt"


def test_tag_manifest_tampering_changes_the_package_root(built: Built) -> None:
    p = built.path / "tagmanifest-sm3.txt"
    lines = p.read_text().splitlines(keepends=True)
    p.write_text("".join(reversed(lines)))  # same content, other bytes
    with pytest.raises(PackageRootMismatch) as e:
        open_bag(built.path, expected_root=built.written.package_root)
    assert e.value.path == "tagmanifest-sm3.txt"


def test_consistent_retagging_is_caught_by_the_package_root(built: Built) -> None:
    """An attacker who rewrites bag-info *and* both tag manifests still changes the root."""
    from transfer.workflow import bagfiles

    info = built.path / "bag-info.txt"
    info.write_bytes(info.read_bytes().replace("干部调动".encode(), "退休".encode()))
    for alg in bagfiles.ALGORITHMS:
        name = bagfiles.tagmanifest_name(alg)
        listed = bagfiles.parse_manifest((built.path / name).read_bytes(), name, alg)
        import hashlib

        h = sm3 if alg == "sm3" else (lambda b: hashlib.sha256(b).digest())
        listed["bag-info.txt"] = h(info.read_bytes()).hex()
        (built.path / name).write_bytes(bagfiles.format_manifest(listed))
    with pytest.raises(PackageError, match="Transfer-Reason"):
        open_bag(built.path)  # bag-info must also agree with the notice
    with pytest.raises(PackageRootMismatch):
        open_bag(built.path, expected_root=built.written.package_root)


def test_notice_and_bag_info_must_agree(built: Built, parties: Parties) -> None:
    # Re-tag consistently, but with bag-info naming another receiving organisation.
    from transfer.workflow import bagfiles

    info = built.path / "bag-info.txt"
    info.write_bytes(info.read_bytes().replace("乙市".encode(), "丙市".encode()))
    _retag(built.path)
    with pytest.raises(PackageError, match="Receiving-Organization") as e:
        open_bag(built.path)
    assert e.value.path == "bag-info.txt"
    assert bagfiles


def _retag(root: Path) -> None:
    import hashlib

    from transfer.workflow import bagfiles
    from transfer.workflow.package import COVERED_TAG_FILES

    for alg in bagfiles.ALGORITHMS:
        h = sm3 if alg == "sm3" else (lambda b: hashlib.sha256(b).digest())
        digests = {n: h((root / n).read_bytes()).hex() for n in COVERED_TAG_FILES}
        (root / bagfiles.tagmanifest_name(alg)).write_bytes(bagfiles.format_manifest(digests))


def test_missing_material_file_is_reported_not_raised_at_open(built: Built) -> None:
    (built.path / "data/materials/m003.sm4").unlink()
    bag = open_bag(built.path)
    assert bag.payload_report().files["data/materials/m003.sm4"].state is FileState.MISSING
    with pytest.raises(MissingFile) as e:
        bag.validate()
    assert e.value.path == "data/materials/m003.sm4"


def test_unlisted_payload_file_is_refused(built: Built) -> None:
    (built.path / "data/materials/smuggled.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(UnexpectedFile) as e:
        open_bag(built.path)
    assert e.value.path == "data/materials/smuggled.pdf"


def test_unknown_tag_file_and_fetch_txt_are_refused(built: Built) -> None:
    (built.path / "extra-info.txt").write_text("x")
    with pytest.raises(UnexpectedFile, match=r"extra-info\.txt"):
        open_bag(built.path)
    (built.path / "extra-info.txt").unlink()
    (built.path / "fetch.txt").write_text("http://x 1 data/a")
    with pytest.raises(UnexpectedFile, match=r"fetch\.txt"):
        open_bag(built.path)


def test_symlink_in_bag_directory_is_refused(built: Built) -> None:
    os.symlink("/etc/passwd", built.path / "data/materials/link")
    with pytest.raises(UnsafePath) as e:
        open_bag(built.path)
    assert e.value.path == "data/materials/link"


@pytest.mark.parametrize("bad", ["../outside", "/etc/passwd", "~/x", "data/../../x", "data/./a"])
def test_unsafe_manifest_paths_are_refused(built: Built, bad: str) -> None:
    p = built.path / "manifest-sm3.txt"
    p.write_bytes(p.read_bytes() + f"{'0' * 64}  {bad}\n".encode())
    _retag(built.path)
    with pytest.raises(UnsafePath):
        open_bag(built.path)


def test_missing_required_tag_file(built: Built) -> None:
    (built.path / "manifest-sha256.txt").unlink()
    with pytest.raises(MissingFile) as e:
        open_bag(built.path)
    assert e.value.path == "manifest-sha256.txt"


def test_envelope_for_another_transfer_is_refused(tmp_path: Path, parties: Parties) -> None:
    built = build(tmp_path, parties)
    # A notice of another transfer, retagged consistently: the envelope no longer matches.
    from dataclasses import replace

    other = replace(built.notice, transfer_id="tr-9999")
    (built.path / "transfer-notice.json").write_bytes(other.to_bytes())
    info = built.path / "bag-info.txt"
    info.write_bytes(info.read_bytes().replace(b"tr-0001", b"tr-9999"))
    _retag(built.path)
    with pytest.raises(DocumentError, match=r"envelope\.json.*transfer tr-0001"):
        open_bag(built.path)
