"""Builders for transfer tests: a sender, a receiver, sealed materials and their evidence."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from notary.canonical import canonical_json
from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey, sm3
from notary.entries import blind_id, encode_entry, material_registered
from notary.envelope import seal, wrap_key
from notary.log import MerkleLog
from notary.receipts import AnchorRef, EvidenceReceipt, build_receipt
from notary.store.unixfs import compute_cid
from transfer.workflow.acts import SignedAct, sign_dispatch
from transfer.workflow.envelope import Envelope, EnvelopeEntry
from transfer.workflow.notice import (
    CatalogueEntry,
    Classification,
    Notice,
    UnitRef,
    VolumeEntry,
    VolumeKind,
)
from transfer.workflow.package import PackageMaterial, WrittenBag, write_bag

T0 = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)
CONTRACT = "0x" + "ab" * 20
TX = "0x" + "cd" * 32
CHAIN_ID = 1337
BLOCK = 42


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def pdf(text: str = "cadre archive") -> bytes:
    body = f"1 0 obj << /Type /Catalog >> endobj % {text}\n".encode()
    return b"%PDF-1.7\n" + body + b"xref\n0 1\ntrailer << >>\nstartxref\n9\n%%EOF\n"


def jpeg() -> bytes:
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\x00" * 32
        + b"\xff\xd9"
    )


SAMPLES: dict[str, Callable[[], bytes]] = {
    "image/png": png,
    "application/pdf": pdf,
    "image/jpeg": jpeg,
}


@dataclass
class Parties:
    sender: SM2PrivateKey
    receiver: SM2PrivateKey
    log: SM2PrivateKey
    other: SM2PrivateKey  # a third unit, for forged signatures and foreign envelopes


@dataclass
class Material:
    material_id: str
    volume_id: str
    category: str
    media_type: str
    plain: bytes
    sealed: bytes = b""
    data_key: bytes = b""


@dataclass
class Built:
    notice: Notice
    envelope: Envelope
    materials: list[Material]
    evidence: dict[str, EvidenceReceipt]
    written: WrittenBag
    dispatch: SignedAct
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.written.path


def materials(n: int = 6) -> list[Material]:
    kinds = ["image/png", "application/pdf", "image/jpeg"]
    cats = ["1", "2", "4-1", "9-2", "10"]
    return [
        Material(
            material_id=f"m{i:03d}",
            volume_id="vol-main" if i % 3 else "vol-copy",
            category=cats[i % len(cats)],
            media_type=kinds[i % len(kinds)],
            plain=SAMPLES[kinds[i % len(kinds)]](),
        )
        for i in range(n)
    ]


def seal_all(items: list[Material]) -> None:
    for m in items:
        sealing = seal(io.BytesIO(m.plain), m.material_id)
        m.sealed = b"".join(sealing.sealed)
        m.data_key = sealing.data_key


def evidence_for(items: list[Material], log_key: SM2PrivateKey) -> dict[str, EvidenceReceipt]:
    log = MerkleLog()
    entries = []
    for m in items:
        entry = material_registered(
            material_id=m.material_id, sm3_hex=sm3(m.plain).hex(), cid=compute_cid(m.sealed),
            size=len(m.plain), category=m.category, volume=blind_id(b"s" * 32, m.volume_id),
            unit="unit-a", version=1, time_ms=1_740_000_000_000,
        )  # fmt: skip
        entries.append(entry)
        log.append(encode_entry(entry))
    cp = sign_checkpoint(log_key, "centre-a/log", log.size, log.root(), 1_740_000_001_000)
    anchor = AnchorRef(CHAIN_ID, CONTRACT, TX, BLOCK)
    return {
        m.material_id: build_receipt(e, i, log.inclusion_proof(i), cp, log_key.public_key, anchor)
        for i, (m, e) in enumerate(zip(items, entries, strict=True))
    }


class FakeChain:
    """An AnchorReader that holds the anchors of the given checkpoints."""

    def __init__(self, receipts: list[EvidenceReceipt], log_key: SM2PrivateKey) -> None:
        self.chain_id, self.address = CHAIN_ID, CONTRACT
        self._anchors = {
            (
                r.checkpoint.checkpoint.log_id,
                r.checkpoint.checkpoint.tree_size,
            ): r.checkpoint.checkpoint.root
            for r in receipts
        }
        self._fp = log_key.public_key.fingerprint()

    def get_anchor(self, log_id: bytes, tree_size: int) -> Any:
        root = self._anchors.get((log_id, tree_size))
        if root is None:
            return None
        return SimpleNamespace(
            root=root, block_number=BLOCK, anchorer="0xA", timestamp=1_740_000_002
        )

    def member(self, account: str) -> Any:
        return SimpleNamespace(key_fingerprint=self._fp)

    def was_active_at(self, account: str, role: Any, block_number: int) -> bool:
        return True

    def transaction_receipt(self, tx_hash: str) -> Any:
        return {"status": 1, "blockNumber": BLOCK, "to": CONTRACT} if tx_hash == TX else None


def make_notice(items: list[Material], **changes: Any) -> Notice:
    volumes = sorted({m.volume_id for m in items})
    notice = Notice(
        transfer_id="tr-0001",
        transfer_no="组转字〔2025〕12号",
        cadre=blind_id(b"s" * 32, "110101199001011234"),
        volumes=tuple(
            VolumeEntry(
                v,
                VolumeKind.COPY if v == "vol-copy" else VolumeKind.ORIGINAL,
                sum(1 for m in items if m.volume_id == v),
            )
            for v in volumes
        ),
        materials=tuple(
            CatalogueEntry(m.material_id, m.volume_id, m.category, sm3(m.plain).hex())
            for m in items
        ),
        reason="干部调动",
        sender=UnitRef("unit-a", "甲市委组织部档案中心"),
        receiver=UnitRef("unit-b", "乙市委组织部档案中心"),
        created_at=T0,
        deadline=datetime(2025, 5, 1, 8, 0, 0, tzinfo=UTC),
        classification=Classification.CONFIDENTIAL,
    )
    return replace(notice, **changes) if changes else notice


def envelope_entry(m: Material, receiver: SM2PrivateKey, evidence: bool) -> EnvelopeEntry:
    return EnvelopeEntry(
        material_id=m.material_id, volume_id=m.volume_id, category=m.category, seq_no=1,
        pages=1, title=f"材料 {m.material_id}", formation_date=date(2020, 1, 2),
        media_type=m.media_type, size=len(m.plain), sm3=sm3(m.plain).hex(),
        cid=compute_cid(m.sealed), sealed_size=len(m.sealed),
        wrapped_key=wrap_key(m.data_key, receiver.public_key).ciphertext, evidence=evidence,
    )  # fmt: skip


def build(
    tmp: Path,
    parties: Parties,
    items: list[Material] | None = None,
    *,
    notice: Notice | None = None,
    with_evidence: bool = True,
    entries: list[EnvelopeEntry] | None = None,
    name: str = "bag",
    evidence: dict[str, EvidenceReceipt] | None = None,
) -> Built:
    items = materials() if items is None else items
    if not items or not items[0].sealed:
        seal_all(items)
    evidence = evidence or evidence_for(items, parties.log)
    notice = notice or make_notice(items)
    entries = entries or [envelope_entry(m, parties.receiver, with_evidence) for m in items]
    envelope = Envelope(
        notice.transfer_id,
        notice.receiver.code,
        parties.receiver.public_key.fingerprint(),
        tuple(entries),
    )
    by_id = {m.material_id: m for m in items}
    package = [
        PackageMaterial(
            e,
            by_id[e.material_id].sealed,
            canonical_json(evidence[e.material_id].to_json()) if e.evidence else None,
        )
        for e in entries
    ]
    written = write_bag(tmp / name, notice, envelope, package, bagging_date=date(2025, 3, 2))
    dispatch = sign_dispatch(
        parties.sender, notice=notice, package_root=written.package_root,
        deadline=datetime(2025, 5, 1, tzinfo=UTC), now=T0,
    )  # fmt: skip
    return Built(notice, envelope, items, evidence, written, dispatch)
