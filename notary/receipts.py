"""Evidence receipt v1: the portable proof that an entry is in an anchored checkpoint.

A receipt proves "this SM3 was registered by unit U at time T, is committed in
checkpoint C of log L, and C is anchored in block B of chain X". It verifies with
nothing but the receipt, the material (or its SM3) and, for the chain part, read
access to the chain's JSON-RPC. The format is specified in ``docs/receipt-format.md``;
this module is its reference implementation:

- :func:`parse_receipt` — the one strict reading, from the receipt's bytes (duplicate
  keys, unknown fields, unknown versions, entries of no normative shape and a missing
  anchor are :class:`~notary.errors.FormatError`, check ``format``), used by the
  service, the CLI and the SDK;
- :func:`verify_offline` — entry ↔ SM3, inclusion ↔ checkpoint root (RFC 9162 §2.1.3.2
  with SM3), checkpoint signature ↔ log key;
- the on-chain check lives in :mod:`notary.anchoring` (it needs a chain reader).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from notary.canonical import CanonicalJSONError, parse_json
from notary.checkpoint import SignedCheckpoint, parse_signed_checkpoint
from notary.crypto import KeyFormatError, SM2PublicKey, is_hex_digest, sm3
from notary.entries import check_entry, encode_entry
from notary.errors import EntryMismatch, FormatError, InclusionError, ProofError, UntrustedKey
from notary.log.merkle import leaf_hash, verify_inclusion

FORMAT = "archive-notary/evidence-receipt/v1"
_MAX_INT = 2**53 - 1  # I-JSON (RFC 7493): integers every JSON reader holds exactly
_HEX_KEY = re.compile(r"^[0-9a-f]{128}$")
_HEX_TX = re.compile(r"^0x[0-9a-f]{64}$")
_ADDR = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True, slots=True)
class AnchorRef:
    """Where a checkpoint was anchored on chain."""

    chain_id: int
    contract: str
    tx_hash: str
    block_number: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EvidenceReceipt:
    entry: dict[str, Any]
    leaf_index: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint: SignedCheckpoint
    log_public_key: SM2PublicKey
    anchor: AnchorRef | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def anchored(self) -> bool:
        return self.anchor is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "entry": self.entry,
            "leaf_index": self.leaf_index,
            "inclusion_proof": [h.hex() for h in self.inclusion_proof],
            "checkpoint": self.checkpoint.to_json(),
            "log_public_key": self.log_public_key.raw.hex(),
            "anchor": None if self.anchor is None else self.anchor.to_json(),
        }


def _require(obj: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in obj:
        raise FormatError(f"receipt lacks field {name!r}")
    value = obj[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatError(f"receipt field {name!r} has the wrong type")
    return value


def _parse_anchor(obj: Any) -> AnchorRef:
    if not isinstance(obj, dict) or set(obj) != {"chain_id", "contract", "tx_hash", "block_number"}:
        raise FormatError("anchor must have exactly chain_id, contract, tx_hash, block_number")
    chain_id = _require(obj, "chain_id", int)
    block = _require(obj, "block_number", int)
    contract = _require(obj, "contract", str)
    tx = _require(obj, "tx_hash", str)
    if not (0 < chain_id <= _MAX_INT and 0 <= block <= _MAX_INT):
        raise FormatError("anchor chain_id must be positive and block_number non-negative")
    if not _ADDR.fullmatch(contract):
        raise FormatError("anchor contract must be a 0x-prefixed 20-byte address")
    if not _HEX_TX.fullmatch(tx):
        raise FormatError("anchor tx_hash must be 0x and 64 lowercase hex digits")
    return AnchorRef(chain_id, contract, tx, block)


_FIELDS = frozenset(
    {"format", "entry", "leaf_index", "inclusion_proof", "checkpoint", "log_public_key", "anchor"}
)


def read_json(data: bytes | str) -> Any:
    """A document's JSON, read strictly: malformed JSON, duplicate keys (which JSON
    readers resolve differently — first wins, last wins, error) and non-finite numbers
    are :class:`FormatError`, so no two readers can see different documents."""
    try:
        return parse_json(data)
    except (CanonicalJSONError, UnicodeDecodeError, RecursionError) as e:
        raise FormatError(f"the document is not strict JSON: {e}") from None


def parse_receipt(doc: bytes | str | dict[str, Any], *, pending: bool = False) -> EvidenceReceipt:
    """Read a receipt strictly: the one reading of docs/receipt-format.md §2–§5.

    ``doc`` is the receipt's bytes (or text), read with :func:`read_json`; a ``dict``
    must come from a strict reader too (``notary.canonical.parse_json``), since a
    lenient one has already dropped duplicate keys. Every deviation is a
    :class:`FormatError` (check ``format``): unknown or missing fields, another
    ``format``, an entry that has no normative v1 shape, and a missing or null
    ``anchor`` — an evidence receipt without its anchor proves nothing on chain.

    ``pending=True`` is only for a proof the service itself labels pending (the body
    of a 202 from ``GET /v1/materials/{id}/receipt``, a registration with
    ``anchored: false``): there ``anchor`` must be present and ``null``.
    """
    if isinstance(doc, bytes | str):
        doc = read_json(doc)
    if not isinstance(doc, dict):
        raise FormatError("a receipt is a JSON object")
    unknown = set(doc) - _FIELDS
    if unknown:
        raise FormatError(f"receipt has unknown fields {sorted(unknown)}")
    if doc.get("format") != FORMAT:
        raise FormatError(f"unknown receipt format {doc.get('format')!r} (expected {FORMAT})")
    entry = _require(doc, "entry", dict)
    check_entry(entry)
    encode_entry(entry)
    index = _require(doc, "leaf_index", int)
    proof_hex = _require(doc, "inclusion_proof", list)
    if len(proof_hex) > 64:
        raise FormatError("inclusion proof is longer than any tree of 2^64 leaves needs")
    proof = []
    for h in proof_hex:
        if not is_hex_digest(h):
            raise FormatError("inclusion proof items must be 64 lowercase hex digits")
        proof.append(bytes.fromhex(h))
    checkpoint = parse_signed_checkpoint(_require(doc, "checkpoint", dict))
    key_hex = _require(doc, "log_public_key", str)
    if not _HEX_KEY.fullmatch(key_hex):
        raise FormatError("log_public_key must be 128 lowercase hex digits (x ‖ y)")
    try:
        key = SM2PublicKey.from_hex(key_hex)
    except KeyFormatError as e:
        raise FormatError(f"log_public_key: {e}") from None
    if not 0 <= index <= _MAX_INT:
        raise FormatError("leaf_index must be non-negative (and within I-JSON's range)")
    if "anchor" not in doc:
        raise FormatError("receipt lacks field 'anchor'")
    anchor: AnchorRef | None
    if pending:
        if doc["anchor"] is not None:
            raise FormatError("a pending receipt must have 'anchor': null")
        anchor = None
    elif doc["anchor"] is None:
        raise FormatError(
            "receipt field 'anchor' is null: a receipt without its anchor is not evidence"
        )
    else:
        anchor = _parse_anchor(doc["anchor"])
    return EvidenceReceipt(
        entry=entry,
        leaf_index=index,
        inclusion_proof=tuple(proof),
        checkpoint=checkpoint,
        log_public_key=key,
        anchor=anchor,
    )


@dataclass(frozen=True, slots=True)
class OfflineResult:
    """What the offline checks established."""

    entry: dict[str, Any]
    leaf_index: int
    tree_size: int
    root: bytes
    log_id: bytes
    key_fingerprint: bytes
    key_pinned: bool


def verify_offline(
    receipt: EvidenceReceipt,
    *,
    material_sm3: bytes | None = None,
    trusted_log_keys: list[SM2PublicKey] | None = None,
    check_signature: Callable[[SignedCheckpoint, SM2PublicKey], None] | None = None,
    check_inclusion: bool = True,
) -> OfflineResult:
    """Check everything that needs no chain access; raise the first failure.

    ``check_signature`` replaces ``SignedCheckpoint.verify`` (same contract: raise
    unless the key signed exactly this checkpoint), for a verifier that remembers
    signatures it has already checked (:class:`notary.verifier.VerificationMemo`).

    ``trusted_log_keys`` pins the log's key; without it the receipt's own key is used
    and only the on-chain check (the key's fingerprint is an archive centre's) binds
    it to a member. The result says which happened.

    ``check_inclusion=False`` is for the whole-log audit alone, which has established
    the stored proof's verdict for the receipt's leaf and checkpoint by recomputing the
    tree (``transfer.services.tree_check``); the receipt then carries no proof.
    """
    if trusted_log_keys is not None and receipt.log_public_key not in trusted_log_keys:
        raise UntrustedKey("the receipt's log key is not among the trusted log keys")
    if material_sm3 is not None:
        claimed = receipt.entry.get("sm3")
        if claimed != material_sm3.hex():
            raise EntryMismatch(
                f"material SM3 {material_sm3.hex()} differs from the entry's {claimed}"
            )
    cp = receipt.checkpoint
    if check_signature is None:
        cp.verify(receipt.log_public_key)
    else:
        check_signature(cp, receipt.log_public_key)
    if check_inclusion:
        leaf = leaf_hash(sm3, encode_entry(receipt.entry))
        try:
            verify_inclusion(
                sm3,
                receipt.leaf_index,
                cp.checkpoint.tree_size,
                leaf,
                list(receipt.inclusion_proof),
                cp.checkpoint.root,
            )
        except ProofError as e:
            raise InclusionError(
                f"entry {receipt.leaf_index} is not in checkpoint {cp.checkpoint.tree_size}: {e}"
            ) from None
    return OfflineResult(
        entry=receipt.entry,
        leaf_index=receipt.leaf_index,
        tree_size=cp.checkpoint.tree_size,
        root=cp.checkpoint.root,
        log_id=cp.checkpoint.log_id,
        key_fingerprint=receipt.log_public_key.fingerprint(),
        key_pinned=trusted_log_keys is not None,
    )


def build_receipt(
    entry: dict[str, Any],
    leaf_index: int,
    inclusion_proof: list[bytes],
    checkpoint: SignedCheckpoint,
    log_public_key: SM2PublicKey,
    anchor: AnchorRef | None = None,
) -> EvidenceReceipt:
    """Assemble a receipt and check it before it leaves the notary."""
    receipt = EvidenceReceipt(
        entry=entry,
        leaf_index=leaf_index,
        inclusion_proof=tuple(inclusion_proof),
        checkpoint=checkpoint,
        log_public_key=log_public_key,
        anchor=anchor,
    )
    verify_offline(receipt, trusted_log_keys=[log_public_key])
    return receipt
