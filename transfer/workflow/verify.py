"""The receiving unit's verification of a transfer package, mapped to 四性.

:func:`verify_package` reads the opened bag and judges every material of the
notice; :func:`verify_material` is the pure per-material judgement over bytes. Neither
raises because a material is bad: every failure is recorded as a :class:`Check` in
the column of the property it violates (design §3 "Transfer"):

========== =================================================================
真实性      payload manifests (SM3, SHA-256) match; CID of the sealed bytes; the
authenticity plaintext SM3 equals the envelope's, the notice's and the sender's log
           entry (evidence receipt: RFC 9162 inclusion + signed checkpoint) whose
           checkpoint is anchored on chain; the package root is the dispatched one
完整性      every material of the notice is in the package and present; per-volume
completeness and total counts; plaintext size; Payload-Oxum
可用性      the plaintext opens as its declared media type (:mod:`.usability`)
usability
安全性      the data key is wrapped for this unit and unwraps; the SM4-GCM tag
security   verifies (content and AAD intact); the dispatch act's SM2 signature
========== =================================================================

The edges — the receiver's private key (:class:`notary.crypto.Decrypter`), evidence
receipts fetched from the sender's deployment, a chain reader — are injected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from notary.anchoring import AnchorReader, verify_anchor
from notary.canonical import CanonicalJSONError, parse_json
from notary.crypto import Decrypter, SM2PublicKey
from notary.envelope import WrappedKey, open_sealed, unwrap_key
from notary.errors import EntryMismatch, VerificationError
from notary.receipts import EvidenceReceipt, parse_receipt, verify_offline
from notary.store.unixfs import compute_cid
from transfer.workflow.acts import ActKind, SignedAct, verify_act
from transfer.workflow.envelope import EnvelopeEntry, evidence_path, material_path
from transfer.workflow.errors import ActError, PackageError
from transfer.workflow.notice import CatalogueEntry
from transfer.workflow.package import Bag, FileCheck, FileState
from transfer.workflow.results import Check, MaterialResult, Property, Status, VerificationReport
from transfer.workflow.usability import check_usability

A, C, U, S = Property.AUTHENTICITY, Property.COMPLETENESS, Property.USABILITY, Property.SECURITY


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    """What the receiver requires beyond the package itself."""

    require_evidence: bool = True  # every material needs the sender's log proof
    require_anchor: bool = True  # ... and its checkpoint anchored on chain


def _ok(prop: Property, name: str, detail: str = "") -> Check:
    return Check(prop, name, Status.PASS, detail)


def _fail(prop: Property, name: str, detail: str) -> Check:
    return Check(prop, name, Status.FAIL, detail)


def _skip(prop: Property, name: str, detail: str) -> Check:
    return Check(prop, name, Status.SKIPPED, detail)


def _evidence_checks(
    receipt: EvidenceReceipt | None,
    problem: str | None,
    catalogue: CatalogueEntry,
    entry: EnvelopeEntry,
    *,
    policy: VerifyPolicy,
    trusted_log_keys: Sequence[SM2PublicKey] | None,
    chain: AnchorReader | None,
) -> list[Check]:
    if problem is not None:
        return [_fail(A, "log-proof", problem)]
    if receipt is None:
        if policy.require_evidence:
            return [_fail(A, "log-proof", "no evidence receipt from the sender's log")]
        return []
    checks: list[Check] = []
    try:
        verify_offline(
            receipt,
            material_sm3=bytes.fromhex(catalogue.sm3),
            trusted_log_keys=None if trusted_log_keys is None else list(trusted_log_keys),
        )
        logged = receipt.entry
        if logged.get("material_id") != catalogue.material_id:
            raise EntryMismatch(f"the log entry is of material {logged.get('material_id')}")
        if logged.get("cid") != entry.cid:
            raise EntryMismatch(f"the log entry registered CID {logged.get('cid')}")
        checks.append(_ok(A, "log-proof", f"leaf {receipt.leaf_index}"))
    except VerificationError as e:
        return [_fail(A, "log-proof", f"{e.check}: {e}")]
    if policy.require_anchor:
        assert chain is not None  # verify_package refuses the combination up front
        try:
            anchor = verify_anchor(receipt, chain)
            checks.append(_ok(A, "anchor", f"block {anchor.block_number}"))
        except VerificationError as e:
            checks.append(_fail(A, "anchor", f"{e.check}: {e}"))
        except Exception as e:  # a chain outage must not abort the other materials
            checks.append(_skip(A, "anchor", f"chain unavailable: {type(e).__name__}: {e}"))
    return checks


def verify_material(
    catalogue: CatalogueEntry,
    entry: EnvelopeEntry | None,
    wrapped: WrappedKey | None,
    sealed: bytes | None,
    file_check: FileCheck | None,
    *,
    holder: Decrypter,
    evidence: EvidenceReceipt | None = None,
    evidence_problem: str | None = None,
    policy: VerifyPolicy = VerifyPolicy(),
    trusted_log_keys: Sequence[SM2PublicKey] | None = None,
    chain: AnchorReader | None = None,
) -> MaterialResult:
    """Judge one material of the notice; never raises for a bad material."""
    mid = catalogue.material_id
    if entry is None or wrapped is None:
        absent = "the material is not in the package"
        return MaterialResult(
            mid,
            (
                _fail(C, "listed", "in the notice but not in the package's envelope"),
                _skip(A, "content", absent),
                _skip(U, "opens", absent),
                _skip(S, "envelope", absent),
            ),
        )
    checks: list[Check] = [_ok(C, "listed")]
    if (entry.volume_id, entry.category) != (catalogue.volume_id, catalogue.category):
        checks.append(_fail(C, "catalogue", "volume or category differs from the notice"))
    if entry.sm3 != catalogue.sm3:
        checks.append(
            _fail(A, "sm3", f"the envelope says SM3 {entry.sm3}, the notice {catalogue.sm3}")
        )
    if sealed is None or file_check is None or file_check.state is FileState.MISSING:
        absent = "the sealed file is absent"
        checks += [
            _fail(C, "present", absent),
            _skip(A, "content", absent),
            _skip(U, "opens", absent),
            _skip(S, "envelope", absent),
        ]
        return MaterialResult(mid, tuple(checks))
    checks.append(_ok(C, "present"))
    if file_check.state is FileState.ALTERED:
        checks.append(_fail(A, "manifest", f"altered in transit: {file_check.detail}"))
    else:
        checks.append(_ok(A, "manifest"))
    cid = compute_cid(sealed)
    if cid != entry.cid:
        checks.append(_fail(A, "cid", f"the sealed bytes have CID {cid}, the envelope {entry.cid}"))
    else:
        checks.append(_ok(A, "cid"))
    checks += _evidence_checks(
        evidence, evidence_problem, catalogue, entry,
        policy=policy, trusted_log_keys=trusted_log_keys, chain=chain,
    )  # fmt: skip

    try:
        key = unwrap_key(wrapped, holder)
        checks.append(_ok(S, "key-unwrap"))
    except VerificationError as e:
        checks += [
            _fail(S, "key-unwrap", str(e)),
            _skip(A, "content-sm3", "content unavailable: the data key does not unwrap"),
            _skip(C, "size", "content unavailable"),
            _skip(U, "opens", "content unavailable"),
        ]
        return MaterialResult(mid, tuple(checks))
    try:
        # The AAD binds material id and declared SM3: a tag that verifies proves both.
        plain = open_sealed([sealed], key, mid, bytes.fromhex(entry.sm3))
        checks += [_ok(S, "gcm-tag"), _ok(A, "content-sm3")]
    except VerificationError as e:
        checks += [
            _fail(S, "gcm-tag", str(e)),
            _skip(A, "content-sm3", "content unavailable: SM4-GCM did not open"),
            _skip(C, "size", "content unavailable"),
            _skip(U, "opens", "content unavailable"),
        ]
        return MaterialResult(mid, tuple(checks))
    if len(plain) != entry.size:
        checks.append(_fail(C, "size", f"{len(plain)} bytes, the envelope says {entry.size}"))
    else:
        checks.append(_ok(C, "size"))
    problem = check_usability(plain, entry.media_type)
    if problem is None:
        checks.append(_ok(U, "opens", entry.media_type))
    else:
        checks.append(_fail(U, "opens", f"does not open as {entry.media_type}: {problem}"))
    return MaterialResult(mid, tuple(checks))


def _load_evidence(bag: Bag, entry: EnvelopeEntry) -> tuple[EvidenceReceipt | None, str | None]:
    rel = evidence_path(entry.material_id)
    if not entry.evidence:
        return None, None
    state = bag.payload_report().files.get(rel)
    if state is None or state.state is FileState.MISSING:
        return None, f"{rel} is absent"
    if state.state is FileState.ALTERED:
        return None, f"{rel} was altered in transit: {state.detail}"
    try:
        return parse_receipt(parse_json(bag.read_file(rel))), None
    except (VerificationError, CanonicalJSONError, UnicodeDecodeError, PackageError) as e:
        return None, f"{rel} is not a valid evidence receipt: {e}"


def verify_package(
    bag: Bag,
    *,
    holder: Decrypter,
    dispatch: SignedAct,
    sender_key: SM2PublicKey,
    evidence: Mapping[str, EvidenceReceipt] | None = None,
    policy: VerifyPolicy = VerifyPolicy(),
    trusted_log_keys: Sequence[SM2PublicKey] | None = None,
    chain: AnchorReader | None = None,
) -> VerificationReport:
    """Judge every material of the bag's notice, and the package as a whole.

    ``evidence`` (by material id) overrides the receipts carried in the bag, e.g. newer
    ones fetched from the sender's deployment once their checkpoints are anchored.
    """
    if policy.require_anchor and policy.require_evidence and chain is None:
        raise ValueError("the policy requires on-chain anchors: pass a chain reader")
    notice, envelope = bag.notice, bag.envelope
    report = bag.payload_report()
    transfer: list[Check] = []

    # 安全性 / 真实性 of the package as a whole: the dispatch act and what it binds.
    try:
        verify_act(
            dispatch, kind=ActKind.DISPATCH, signer_key=sender_key, unit=notice.sender.code,
            transfer_id=notice.transfer_id, package_root=bag.package_root,
        )  # fmt: skip
        transfer.append(_ok(S, "dispatch-signature"))
    except ActError as e:
        transfer.append(_fail(S, "dispatch-signature", f"{type(e).__name__}: {e}"))
    if dispatch.body.get("notice") == notice.to_json():
        transfer.append(_ok(A, "notice"))
    else:
        transfer.append(_fail(A, "notice", "the bag's notice differs from the signed dispatch"))
    if envelope.recipient_key == holder.public_key.fingerprint():
        transfer.append(_ok(S, "recipient"))
    else:
        transfer.append(_fail(S, "recipient", "the data keys are wrapped for another unit's key"))

    # 完整性 of the package as a whole.
    listed = {c.material_id for c in notice.materials}
    extra = [e.material_id for e in envelope.materials if e.material_id not in listed]
    if extra:
        transfer.append(_fail(C, "extra", f"materials not in the notice: {extra[:10]}"))
    per_volume = Counter(e.volume_id for e in envelope.materials if e.material_id in listed)
    wrong = [
        f"{v.volume_id} ({v.kind.value}): {per_volume.get(v.volume_id, 0)} of {v.material_count}"
        for v in notice.volumes
        if per_volume.get(v.volume_id, 0) != v.material_count
    ]
    if wrong:
        transfer.append(_fail(C, "counts", "; ".join(wrong)))
    else:
        transfer.append(_ok(C, "counts", f"{notice.material_count} materials"))
    if report.oxum_ok:
        transfer.append(_ok(C, "payload-oxum"))
    else:
        transfer.append(_fail(C, "payload-oxum", report.oxum_detail))

    by_id = envelope.by_id()
    materials: list[MaterialResult] = []
    for c in notice.materials:
        entry = by_id.get(c.material_id)
        sealed: bytes | None = None
        file_check: FileCheck | None = None
        receipt: EvidenceReceipt | None = None
        problem: str | None = None
        if entry is not None:
            rel = material_path(entry.material_id)
            file_check = report.files.get(rel)
            if file_check is not None and file_check.state is not FileState.MISSING:
                sealed = bag.read_file(rel)
            if evidence is not None and c.material_id in evidence:
                receipt = evidence[c.material_id]
            else:
                receipt, problem = _load_evidence(bag, entry)
        materials.append(
            verify_material(
                c,
                entry,
                None if entry is None else envelope.wrapped(entry),
                sealed,
                file_check,
                holder=holder,
                evidence=receipt,
                evidence_problem=problem,
                policy=policy,
                trusted_log_keys=trusted_log_keys,
                chain=chain,
            )
        )
    return VerificationReport(
        notice.transfer_id, bag.package_root, tuple(materials), tuple(transfer)
    )
