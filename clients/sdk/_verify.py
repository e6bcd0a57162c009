"""Client-side verification: evidence receipts and downloaded content.

The service verifies on every read; the SDK verifies again on the client, so that a
compromised or faulty service (or anything between) cannot hand out altered bytes or
a forged receipt unnoticed.

The log key is pinned by its fingerprint (``SM3`` of the raw SM2 key, the
checkpoints' ``key_id``): given explicitly (``log_key=``, the strong form — read it
off the deployment or the chain), or fetched once from the service's latest signed
checkpoint (trust on first use). With an ``rpc_url`` every anchored receipt is also
checked on chain, which binds the checkpoint key to an archive-centre member.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clients.sdk.errors import ClientVerificationError
from notary.anchoring import AnchorCheck, rpc_reader
from notary.crypto import SM2PublicKey
from notary.entries import check_describes
from notary.errors import EntryMismatch, NotaryError, VerificationError
from notary.receipts import EvidenceReceipt, OfflineResult, parse_receipt
from notary.verifier import ReceiptVerifier, TrustPolicy


def fingerprint_of(key: SM2PublicKey | str | bytes) -> bytes:
    """A pinned key: an ``SM2PublicKey``, its 64 raw bytes / 128 hex, or a 32-byte fingerprint."""
    if isinstance(key, SM2PublicKey):
        return key.fingerprint()
    raw = bytes.fromhex(key) if isinstance(key, str) else key
    if len(raw) == 64:
        return SM2PublicKey(raw).fingerprint()
    if len(raw) == 32:
        return raw
    raise ValueError("a log key is 64 bytes (x‖y) or a 32-byte SM3 fingerprint")


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    receipt: EvidenceReceipt
    offline: OfflineResult
    anchor: AnchorCheck | None


@dataclass
class Verifier:
    enabled: bool = True
    log_key_fingerprint: bytes | None = None
    rpc_url: str | None = None
    pinned_explicitly: bool = False
    anchor_checks: int = field(default=0)

    def check_receipt(
        self,
        doc: bytes | str | dict[str, Any],
        *,
        material_id: str | None = None,
        sm3: bytes | None = None,
        cid: str | None = None,
        pending: bool = False,
    ) -> VerifiedReceipt:
        """Verify a receipt read by the one strict parser (``parse_receipt``): its bytes,
        or a dict from a strict reader. ``pending`` only for what the service itself
        labels pending (a 202 body, a registration with ``anchored: false``)."""
        try:
            receipt = parse_receipt(doc, pending=pending)
        except NotaryError as e:
            raise ClientVerificationError("format", str(e)) from None
        if self.log_key_fingerprint is None:
            raise ClientVerificationError("log-key", "no log key pinned")
        if receipt.log_public_key.fingerprint() != self.log_key_fingerprint:
            got = receipt.log_public_key.fingerprint().hex()[:16]
            raise ClientVerificationError(
                "log-key",
                f"the receipt is signed by log key {got}…, "
                f"pinned {self.log_key_fingerprint.hex()[:16]}…",
            )
        try:
            check_describes(receipt.entry, material_id=material_id, cid=cid)
        except EntryMismatch as e:
            raise ClientVerificationError(e.check, str(e)) from None
        try:
            chain = None
            if self.rpc_url is not None and receipt.anchor is not None:
                chain = rpc_reader(receipt, self.rpc_url)
            # The key matched the pinned fingerprint above; the chain, when given, is
            # asked whether the checkpoint is anchored by the member holding it.
            policy = TrustPolicy.pinned(receipt.log_public_key, require_anchor=False)
            verified = ReceiptVerifier(policy, chain).verify(receipt, material_sm3=sm3)
            offline, anchor = verified.offline, verified.anchor
            if anchor is not None:
                self.anchor_checks += 1
        except VerificationError as e:
            raise ClientVerificationError(e.check, str(e)) from None
        except NotaryError as e:  # the chain could not be read
            raise ClientVerificationError("anchor", f"{type(e).__name__}: {e}") from None
        return VerifiedReceipt(receipt, offline, anchor)
