"""Signed legal acts of a transfer: dispatch (转出), receipt (回执), rejection (退回).

Each act is an SM2 signature (GB/T 32918, ``notary.crypto.Signer``) over the RFC 8785
canonical JSON of its body (``notary.canonical``). The document form is::

    {"format": "archive-notary/transfer-act/v1",
     "body": {...}, "signer_key": "<64-byte SM2 public key, hex>", "signature": "<DER, hex>"}

Every body binds ``act`` (its kind), ``transfer_id``, ``package_root``, the signing
``unit`` and its key fingerprint, ``signed_at`` and a random ``nonce``; receipts and
rejections also bind the SM3 of the dispatch act they answer. An optional ``handler``
names the unit's 经办人 who made the act (absent when the key that asked for it was
issued without a name, so that acts from before the field are unchanged byte for byte).
So a signature can be neither moved to another body (forged), nor to another transfer
(cross-transfer), nor to another dispatch of the same transfer (replayed) —
:func:`verify_act` tells the three apart. The exact bodies are specified in
``docs/transfer-format.md`` §4.

``act_hash`` = SM3(canonical JSON of the whole signed document) is what goes on chain
(``receipt_hash`` / ``reason_hash`` of ``ArchiveNotary.receiveVolume/rejectVolume``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from notary.canonical import CanonicalJSONError, canonical_json, parse_json
from notary.crypto import KeyFormatError, SignatureError, Signer, SM2PublicKey, sm3
from transfer.workflow import _fields as f
from transfer.workflow.errors import (
    ActFormatError,
    CrossTransferAct,
    ForgedSignature,
    NoticeError,
    ReplayedAct,
)
from transfer.workflow.notice import MAX_MATERIALS, Notice, parse_notice
from transfer.workflow.results import Check, Property, Status, VerificationReport, parse_report
from transfer.workflow.times import format_utc

FORMAT = "archive-notary/transfer-act/v1"
MAX_ACT_BYTES = 64 << 20
MAX_REASONS = 1000
_NONCE = re.compile(r"^[0-9a-f]{32}$")


class ActKind(StrEnum):
    DISPATCH = "transfer.dispatch"
    RECEIPT = "transfer.receipt"
    REJECTION = "transfer.rejection"


_COMMON = {
    "act", "v", "transfer_id", "package_root", "unit", "signer_key_fingerprint", "signed_at",
    "nonce",
}  # fmt: skip
# Optional in every body (v1 stays v1: an act without it is exactly the act signed before
# the field existed, and verifies byte for byte).
_OPTIONAL = frozenset({"handler"})
MAX_HANDLER = 200
_BODY_FIELDS = {
    ActKind.DISPATCH: _COMMON | {"notice", "deadline"},
    ActKind.RECEIPT: _COMMON | {"dispatch", "accepted", "results"},
    ActKind.REJECTION: _COMMON | {"dispatch", "reasons", "results"},
}


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a rejection: a code, optionally the material and property concerned."""

    code: str
    detail: str
    material_id: str | None = None
    property: Property | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "detail": self.detail,
            "material_id": self.material_id,
            "property": None if self.property is None else self.property.value,
        }


@dataclass(frozen=True, slots=True)
class SignedAct:
    kind: ActKind
    body: dict[str, Any]
    signer_key: SM2PublicKey
    signature: bytes

    # --- fields every act binds
    @property
    def transfer_id(self) -> str:
        return str(self.body["transfer_id"])

    @property
    def package_root(self) -> bytes:
        return bytes.fromhex(self.body["package_root"])

    @property
    def unit(self) -> str:
        return str(self.body["unit"])

    @property
    def nonce(self) -> str:
        return str(self.body["nonce"])

    @property
    def signed_at(self) -> datetime:
        return f.time(self.body, "signed_at", ActFormatError)

    @property
    def handler(self) -> str | None:
        """The 经办人 named in the act; None when the act names none."""
        v = self.body.get("handler")
        return None if v is None else str(v)

    # --- kind-specific views
    def notice(self) -> Notice:
        self._expect(ActKind.DISPATCH)
        return parse_notice(self.body["notice"])

    def deadline(self) -> datetime:
        self._expect(ActKind.DISPATCH)
        return f.time(self.body, "deadline", ActFormatError)

    def dispatch_hash(self) -> bytes:
        if self.kind is ActKind.DISPATCH:
            raise ActFormatError("a dispatch act answers no dispatch")
        return bytes.fromhex(self.body["dispatch"])

    def report(self) -> VerificationReport | None:
        if self.kind is ActKind.DISPATCH:
            raise ActFormatError("a dispatch act carries no verification results")
        doc = self.body["results"]
        if doc is None:
            return None
        return parse_report(doc, self.transfer_id, self.package_root, max_materials=MAX_MATERIALS)

    @property
    def accepted(self) -> bool:
        self._expect(ActKind.RECEIPT)
        return bool(self.body["accepted"])

    def reasons(self) -> list[Reason]:
        self._expect(ActKind.REJECTION)
        return [_reason(r, f"reasons[{i}]") for i, r in enumerate(self.body["reasons"])]

    def _expect(self, kind: ActKind) -> None:
        if self.kind is not kind:
            raise ActFormatError(f"this is a {self.kind.value} act, not a {kind.value} act")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "body": self.body,
            "signer_key": self.signer_key.raw.hex(),
            "signature": self.signature.hex(),
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


def act_hash(act: SignedAct) -> bytes:
    """SM3 of the canonical signed document: the value anchored on chain."""
    return sm3(act.to_bytes())


# ---------------------------------------------------------------- signing


def _sign(signer: Signer, kind: ActKind, body: dict[str, Any]) -> SignedAct:
    act = SignedAct(kind, body, signer.public_key, signer.sign(canonical_json(body)))
    _check_body(kind, body)  # never hand out an act the parser would refuse
    return act


def _common(
    kind: ActKind, signer: Signer, unit: str, transfer_id: str, package_root: bytes,
    now: datetime, nonce: str | None, handler: str | None,
) -> dict[str, Any]:  # fmt: skip
    body = {
        "act": kind.value,
        "v": 1,
        "transfer_id": transfer_id,
        "package_root": package_root.hex(),
        "unit": unit,
        "signer_key_fingerprint": signer.public_key.fingerprint().hex(),
        "signed_at": format_utc(now),
        "nonce": nonce or os.urandom(16).hex(),
    }
    if handler is not None:
        body["handler"] = handler
    return body


def sign_dispatch(
    signer: Signer,
    *,
    notice: Notice,
    package_root: bytes,
    deadline: datetime,
    now: datetime,
    nonce: str | None = None,
    handler: str | None = None,
) -> SignedAct:
    """The sending unit's dispatch act over {notice, package root, transfer id, deadline}."""
    body = _common(
        ActKind.DISPATCH,
        signer,
        notice.sender.code,
        notice.transfer_id,
        package_root,
        now,
        nonce,
        handler,
    )
    body |= {"notice": notice.to_json(), "deadline": format_utc(deadline)}
    return _sign(signer, ActKind.DISPATCH, body)


def sign_receipt(
    signer: Signer,
    *,
    dispatch: SignedAct,
    report: VerificationReport,
    now: datetime,
    nonce: str | None = None,
    handler: str | None = None,
) -> SignedAct:
    """The receiving unit's receipt (回执) with its per-material 四性 results."""
    notice = dispatch.notice()
    if (report.transfer_id, report.package_root) != (dispatch.transfer_id, dispatch.package_root):
        raise ActFormatError("the verification report is of another transfer or package")
    body = _common(
        ActKind.RECEIPT, signer, notice.receiver.code, dispatch.transfer_id,
        dispatch.package_root, now, nonce, handler,
    )  # fmt: skip
    body |= {
        "dispatch": act_hash(dispatch).hex(),
        "accepted": report.accepted,
        "results": report.to_json(),
    }
    return _sign(signer, ActKind.RECEIPT, body)


def sign_rejection(
    signer: Signer,
    *,
    dispatch: SignedAct,
    reasons: Sequence[Reason],
    report: VerificationReport | None,
    now: datetime,
    nonce: str | None = None,
    handler: str | None = None,
) -> SignedAct:
    """The receiving unit's signed rejection; custody stays with the sender."""
    notice = dispatch.notice()
    if not reasons:
        raise ActFormatError("a rejection needs at least one reason")
    body = _common(
        ActKind.REJECTION, signer, notice.receiver.code, dispatch.transfer_id,
        dispatch.package_root, now, nonce, handler,
    )  # fmt: skip
    body |= {
        "dispatch": act_hash(dispatch).hex(),
        "reasons": [r.to_json() for r in reasons],
        "results": None if report is None else report.to_json(),
    }
    return _sign(signer, ActKind.REJECTION, body)


def reasons_from_report(report: VerificationReport) -> list[Reason]:
    """One reason per failed check, naming the material and the property (四性)."""
    out = []
    rows: list[tuple[str | None, Check]] = [(None, c) for c in report.transfer_checks]
    rows += [(m.material_id, c) for m in report.materials for c in m.failures()]
    for material_id, c in rows:
        if c.status is not Status.PASS:
            code = f"{c.property.value}.{c.name}"
            out.append(Reason(code, c.detail or c.status.value, material_id, c.property))
    return out


# ---------------------------------------------------------------- parsing


def _reason(doc: Any, where: str) -> Reason:
    o = f.obj(doc, where, ActFormatError)
    f.exact_keys(o, where, {"code", "detail", "material_id", "property"}, ActFormatError)

    def err(m: str) -> ActFormatError:
        return ActFormatError(f"{where}.{m}")

    code = f.text(o, "code", err, max_len=100)
    detail = o["detail"]
    if not isinstance(detail, str) or len(detail) > 1000:
        raise err("detail must be a string of at most 1000 characters")
    mid = None if o["material_id"] is None else f.ident(o, "material_id", err)
    prop = o["property"]
    if prop is not None and prop not in [p.value for p in Property]:
        raise err("property must be one of the four properties or null")
    return Reason(code, detail, mid, None if prop is None else Property(prop))


def _check_body(kind: ActKind, body: Any) -> None:
    b = f.obj(body, "body", ActFormatError)
    f.exact_keys(b, "body", _BODY_FIELDS[kind], ActFormatError, _OPTIONAL)
    if "handler" in b:
        f.text(b, "handler", ActFormatError, max_len=MAX_HANDLER)
    if b["v"] != 1 or isinstance(b["v"], bool):
        raise ActFormatError(f"unknown body version {b['v']!r:.20}")
    f.ident(b, "transfer_id", ActFormatError)
    f.hex64(b, "package_root", ActFormatError)
    f.ident(b, "unit", ActFormatError)
    f.hex64(b, "signer_key_fingerprint", ActFormatError)
    f.time(b, "signed_at", ActFormatError)
    nonce = b["nonce"]
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise ActFormatError("nonce must be 32 lowercase hex digits")
    if kind is ActKind.DISPATCH:
        try:
            notice = parse_notice(b["notice"])
        except NoticeError as e:
            raise ActFormatError(f"body.notice: {e.detail}") from None
        f.time(b, "deadline", ActFormatError)
        if notice.transfer_id != b["transfer_id"]:
            raise ActFormatError("the notice is of another transfer than the act")
        if notice.sender.code != b["unit"]:
            raise ActFormatError("a dispatch is signed by the notice's sending unit only")
        return
    f.hex64(b, "dispatch", ActFormatError)
    report = None
    if b["results"] is not None or kind is ActKind.RECEIPT:
        report = parse_report(
            b["results"], b["transfer_id"], bytes.fromhex(b["package_root"]),
            max_materials=MAX_MATERIALS,
        )  # fmt: skip
    if kind is ActKind.RECEIPT:
        accepted = f.boolean(b, "accepted", ActFormatError)
        assert report is not None
        if accepted != report.accepted:
            raise ActFormatError(f"accepted is {accepted}, but the results say {report.accepted}")
        return
    reasons = f.array(b, "reasons", ActFormatError, min_len=1, max_len=MAX_REASONS)
    for i, r in enumerate(reasons):
        _reason(r, f"reasons[{i}]")


def parse_act(doc: Any) -> SignedAct:
    """Parse a signed act strictly (the signature is *not* checked: see verify_act)."""
    o = f.obj(doc, "the act", ActFormatError)
    f.exact_keys(o, "the act", {"format", "body", "signer_key", "signature"}, ActFormatError)
    if o["format"] != FORMAT:
        raise ActFormatError(f"unknown format {o['format']!r:.80} (expected {FORMAT})")
    body = f.obj(o["body"], "body", ActFormatError)
    try:
        kind = ActKind(str(body.get("act")))
    except ValueError:
        raise ActFormatError(f"unknown act {body.get('act')!r:.40}") from None
    _check_body(kind, body)
    try:
        key = SM2PublicKey(f.hexbytes(o, "signer_key", ActFormatError, max_len=64))
    except KeyFormatError as e:
        raise ActFormatError(f"signer_key: {e}") from None
    signature = f.hexbytes(o, "signature", ActFormatError, max_len=80)
    return SignedAct(kind, dict(body), key, signature)


def act_from_bytes(data: bytes) -> SignedAct:
    if len(data) > MAX_ACT_BYTES:
        raise ActFormatError(f"larger than {MAX_ACT_BYTES} bytes")
    try:
        doc = parse_json(data)
    except (CanonicalJSONError, UnicodeDecodeError, RecursionError) as e:
        raise ActFormatError(f"not JSON: {e}") from None
    return parse_act(doc)


# ---------------------------------------------------------------- verification


def verify_act(
    act: SignedAct,
    *,
    kind: ActKind,
    signer_key: SM2PublicKey,
    unit: str,
    transfer_id: str,
    package_root: bytes,
    dispatch_hash: bytes | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    nonce_seen: Callable[[str], bool] | None = None,
) -> SignedAct:
    """Check that ``act`` is ``unit``'s act of ``kind`` for this transfer and package.

    ``signer_key`` is the unit's registered key (never the one the act carries).
    Raises :class:`ForgedSignature` (wrong key, altered body, another unit),
    :class:`CrossTransferAct` (another transfer), :class:`ReplayedAct` (another
    package root or dispatch, a nonce already used, signed outside the window), or
    :class:`ActFormatError` (another kind of act).
    """
    if act.kind is not kind:
        raise ActFormatError(f"a {act.kind.value} act was presented as a {kind.value} act")
    if act.signer_key != signer_key:
        raise ForgedSignature(
            f"signed by key {act.signer_key.fingerprint().hex()[:16]}…, not by unit {unit}'s "
            f"registered key {signer_key.fingerprint().hex()[:16]}…"
        )
    if act.body["signer_key_fingerprint"] != signer_key.fingerprint().hex():
        raise ForgedSignature("the body names another signing key than the one that signed")
    try:
        signer_key.verify(canonical_json(act.body), act.signature)
    except SignatureError as e:
        raise ForgedSignature(
            f"{kind.value}: {e} (the body was altered or signed by another key)"
        ) from None
    if act.unit != unit:
        raise ForgedSignature(f"the act is signed as unit {act.unit}, expected {unit}")
    if act.transfer_id != transfer_id:
        raise CrossTransferAct(
            f"the {kind.value} was signed for transfer {act.transfer_id}, not {transfer_id}"
        )
    if act.package_root != package_root:
        raise ReplayedAct(
            f"the {kind.value} was signed for package root {act.package_root.hex()}, "
            f"this dispatch is {package_root.hex()}"
        )
    if dispatch_hash is not None and act.dispatch_hash() != dispatch_hash:
        raise ReplayedAct(f"the {kind.value} answers another dispatch act of this transfer")
    signed_at = act.signed_at
    if not_before is not None and signed_at < not_before:
        raise ReplayedAct(f"signed at {format_utc(signed_at)}, before {format_utc(not_before)}")
    if not_after is not None and signed_at > not_after:
        raise ReplayedAct(f"signed at {format_utc(signed_at)}, after {format_utc(not_after)}")
    if nonce_seen is not None and nonce_seen(act.nonce):
        raise ReplayedAct(f"nonce {act.nonce} was already used")
    return act
