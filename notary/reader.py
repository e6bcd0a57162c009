"""Verification on read: the one function every content read goes through.

``read_verified`` returns a material's plaintext only when every check holds, in
this order, and otherwise raises the :class:`~notary.errors.VerificationError`
subclass whose ``check`` names what failed:

1. ``content`` — the store has the ciphertext and every block hashes to its CID;
2. ``envelope`` — the data key unwraps for the reading unit, the SM4-GCM tag holds
   (this binds the content to the material id and registered SM3 through the AAD);
3. ``sm3`` — the plaintext's SM3 is the registered SM3;
4. ``entry`` / ``inclusion`` / ``checkpoint-signature`` / ``log-key`` — the
   registration entry describes this material and is in a signed checkpoint;
5. ``anchor`` — that checkpoint is anchored on chain (when a chain reader is given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from notary.anchoring import AnchorReader
from notary.crypto import Decrypter, SM2PublicKey
from notary.entries import check_describes
from notary.envelope import WrappedKey, open_sealed_pieces, unwrap_key
from notary.errors import NotAnchored, VerificationError
from notary.receipts import EvidenceReceipt
from notary.store import (
    ContentIntegrityError,
    ContentNotFound,
    ContentStore,
    InvalidCIDError,
    StoreUnavailable,
)
from notary.verifier import ReceiptVerifier, TrustPolicy, VerificationMemo


class ContentCheckError(VerificationError):
    """The stored ciphertext is missing or does not hash to its CID."""

    check = "content"


@dataclass(frozen=True, slots=True)
class MaterialRecord:
    """What the notary registered about a material."""

    material_id: str
    sm3: bytes
    cid: str
    wrapped_key: WrappedKey


@dataclass(frozen=True, slots=True)
class ReadResult:
    # The verified plaintext, decrypted in place (a bytearray: making it ``bytes``
    # would copy it once more); send it as ``memoryview(content)``.
    content: bytearray
    checks: tuple[str, ...]
    anchored: bool


def check_entry(record: MaterialRecord, entry: dict[str, Any]) -> None:
    """The registration entry describes exactly this material."""
    check_describes(entry, material_id=record.material_id, sm3_hex=record.sm3.hex(), cid=record.cid)


def read_verified(
    store: ContentStore,
    record: MaterialRecord,
    holder: Decrypter,
    *,
    receipt: EvidenceReceipt | None,
    log_keys: list[SM2PublicKey],
    chain: AnchorReader | None = None,
    require_anchor: bool = False,
    on_failure: Callable[[VerificationError], None] | None = None,
    memo: VerificationMemo | None = None,
) -> ReadResult:
    """Return the plaintext of ``record`` after every check; raise on the first failure.

    ``receipt`` is the material's evidence receipt (``None`` only when its entry is
    not yet in any checkpoint, which ``require_anchor`` refuses). ``on_failure`` is
    called with the error before it propagates, so the caller can record an alert.
    ``memo``: a :class:`~notary.verifier.VerificationMemo` that answers for checkpoint
    signatures and anchors already verified in this process.

    The receipt is verified here, once: the caller hands it over unchecked (the
    service assembles it from its database without verifying it first).
    """
    policy = TrustPolicy.pinned(*log_keys, require_anchor=require_anchor)
    verifier = ReceiptVerifier(policy, chain, memo)
    try:
        return _read(store, record, holder, receipt, verifier, require_anchor)
    except VerificationError as e:
        if on_failure is not None:
            on_failure(e)
        raise


def _read(
    store: ContentStore,
    record: MaterialRecord,
    holder: Decrypter,
    receipt: EvidenceReceipt | None,
    verifier: ReceiptVerifier,
    require_anchor: bool,
) -> ReadResult:
    checks: list[str] = []
    try:
        # Every block verified against its CID before any is decrypted; kept as the
        # store's blocks, not joined (open_sealed_pieces decrypts them in place).
        blocks = list(store.iter_content(record.cid))
    except ContentNotFound as e:
        raise ContentCheckError(f"material {record.material_id}: content missing: {e}") from None
    except ContentIntegrityError as e:
        raise ContentCheckError(
            f"material {record.material_id}: stored content does not match its CID: {e}"
        ) from None
    except InvalidCIDError as e:
        raise ContentCheckError(f"material {record.material_id}: {e}") from None
    except StoreUnavailable:
        raise  # an outage, not a verdict about the material: the caller answers 503
    checks.append("content")
    key = unwrap_key(record.wrapped_key, holder)
    plain = open_sealed_pieces(blocks, key, record.material_id, record.sm3)
    checks += ["envelope", "sm3"]
    anchored = False
    if receipt is None:
        if require_anchor:
            raise NotAnchored(f"material {record.material_id} is not yet in an anchored checkpoint")
    else:
        check_entry(record, receipt.entry)
        verified = verifier.verify(receipt, material_sm3=record.sm3)
        checks.append("log")
        if verified.anchor is not None:
            checks.append("anchor")
            anchored = True
    return ReadResult(plain, tuple(checks), anchored)
