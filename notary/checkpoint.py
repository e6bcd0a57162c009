"""Signed checkpoints of the log: (origin, tree size, root, time), SM2-signed.

Format (``docs/receipt-format.md`` §Checkpoint): a JSON object

    {"checkpoint": {"format": "archive-notary/checkpoint/v1", "origin": ..., "log_id": ...,
                    "tree_size": ..., "root": ..., "timestamp_ms": ..., "key_id": ...},
     "signature": "<base64 DER SM2 signature over RFC 8785 canonical bytes of checkpoint>"}

The signature covers the canonical encoding of the inner object only, so the outer
document may be re-serialised freely. ``log_id`` = SM3(UTF-8 origin) is the 32-byte
identifier the chain contract indexes anchors by.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from notary.canonical import CanonicalJSONError, canonical_json
from notary.crypto import SignatureError, Signer, SM2PublicKey, is_hex_digest, sm3
from notary.errors import CheckpointSignatureError, FormatError, UntrustedKey

FORMAT = "archive-notary/checkpoint/v1"


def log_id_for(origin: str) -> bytes:
    return sm3(origin.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    tree_size: int
    root: bytes
    timestamp_ms: int
    key_id: bytes

    @property
    def log_id(self) -> bytes:
        return log_id_for(self.origin)

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "origin": self.origin,
            "log_id": self.log_id.hex(),
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "timestamp_ms": self.timestamp_ms,
            "key_id": self.key_id.hex(),
        }

    def signed_bytes(self) -> bytes:
        return canonical_json(self.body())


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.body(),
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    def verify(self, key: SM2PublicKey) -> None:
        """Raise unless ``key`` is the checkpoint's key and its signature verifies."""
        if key.fingerprint() != self.checkpoint.key_id:
            raise UntrustedKey(
                f"checkpoint key_id {self.checkpoint.key_id.hex()[:16]}… is not the log key "
                f"{key.fingerprint().hex()[:16]}…"
            )
        try:
            key.verify(self.checkpoint.signed_bytes(), self.signature)
        except SignatureError as e:
            raise CheckpointSignatureError(
                f"checkpoint signature for tree size {self.checkpoint.tree_size} is invalid: {e}"
            ) from None


def sign_checkpoint(
    signer: Signer, origin: str, tree_size: int, root: bytes, timestamp_ms: int
) -> SignedCheckpoint:
    cp = Checkpoint(origin, tree_size, root, timestamp_ms, signer.public_key.fingerprint())
    return SignedCheckpoint(cp, signer.sign(cp.signed_bytes()))


def _field(obj: dict[str, Any], name: str, kind: type) -> Any:
    if name not in obj:
        raise FormatError(f"checkpoint lacks field {name!r}")
    value = obj[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatError(f"checkpoint field {name!r} must be {kind.__name__}")
    return value


def _hex32(obj: dict[str, Any], name: str) -> bytes:
    value = _field(obj, name, str)
    if not is_hex_digest(value):
        raise FormatError(f"checkpoint field {name!r} must be 64 lowercase hex digits")
    return bytes.fromhex(value)


def parse_signed_checkpoint(doc: Any) -> SignedCheckpoint:
    """Parse the JSON form; any deviation from the v1 format is a :class:`FormatError`."""
    if not isinstance(doc, dict) or set(doc) != {"checkpoint", "signature"}:
        raise FormatError("signed checkpoint must have exactly 'checkpoint' and 'signature'")
    body = doc["checkpoint"]
    if not isinstance(body, dict):
        raise FormatError("'checkpoint' must be an object")
    expected = {"format", "origin", "log_id", "tree_size", "root", "timestamp_ms", "key_id"}
    if set(body) != expected:
        raise FormatError(f"checkpoint fields must be exactly {sorted(expected)}")
    if body["format"] != FORMAT:
        raise FormatError(f"unknown checkpoint format {body['format']!r}")
    origin = _field(body, "origin", str)
    size = _field(body, "tree_size", int)
    ts = _field(body, "timestamp_ms", int)
    if size < 0 or ts < 0:
        raise FormatError("tree_size and timestamp_ms must be non-negative")
    cp = Checkpoint(origin, size, _hex32(body, "root"), ts, _hex32(body, "key_id"))
    try:
        cp.signed_bytes()  # an origin that is not UTF-8, a size beyond I-JSON, ...
    except (CanonicalJSONError, UnicodeEncodeError) as e:
        raise FormatError(f"checkpoint cannot be canonically encoded: {e}") from None
    if _hex32(body, "log_id") != cp.log_id:
        raise FormatError("checkpoint log_id is not SM3 of its origin")
    sig_text = doc["signature"]
    if not isinstance(sig_text, str):
        raise FormatError("signature must be a base64 string")
    try:
        sig = base64.b64decode(sig_text, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters
        raise FormatError("signature is not valid base64") from None
    return SignedCheckpoint(cp, sig)
