"""The receiving unit's verification of a transfer package, mapped to 四性.

:func:`verify_package` reads the opened bag and judges every material of the
notice. Each sealed file is read once (:func:`open_material`): the same chunks feed the
payload manifests' digests, the CID and the SM4-GCM decryption with the plaintext's SM3,
on a few worker threads; :func:`verify_material` is the pure per-material judgement of
what that read established. Neither raises because a material is bad: every failure is
recorded as a :class:`Check` in the column of the property it violates (design §3
"Transfer"):

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

import os
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

from notary.anchoring import AnchorReader
from notary.canonical import CanonicalJSONError
from notary.crypto import Decrypter, SM2PublicKey
from notary.entries import check_describes
from notary.envelope import WrappedKey, open_sealed, unwrap_key
from notary.errors import VerificationError
from notary.receipts import EvidenceReceipt, parse_receipt
from notary.store.cid import cid_str
from notary.store.unixfs import FileDagBuilder, chunks
from notary.verifier import ReceiptVerifier, TrustPolicy
from transfer.workflow.acts import ActKind, SignedAct, verify_act
from transfer.workflow.bag_reader import Bag, FileCheck, FileState
from transfer.workflow.envelope import EnvelopeEntry, evidence_path, material_path
from transfer.workflow.errors import ActError, PackageError
from transfer.workflow.notice import CatalogueEntry
from transfer.workflow.package import ManifestDigests
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
    anchorers: frozenset[str] | None = None,
) -> list[Check]:
    if problem is not None:
        return [_fail(A, "log-proof", problem)]
    if receipt is None:
        if policy.require_evidence:
            return [_fail(A, "log-proof", "no evidence receipt from the sender's log")]
        return []
    receipts = ReceiptVerifier(
        TrustPolicy(
            log_keys=None if trusted_log_keys is None else tuple(trusted_log_keys),
            require_anchor=False,
            anchorers=anchorers,
        ),
        chain,
    )
    checks: list[Check] = []
    try:
        receipts.check_offline(receipt, material_sm3=bytes.fromhex(catalogue.sm3))
        check_describes(receipt.entry, material_id=catalogue.material_id, cid=entry.cid)
        checks.append(_ok(A, "log-proof", f"leaf {receipt.leaf_index}"))
    except VerificationError as e:
        return [_fail(A, "log-proof", f"{e.check}: {e}")]
    if policy.require_anchor:
        try:
            anchor = receipts.check_anchor(receipt)
            checks.append(_ok(A, "anchor", f"block {anchor.block_number}"))
        except VerificationError as e:
            checks.append(_fail(A, "anchor", f"{e.check}: {e}"))
        except Exception as e:  # a chain outage must not abort the other materials
            checks.append(_skip(A, "anchor", f"chain unavailable: {type(e).__name__}: {e}"))
    return checks


@dataclass(frozen=True, slots=True)
class OpenedMaterial:
    """What one read of a material's sealed file established (see :func:`open_material`).

    The plaintext itself is not kept: its size and usability verdict are all the
    judgement needs, so memory holds at most the materials being read.
    """

    file_check: FileCheck
    cid: str | None = None  # None: the file is absent
    key_error: VerificationError | None = None
    envelope_error: VerificationError | None = None  # the key unwrapped, SM4-GCM did not open
    plain_size: int | None = None  # set when the envelope opened
    usability_problem: str | None = None


def _read_once(
    source: BinaryIO | bytes,
    digests: ManifestDigests,
    dag: FileDagBuilder,
) -> Iterator[bytes]:
    """The sealed bytes in Kubo's 256 KiB chunks, each fed to the manifest digests and
    the CID builder as it passes on its way to the decryption."""
    for chunk in chunks(source):
        digests.update(chunk)
        dag.add(chunk)
        yield chunk


def open_material(
    entry: EnvelopeEntry,
    source: BinaryIO | bytes | None,
    judge: Callable[[dict[str, str], int], FileCheck],
    key: bytes | VerificationError,
) -> OpenedMaterial:
    """Read a sealed file once: manifest digests (judged by ``judge``), CID, and — when
    the data key unwrapped — SM4-GCM decryption with the plaintext's SM3, from the same
    chunks. ``source`` None: the file is absent. Never raises for a bad material.

    Runs on worker threads (hashlib and the cipher release the GIL on large buffers).
    """
    if source is None:
        return OpenedMaterial(FileCheck(material_path(entry.material_id), FileState.MISSING))
    digests, dag = ManifestDigests(), FileDagBuilder()
    stream = _read_once(source, digests, dag)
    key_error = key if isinstance(key, VerificationError) else None
    envelope_error: VerificationError | None = None
    plain: bytes | None = None
    if not isinstance(key, VerificationError):
        try:
            # The AAD binds material id and declared SM3: a tag that verifies proves both.
            plain = open_sealed(stream, key, entry.material_id, bytes.fromhex(entry.sm3))
        except VerificationError as e:
            envelope_error = e
    for _ in stream:  # what the cipher did not read still counts for manifests and CID
        pass
    file_check = judge(digests.hexdigests(), digests.size)
    cid = cid_str(dag.finish())
    if plain is None:
        return OpenedMaterial(file_check, cid, key_error, envelope_error)
    problem = check_usability(plain, entry.media_type)
    return OpenedMaterial(file_check, cid, None, None, len(plain), problem)


def unwrap(wrapped: WrappedKey, holder: Decrypter) -> bytes | VerificationError:
    """The data key, or why it does not unwrap."""
    try:
        return unwrap_key(wrapped, holder)
    except VerificationError as e:
        return e


def verify_material(
    catalogue: CatalogueEntry,
    entry: EnvelopeEntry | None,
    opened: OpenedMaterial | None,
    *,
    evidence: EvidenceReceipt | None = None,
    evidence_problem: str | None = None,
    policy: VerifyPolicy = VerifyPolicy(),
    trusted_log_keys: Sequence[SM2PublicKey] | None = None,
    chain: AnchorReader | None = None,
    anchorers: frozenset[str] | None = None,
) -> MaterialResult:
    """Judge one material of the notice from what its read established; never raises
    for a bad material. ``opened`` None: the envelope holds no entry or key for it."""
    mid = catalogue.material_id
    if entry is None or opened is None:
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
    file_check = opened.file_check
    if opened.cid is None or file_check.state is FileState.MISSING:
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
    if opened.cid != entry.cid:
        checks.append(
            _fail(A, "cid", f"the sealed bytes have CID {opened.cid}, the envelope {entry.cid}")
        )
    else:
        checks.append(_ok(A, "cid"))
    checks += _evidence_checks(
        evidence, evidence_problem, catalogue, entry,
        policy=policy, trusted_log_keys=trusted_log_keys, chain=chain, anchorers=anchorers,
    )  # fmt: skip

    if opened.key_error is not None:
        checks += [
            _fail(S, "key-unwrap", str(opened.key_error)),
            _skip(A, "content-sm3", "content unavailable: the data key does not unwrap"),
            _skip(C, "size", "content unavailable"),
            _skip(U, "opens", "content unavailable"),
        ]
        return MaterialResult(mid, tuple(checks))
    checks.append(_ok(S, "key-unwrap"))
    if opened.envelope_error is not None or opened.plain_size is None:
        checks += [
            _fail(S, "gcm-tag", str(opened.envelope_error)),
            _skip(A, "content-sm3", "content unavailable: SM4-GCM did not open"),
            _skip(C, "size", "content unavailable"),
            _skip(U, "opens", "content unavailable"),
        ]
        return MaterialResult(mid, tuple(checks))
    checks += [_ok(S, "gcm-tag"), _ok(A, "content-sm3")]
    if opened.plain_size != entry.size:
        checks.append(
            _fail(C, "size", f"{opened.plain_size} bytes, the envelope says {entry.size}")
        )
    else:
        checks.append(_ok(C, "size"))
    if opened.usability_problem is None:
        checks.append(_ok(U, "opens", entry.media_type))
    else:
        checks.append(
            _fail(U, "opens", f"does not open as {entry.media_type}: {opened.usability_problem}")
        )
    return MaterialResult(mid, tuple(checks))


def _load_evidence(
    bag: Bag, entry: EnvelopeEntry, measured: dict[str, FileCheck]
) -> tuple[EvidenceReceipt | None, str | None]:
    rel = evidence_path(entry.material_id)
    if not entry.evidence:
        return None, None
    state = measured[rel] = bag.check_payload(rel)
    if state.state is FileState.MISSING:
        return None, f"{rel} is absent"
    if state.state is FileState.ALTERED:
        return None, f"{rel} was altered in transit: {state.detail}"
    try:
        return parse_receipt(bag.read_file(rel)), None
    except (VerificationError, CanonicalJSONError, UnicodeDecodeError, PackageError) as e:
        return None, f"{rel} is not a valid evidence receipt: {e}"


def _open_in_bag(bag: Bag, entry: EnvelopeEntry, key: bytes | VerificationError) -> OpenedMaterial:
    rel = material_path(entry.material_id)
    source = bag.open_payload(rel)
    if source is None:
        return open_material(entry, None, partial(bag.judge_payload, rel), key)
    with source:
        return open_material(entry, source, partial(bag.judge_payload, rel), key)


# Materials read at once. Two cores: the main thread unwraps keys and checks log proofs
# and anchors while the workers decrypt and hash; a few more wait queued, so memory
# holds a handful of plaintexts whatever the size of the volume.
WORKERS = max(1, min(2, os.cpu_count() or 1))


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
    anchorers: frozenset[str] | None = None,
    workers: int = WORKERS,
) -> VerificationReport:
    """Judge every material of the bag's notice, and the package as a whole.

    Evidence is checked by one :class:`~notary.verifier.ReceiptVerifier`: pinned to
    ``trusted_log_keys``, or (None) bound by the chain's member registry, and then only
    anchors made by ``anchorers`` count (a peer centre's account).

    ``evidence`` (by material id) overrides the receipts carried in the bag, e.g. newer
    ones fetched from the sender's deployment once their checkpoints are anchored.
    Every payload file is read once. The holder's key and the chain reader are used
    from the calling thread only.
    """
    if policy.require_anchor and policy.require_evidence and chain is None:
        raise ValueError("the policy requires on-chain anchors: pass a chain reader")
    notice, envelope = bag.notice, bag.envelope
    by_id = envelope.by_id()
    measured: dict[str, FileCheck] = {}
    materials: list[MaterialResult] = []

    def judge(
        c: CatalogueEntry, entry: EnvelopeEntry | None, opened: OpenedMaterial | None
    ) -> None:
        receipt: EvidenceReceipt | None = None
        problem: str | None = None
        if entry is not None and opened is not None:
            measured[opened.file_check.path] = opened.file_check
            if evidence is not None and c.material_id in evidence:
                receipt = evidence[c.material_id]
            else:
                receipt, problem = _load_evidence(bag, entry, measured)
        result = verify_material(
            c, entry, opened, evidence=receipt, evidence_problem=problem, policy=policy,
            trusted_log_keys=trusted_log_keys, chain=chain, anchorers=anchorers,
        )  # fmt: skip
        materials.append(result)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="verify")
    try:
        queue: deque[tuple[CatalogueEntry, EnvelopeEntry | None, Future[OpenedMaterial] | None]]
        queue = deque()
        for c in notice.materials:
            entry = by_id.get(c.material_id)
            future = None
            if entry is not None:
                key = unwrap(envelope.wrapped(entry), holder)
                future = pool.submit(_open_in_bag, bag, entry, key)
            queue.append((c, entry, future))
            while len(queue) > 2 * workers:
                c0, e0, f0 = queue.popleft()
                judge(c0, e0, None if f0 is None else f0.result())
        while queue:
            c0, e0, f0 = queue.popleft()
            judge(c0, e0, None if f0 is None else f0.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    report = bag.payload_report(measured)
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
    return VerificationReport(
        notice.transfer_id, bag.package_root, tuple(materials), tuple(transfer)
    )
