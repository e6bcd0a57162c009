"""A small notarised world to tamper with, and the four detectors that may notice.

The world: one embedded deployment, units U1 (holder) and U2, one volume (leaf 0), two
materials A (leaf 1) and B (leaf 2), each anchored in its own checkpoint (sizes 2 and
3), and A's evidence receipt as U1 received it. Anchoring is driven by hand
(``anchor()``), so every tree size is known.

The detectors, each answering "which check fired" (``None``: nothing noticed):

- ``read`` — ``GET /v1/materials/{id}/content``: 409 whose problem ``type`` names the check;
- ``verify`` — ``POST /v1/verify``: by the material's true SM3 (``found: false`` or a
  problem), then the receipt it returns (or the one the holder kept) checked again.
  Once it has served a material's anchored proof, it answers from that verified cache;
- ``audit`` — :func:`notary.audit.audit_materials` over every material, with receipts
  assembled from the database *without* the service's own checks (an auditor's tool),
  :func:`notary.audit.audit_custody` over every volume's custody records (read by
  ``transfer.services.custody_audit``, as ``notary audit`` reads them) and
  :func:`notary.audit.audit_records` over the read log and transfer events
  (``transfer.services.record_audit``), the chain included; findings about material A
  (its reads included), the world's volume or its transfer count;
- ``provenance`` — ``GET /v1/volumes/{id}/provenance``: a custody or read item flagged
  as not verifying (the check it names);
- ``timeline`` — ``GET /v1/transfers/{id}/timeline`` when a case made a transfer: a
  step flagged as not verifying;
- ``monitor`` — :func:`notary.audit.audit_checkpoints` over the anchored checkpoints,
  consistency proofs from the stored log and roots from the chain.

An HTTP 5xx from the service is never a detection: it is recorded as such and fails
the battery (an integrity failure must be a named refusal, never an incident).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.audit import (
    AUTHENTICITY,
    AuditItem,
    Problem,
    Report,
    audit_checkpoints,
    audit_custody,
    audit_materials,
    audit_records,
)
from notary.audit import new_report as new_audit_report
from notary.checkpoint import SignedCheckpoint, parse_signed_checkpoint
from notary.crypto import SM2PublicKey, sm3
from notary.deployment import Deployment
from notary.envelope import WrappedKey
from notary.errors import VerificationError
from notary.log.merkle import consistency_proof
from notary.reader import MaterialRecord
from notary.receipts import EvidenceReceipt
from tests._support import notary_api as n
from tests._support.api import Cast
from transfer.api.state import AppState
from transfer.db.models import (
    Checkpoint,
    CheckpointStatus,
    Material,
    MaterialKey,
    Unit,
    Volume,
)
from transfer.db.treestore import DbTreeStorage
from transfer.services.anchoring import AnchoringWorker
from transfer.services.custody_audit import volume_custody
from transfer.services.receipts import stored_receipt
from transfer.services.record_audit import logged_records
from transfer.services.tree_check import check_stored_tree

Detector = str  # "read" | "verify" | "audit" | "provenance" | "monitor" | "package-open" | …


@dataclass
class Detection:
    """One row of the tamper-detection table."""

    target: str
    tamper: str
    found: dict[Detector, str] = field(default_factory=dict)  # detector -> check
    expected: tuple[Detector, ...] = ()

    @property
    def detected(self) -> bool:
        return bool(self.found) and not any(v.startswith("HTTP 5") for v in self.found.values())


DETECTIONS: list[Detection] = []


def format_table(rows: list[Detection]) -> str:
    header = "| target | tamper | detected by (check) |\n|---|---|---|"
    lines = [
        f"| {r.target} | {r.tamper} | "
        + (", ".join(f"{d} (`{c}`)" for d, c in r.found.items()) or "**NOT DETECTED**")
        + " |"
        for r in rows
    ]
    total = sum(r.detected for r in rows)
    return "\n".join([header, *lines, f"\n{total}/{len(rows)} tamperings detected"])


def flip_hex(text: str, at: int = 0) -> str:
    """The same text with one hex digit changed (still well-formed hex)."""
    c = text[at]
    return text[:at] + ("0" if c != "0" else "1") + text[at + 1 :]


def flip_byte(data: bytes, at: int | None = None, mask: int = 0x01) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]


@dataclass
class World:
    client: TestClient
    cast: Cast
    deployment: Deployment
    state: AppState
    volume: str
    a: dict[str, Any]  # upload response of A
    b: dict[str, Any]
    content_a: bytes
    receipt_a: dict[str, Any]  # A's anchored receipt, as the holder keeps it
    transfer: str | None = None  # the transfer_id of a transfer a case created

    @property
    def worker(self) -> AnchoringWorker:
        ctx = self.state.notary
        assert ctx is not None
        return AnchoringWorker(
            self.state.engine, self.state.sessions, self.state.write_sessions,
            signer=ctx.deployment.log_key, origin=ctx.origin, chain=ctx.deployment.chain,
            interval_s=1.0, max_entries=1000,
        )  # fmt: skip

    def anchor(self) -> None:
        worker = self.worker
        try:
            worker.run_once(force=True)
        finally:
            worker.stop()

    def session(self) -> Session:
        return self.state.write_sessions()

    # --- the detectors --------------------------------------------------------------

    def read(self, material_id: str | None = None) -> str | None:
        mid = material_id or self.a["id"]
        r = self.client.get(
            f"/v1/materials/{mid}/content",
            params={"purpose": "审核"},
            headers=self.cast.operator.headers,
        )
        if r.status_code == 200:
            # The read is logged (利用登记); anchor it as the worker would within its
            # interval, so the audit does not find a not-yet-anchored read afterwards.
            self.anchor()
            return None
        return _problem_check(r)

    def verify(self, receipt: dict[str, Any] | None = None) -> str | None:
        h = self.cast.operator.headers
        if receipt is None:
            r = self.client.post("/v1/verify", json={"sm3": sm3(self.content_a).hex()}, headers=h)
            if r.status_code != 200:
                return _problem_check(r)
            body = r.json()
            if not body["found"]:
                return "found=false"
            regs = [x for x in body["registrations"] if x["material_id"] == self.a["id"]]
            if not regs or regs[0]["receipt"] is None:
                return "registration missing"
            receipt = regs[0]["receipt"]
        r = self.client.post(
            "/v1/verify", json={"receipt": receipt, "sm3": sm3(self.content_a).hex()}, headers=h
        )
        if r.status_code == 200 and r.json()["this_log"] and r.json()["anchored"]:
            return None
        if r.status_code == 200:
            return "not this log / not anchored"
        return _problem_check(r)

    def audit(self, subject: str | None = None) -> str | None:
        ctx = self.state.notary
        assert ctx is not None
        report = new_audit_report("security battery")
        with self.state.sessions() as s:
            items, custodians = _audit_items(s, report, ctx.log_public_key)
            custody = list(
                volume_custody(
                    s, None, secret=self.state.blinding_secret, log_key=ctx.log_public_key,
                    centre_account=ctx.deployment.descriptor.chain_account,
                )
            )  # fmt: skip
            records = list(logged_records(s, None, log_key=ctx.log_public_key))
        audit_materials(
            items,
            store=ctx.store,
            holder=lambda r: ctx.unit_key(custodians[r.material_id]),
            log_keys=[ctx.log_public_key],
            chain=ctx.deployment.chain,
            report=report,
        )
        audit_custody(
            custody, log_keys=[ctx.log_public_key], chain=ctx.deployment.chain, report=report
        )
        audit_records(
            records, log_keys=[ctx.log_public_key], chain=ctx.deployment.chain, report=report
        )
        # Findings about the material (its reads included), or about the world's volume
        # and transfer; the shared database holds earlier cases' worlds too.
        wanted = subject or self.a["id"]
        ours = (self.volume,) + (() if self.transfer is None else (f"转递 {self.transfer}",))
        checks = [
            p.check
            for p in report.problems
            if p.subject.startswith(wanted) or (subject is None and p.subject.startswith(ours))
        ]
        return ",".join(dict.fromkeys(checks)) or None

    def provenance(self) -> str | None:
        r = self.client.get(
            f"/v1/volumes/{self.volume}/provenance", headers=self.cast.operator.headers
        )
        if r.status_code >= 500:
            return f"HTTP {r.status_code}"
        if r.status_code != 200:
            return None  # not held by the caller (any more): nothing shown, nothing to flag
        flagged = [
            i["verification"]["check"]
            for i in r.json()["items"]
            if "verification" in i and not i["verification"]["ok"]
        ]
        return ",".join(dict.fromkeys(flagged)) or None

    def timeline(self) -> str | None:
        """The transfer timeline (if a case made a transfer): a step flagged as not verifying."""
        if self.transfer is None:
            return None
        r = self.client.get(
            f"/v1/transfers/{self.transfer}/timeline", headers=self.cast.operator.headers
        )
        if r.status_code >= 500:
            return f"HTTP {r.status_code}"
        assert r.status_code == 200, r.text
        flagged = [
            e["verification"]["check"] for e in r.json()["events"] if not e["verification"]["ok"]
        ]
        return ",".join(dict.fromkeys(flagged)) or None

    def monitor(self) -> str | None:
        ctx = self.state.notary
        assert ctx is not None
        chain = ctx.deployment.chain
        report = new_audit_report("log monitor")
        with self.state.sessions() as s:
            cps: list[SignedCheckpoint] = []
            for row in s.scalars(
                select(Checkpoint).where(Checkpoint.status == CheckpointStatus.ANCHORED)
            ):
                try:
                    cps.append(parse_signed_checkpoint(row.body))
                except VerificationError as e:
                    report.problems.append(Problem(AUTHENTICITY, e.check, str(row.tree_size), ""))
            storage = DbTreeStorage(s)

            def chain_root(cp: SignedCheckpoint) -> bytes | None:
                anchor = chain.get_anchor(cp.checkpoint.log_id, cp.checkpoint.tree_size)
                return None if anchor is None else bytes(anchor.root)

            audit_checkpoints(
                cps,
                lambda a, b: consistency_proof(sm3, storage, a, b),
                log_key=ctx.log_public_key,
                chain_root=chain_root,
                report=report,
            )
        return ",".join(dict.fromkeys(p.check for p in report.problems)) or None

    def detect(
        self, *detectors: Callable[[], str | None], names: tuple[Detector, ...]
    ) -> dict[Detector, str]:
        found = {}
        for name, run in zip(names, detectors, strict=True):
            check = run()
            if check is not None:
                found[name] = check
        return found

    def all_detectors(self) -> dict[Detector, str]:
        # Read-only detectors first: a successful read appends a leaf.
        return self.detect(
            self.monitor, self.audit, self.provenance, self.timeline, self.verify, self.read,
            names=("monitor", "audit", "provenance", "timeline", "verify", "read"),
        )  # fmt: skip


def _problem_check(r: Any) -> str | None:
    if r.status_code >= 500:
        return f"HTTP {r.status_code}"
    t = r.json().get("type", "")
    prefix = "urn:archive-notary:problem:verification-"
    if t.startswith(prefix):
        return t.removeprefix(prefix)
    return None  # refused for another reason (404, no key): not a finding about integrity


def _audit_items(
    s: Session, report: Report, log_key: SM2PublicKey
) -> tuple[list[AuditItem], dict[str, str]]:
    """Every material as the database describes it, and the code of its custodian unit.
    As ``notary audit`` of the whole log: the stored tree checked once
    (``tree_check``), a leaf it proves in its checkpoint not proved again by its own
    proof; the cases' detections hold either way (tests/transfer/service/test_tree_check.py)."""
    items, custodians = [], {}
    sizes = s.scalars(
        select(Checkpoint.tree_size).where(Checkpoint.status == CheckpointStatus.ANCHORED)
    )
    tree = check_stored_tree(s, list(sizes))
    for m in s.scalars(select(Material).order_by(Material.leaf_index)):
        volume = s.get(Volume, m.volume_id)
        assert volume is not None
        unit = s.get(Unit, volume.custodian_unit_id)
        assert unit is not None
        custodians[str(m.id)] = unit.code
        # The key wrapped for the custodian (any active one if the custodian has none:
        # the audit then finds it does not open for the custodian).
        key = s.scalars(
            select(MaterialKey)
            .where(MaterialKey.material_id == m.id, MaterialKey.active.is_(True))
            .order_by((MaterialKey.unit_id == volume.custodian_unit_id).desc())
        ).first()
        assert key is not None and m.leaf_index is not None
        record = MaterialRecord(
            str(m.id),
            bytes.fromhex(m.sm3),
            m.cid,
            WrappedKey(bytes.fromhex(key.key_fingerprint), key.wrapped),
        )
        receipt: EvidenceReceipt | VerificationError
        try:
            receipt = stored_receipt(s, m.leaf_index, log_key)
        except VerificationError as e:  # as notary audit does: a finding of the item's
            receipt = e
        proven = isinstance(receipt, EvidenceReceipt) and tree.proven(
            m.leaf_index, receipt.checkpoint.checkpoint
        )
        items.append(AuditItem(record, m.media_type, receipt, label=str(m.id), proven=proven))
    return items, custodians


def build_world(client: TestClient, cast: Cast, deployment: Deployment) -> World:
    state: AppState = client.app.state.notary  # type: ignore[attr-defined]
    assert state.notary is not None
    vol = n.new_volume(client, cast.operator)
    content_a = n.pdf(f"material A {uuid.uuid4()}")
    a = n.upload(client, cast.operator, vol, content_a).json()
    world = World(client, cast, deployment, state, vol, a, {}, content_a, {})
    world.anchor()
    world.b = n.upload(client, cast.operator, vol, n.png(len(DETECTIONS) % 200)).json()
    world.anchor()
    world.receipt_a = n.wait_receipt(client, cast.operator, a["id"], timeout=5)
    assert world.receipt_a["checkpoint"]["checkpoint"]["tree_size"] == 2
    return world
