"""The receiver's verification: each defect lands in the column of the property it violates."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from notary.crypto import sm3
from notary.envelope import wrap_key
from tests._support.transfer_package import (
    FakeChain,
    Parties,
    build,
    envelope_entry,
    evidence_for,
    make_notice,
    materials,
    pdf,
    png,
    seal_all,
)
from transfer.workflow import bagfiles
from transfer.workflow.acts import sign_dispatch, sign_receipt
from transfer.workflow.bag_reader import Bag, open_bag
from transfer.workflow.errors import PackageError
from transfer.workflow.package import COVERED_TAG_FILES
from transfer.workflow.results import Property, Status, VerificationReport
from transfer.workflow.usability import check_usability
from transfer.workflow.verify import VerifyPolicy, verify_package

A, C, U, S = Property.AUTHENTICITY, Property.COMPLETENESS, Property.USABILITY, Property.SECURITY
PASS, FAIL, SKIP = Status.PASS, Status.FAIL, Status.SKIPPED


def _verify(built: Any, parties: Parties, **kw: Any) -> VerificationReport:
    args: dict[str, Any] = {
        "holder": parties.receiver, "dispatch": built.dispatch,
        "sender_key": parties.sender.public_key, "trusted_log_keys": [parties.log.public_key],
        "chain": FakeChain(list(built.evidence.values()), parties.log),
    }  # fmt: skip
    return verify_package(open_bag(built.path), **(args | kw))


def _columns(report: VerificationReport, mid: str) -> dict[Property, Status]:
    m = report.material(mid)
    return {p: m.status(p) for p in Property}


def _others_pass(report: VerificationReport, mid: str) -> None:
    for m in report.materials:
        if m.material_id != mid:
            assert m.passed, m.failures()


def test_clean_transfer_is_accepted(tmp_path: Path, parties: Parties) -> None:
    built = build(tmp_path, parties)
    report = _verify(built, parties)
    assert report.accepted, report.summary_zh()
    assert all(c.status is PASS for c in report.transfer_checks)
    names = {c.name for c in report.material("m000").checks}
    assert names >= {"manifest", "cid", "log-proof", "anchor", "gcm-tag", "content-sm3", "opens"}
    receipt = sign_receipt(
        parties.receiver, dispatch=built.dispatch, report=report, now=built.notice.created_at
    )
    assert receipt.accepted


def test_corrupted_png_fails_usability_only(tmp_path: Path, parties: Parties) -> None:
    items = materials()
    bad = bytearray(png())
    bad[30] ^= 0xFF  # inside IHDR: its CRC no longer matches
    items[0].plain = bytes(bad)  # m000 is a PNG; the sender sealed and registered it so
    built = build(tmp_path, parties, items)
    report = _verify(built, parties)
    assert _columns(report, "m000") == {A: PASS, C: PASS, U: FAIL, S: PASS}
    (failure,) = report.material("m000").failures()
    assert "CRC mismatch" in failure.detail
    _others_pass(report, "m000")
    assert not report.accepted
    assert "材料 m000 可用性（opens）不通过" in report.summary_zh()


def test_missing_material_fails_completeness(tmp_path: Path, parties: Parties) -> None:
    items = materials()
    seal_all(items)
    full_notice = make_notice(items)
    built = build(tmp_path, parties, items[:-1], evidence=evidence_for(items, parties.log))
    # The sender's notice lists m005, but the package it signed lacks it.
    (built.path / "transfer-notice.json").write_bytes(full_notice.to_bytes())
    root = _retag(built.path)
    dispatch = sign_dispatch(
        parties.sender, notice=full_notice, package_root=root, deadline=full_notice.deadline,
        now=full_notice.created_at,
    )  # fmt: skip
    report = _verify(replace(built, dispatch=dispatch), parties)
    assert _columns(report, "m005") == {A: SKIP, C: FAIL, U: SKIP, S: SKIP}
    counts = next(c for c in report.transfer_checks if c.name == "counts")
    assert counts.status is FAIL and "vol-main" in counts.detail
    _others_pass(report, "m005")


def test_wrong_sm3_fails_authenticity_only(tmp_path: Path, parties: Parties) -> None:
    items = materials()
    seal_all(items)
    registered = evidence_for(items, parties.log)  # what the sender's log holds
    items[1].plain = pdf("a forged degree certificate")  # m001 substituted before transfer
    items[1].sealed = b""
    seal_all(items[1:2])
    built = build(tmp_path, parties, items, evidence=registered)
    report = _verify(built, parties)
    assert _columns(report, "m001") == {A: FAIL, C: PASS, U: PASS, S: PASS}
    (failure,) = report.material("m001").failures()
    assert failure.name == "log-proof" and "entry" in failure.detail
    _others_pass(report, "m001")


def test_notice_sm3_differing_from_envelope_fails_authenticity(
    tmp_path: Path, parties: Parties
) -> None:
    items = materials()
    seal_all(items)
    notice = make_notice(items)
    cat = list(notice.materials)
    cat[2] = replace(cat[2], sm3=sm3(b"something else").hex())
    wrong = replace(notice, materials=tuple(cat))
    with pytest.raises(PackageError, match="m002: envelope and catalogue disagree"):
        build(tmp_path, parties, items, notice=wrong, name="refused")  # the sender's own check
    # A package that reaches the receiver that way anyway (re-tagged and re-signed).
    built = build(tmp_path, parties, items)
    (built.path / "transfer-notice.json").write_bytes(wrong.to_bytes())
    root = _retag(built.path)
    dispatch = sign_dispatch(
        parties.sender, notice=wrong, package_root=root, deadline=wrong.deadline,
        now=wrong.created_at,
    )  # fmt: skip
    report = _verify(replace(built, dispatch=dispatch), parties)
    assert _columns(report, "m002") == {A: FAIL, C: PASS, U: PASS, S: PASS}
    assert {c.name for c in report.material("m002").failures()} == {"sm3", "log-proof"}
    _others_pass(report, "m002")


def test_unopenable_envelope_fails_security(tmp_path: Path, parties: Parties) -> None:
    items = materials()
    seal_all(items)
    entries = [envelope_entry(m, parties.receiver, True) for m in items]
    # m003's data key is wrapped for another unit's key: the receiver cannot open it.
    entries[3] = replace(
        entries[3], wrapped_key=wrap_key(items[3].data_key, parties.other.public_key).ciphertext
    )
    built = build(tmp_path, parties, items, entries=entries)
    report = _verify(built, parties)
    assert _columns(report, "m003") == {A: SKIP, C: SKIP, U: SKIP, S: FAIL}
    failed = [c for c in report.material("m003").checks if c.status is FAIL]
    assert [c.name for c in failed] == ["key-unwrap"]
    _others_pass(report, "m003")


def test_one_byte_changed_in_transit_names_the_material(tmp_path: Path, parties: Parties) -> None:
    built = build(tmp_path, parties)
    p = built.path / "data/materials/m004.sm4"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    report = _verify(built, parties)
    cols = _columns(report, "m004")
    assert cols[A] is FAIL and cols[S] is FAIL and cols[U] is SKIP
    failed = {c.name for c in report.material("m004").checks if c.status is FAIL}
    assert failed == {"manifest", "cid", "gcm-tag"}
    _others_pass(report, "m004")
    assert not report.accepted


def test_unanchored_checkpoint_fails_authenticity(tmp_path: Path, parties: Parties) -> None:
    built = build(tmp_path, parties)
    report = _verify(built, parties, chain=FakeChain([], parties.log))
    for m in report.materials:
        assert _columns(report, m.material_id)[A] is FAIL
        assert any(c.name == "anchor" and c.status is FAIL for c in m.checks)


def test_evidence_policy(tmp_path: Path, parties: Parties) -> None:
    built = build(tmp_path, parties, with_evidence=False)
    report = _verify(built, parties)
    assert {c.detail for c in report.material("m000").failures()} == {
        "no evidence receipt from the sender's log"
    }
    relaxed = _verify(built, parties, policy=VerifyPolicy(require_evidence=False), chain=None)
    assert relaxed.accepted
    # Evidence fetched from the sender's deployment counts as well as evidence in the bag.
    fetched = _verify(built, parties, evidence=built.evidence)
    assert fetched.accepted
    with pytest.raises(ValueError, match="chain reader"):
        _verify(built, parties, chain=None)


def test_untrusted_log_key_fails_authenticity(tmp_path: Path, parties: Parties) -> None:
    built = build(tmp_path, parties)
    report = _verify(built, parties, trusted_log_keys=[parties.other.public_key])
    assert all(_columns(report, m.material_id)[A] is FAIL for m in report.materials)


def test_dispatch_by_another_key_fails_package_security(tmp_path: Path, parties: Parties) -> None:
    built = build(tmp_path, parties)
    report = _verify(built, parties, sender_key=parties.other.public_key)
    check = next(c for c in report.transfer_checks if c.name == "dispatch-signature")
    assert check.property is S and check.status is FAIL and "ForgedSignature" in check.detail
    assert not report.accepted


def test_bag_for_another_receiver_fails_security(tmp_path: Path, parties: Parties) -> None:
    built = build(tmp_path, parties)
    report = _verify(built, parties, holder=parties.other)
    check = next(c for c in report.transfer_checks if c.name == "recipient")
    assert check.status is FAIL
    assert all(_columns(report, m.material_id)[S] is FAIL for m in report.materials)


def _retag(root: Path) -> bytes:
    for alg in bagfiles.ALGORITHMS:
        h = sm3 if alg == "sm3" else (lambda b: hashlib.sha256(b).digest())
        digests = {n: h((root / n).read_bytes()).hex() for n in COVERED_TAG_FILES}
        (root / bagfiles.tagmanifest_name(alg)).write_bytes(bagfiles.format_manifest(digests))
    return sm3((root / "tagmanifest-sm3.txt").read_bytes())


# ---------------------------------------------------------------- usability, per format


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize(
    ("media_type", "data", "problem"),
    [
        ("image/png", png(), None),
        ("image/png", png()[:-5], "truncated"),
        ("image/png", png() + b"x", "after IEND"),
        ("image/png", b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IDAT", b""), "not IHDR"),
        ("application/pdf", pdf(), None),
        ("application/pdf", pdf()[:-7], "%%EOF"),
        ("application/pdf", b"PK" + pdf(), "header"),
        ("image/jpeg", b"\xff\xd8\xff\xe0" + b"\0" * 10 + b"\xff\xd9", None),
        ("image/jpeg", b"\xff\xd8\xff\xe0" + b"\0" * 10, "EOI"),
        ("image/jpeg", png(), "SOI"),
        ("image/tiff", b"II*\x00\x08\x00\x00\x00" + b"\0" * 8, None),
        ("image/tiff", b"MM\x00*\x00\x00\xff\xff", "IFD"),
        ("text/plain", "干部任免审批表".encode(), None),
        ("text/plain", b"\xff\xfe", "UTF-8"),
        ("application/ofd", b"PK\x03\x04 not really", "ZIP"),
        ("application/x-unknown", b"x", "not one the receiver can check"),
        ("application/pdf", b"", "empty"),
    ],
)
def test_usability_checks(media_type: str, data: bytes, problem: str | None) -> None:
    got = check_usability(data, media_type)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got


def test_ofd_container() -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", "<ofd:OFD/>")
    assert check_usability(buf.getvalue(), "application/ofd") is None


def test_a_destroyed_header_still_gets_manifest_and_cid_checks(
    tmp_path: Path, parties: Parties
) -> None:
    # SM4-GCM gives up on the first chunk; the rest of the file is still read for the
    # manifests and the CID, and one worker or two judge alike.
    built = build(tmp_path, parties)
    p = built.path / "data/materials/m001.sm4"
    data = bytearray(p.read_bytes())
    data[:4] = b"XXXX"
    p.write_bytes(bytes(data))
    report = _verify(built, parties)
    failed = {c.name for c in report.material("m001").checks if c.status is FAIL}
    assert failed == {"manifest", "cid", "gcm-tag"}
    _others_pass(report, "m001")
    assert _verify(built, parties, workers=1) == report


def test_each_sealed_file_is_read_once(
    tmp_path: Path, parties: Parties, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build(tmp_path, parties)
    opened: list[str] = []
    original = Bag.open_payload

    def counting(self: Bag, rel: str) -> Any:
        opened.append(rel)
        return original(self, rel)

    monkeypatch.setattr(Bag, "open_payload", counting)
    assert _verify(built, parties).accepted
    sealed = [rel for rel in opened if rel.startswith("data/materials/")]
    assert sorted(sealed) == sorted(set(sealed)) and len(sealed) == len(built.notice.materials)
