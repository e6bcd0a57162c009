"""The delivery envelope ``data/envelope.json``, format ``archive-notary/transfer-envelope/v1``.

The envelope describes the sealed payload of a confidential delivery (电子机要): for
each material its metadata, the SM3 of its plaintext, the CID of its SM4-GCM
ciphertext (``notary.envelope`` / ``notary.crypto.sm4`` sealed form) and its data key
wrapped with SM2 (GM/T 0009 C1C3C2) for the receiving unit only. It is a payload file,
so both payload manifests and, through them, the package root commit to it. Specified
in ``docs/transfer-format.md`` §3.

Titles are here and not in the notice: the whole bag travels on the confidential
channel at the notice's 密级, but the notice is also what the sender signs and shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from notary.canonical import CanonicalJSONError, canonical_json, parse_json
from notary.crypto import sm4
from notary.entries import CATEGORIES
from notary.envelope import WrappedKey
from transfer.workflow import _fields as f
from transfer.workflow.errors import EnvelopeDocError
from transfer.workflow.notice import MAX_MATERIALS, Notice

FORMAT = "archive-notary/transfer-envelope/v1"
CIPHER = "SM4-GCM; archive-notary sealed v1; AAD archive-notary/material/v1"
KEY_WRAP = "SM2 GM/T 0009 C1C3C2, user id 1234567812345678"
MAX_ENVELOPE_BYTES = 64 << 20
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,40}/[a-z0-9][a-z0-9.+-]{0,80}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CID = re.compile(r"^b[a-z2-7]{20,120}$")  # CIDv1, base32 (design §3 "Content")


def material_path(material_id: str) -> str:
    """Where the sealed material sits in the bag."""
    return f"data/materials/{material_id}.sm4"


def evidence_path(material_id: str) -> str:
    """Where the material's evidence receipt (from the sender's log) sits in the bag."""
    return f"data/evidence/{material_id}.json"


ENVELOPE_PATH = "data/envelope.json"


@dataclass(frozen=True, slots=True)
class EnvelopeEntry:
    material_id: str
    volume_id: str
    category: str
    seq_no: int
    pages: int
    title: str
    formation_date: date
    media_type: str
    size: int  # plaintext bytes
    sm3: str  # plaintext SM3, hex
    cid: str  # CID of the sealed bytes
    sealed_size: int
    wrapped_key: bytes  # SM2 ciphertext of the SM4 data key, for the envelope's recipient
    evidence: bool  # whether data/evidence/<id>.json travels with it

    def to_json(self) -> dict[str, Any]:
        return {
            "material_id": self.material_id,
            "volume_id": self.volume_id,
            "category": self.category,
            "seq_no": self.seq_no,
            "pages": self.pages,
            "title": self.title,
            "formation_date": self.formation_date.isoformat(),
            "media_type": self.media_type,
            "size": self.size,
            "sm3": self.sm3,
            "cid": self.cid,
            "sealed_size": self.sealed_size,
            "wrapped_key": self.wrapped_key.hex(),
            "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class Envelope:
    transfer_id: str
    recipient_unit: str
    recipient_key: bytes  # SM3 fingerprint of the receiving unit's SM2 public key
    materials: tuple[EnvelopeEntry, ...]

    def __post_init__(self) -> None:
        _parse_fields(self.to_json())

    def wrapped(self, entry: EnvelopeEntry) -> WrappedKey:
        return WrappedKey(self.recipient_key, entry.wrapped_key)

    def by_id(self) -> dict[str, EnvelopeEntry]:
        return {m.material_id: m for m in self.materials}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "transfer_id": self.transfer_id,
            "cipher": CIPHER,
            "key_wrap": KEY_WRAP,
            "recipient": {"unit": self.recipient_unit, "key_fingerprint": self.recipient_key.hex()},
            "materials": [m.to_json() for m in self.materials],
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


_ENTRY_FIELDS = {
    "material_id", "volume_id", "category", "seq_no", "pages", "title", "formation_date",
    "media_type", "size", "sm3", "cid", "sealed_size", "wrapped_key", "evidence",
}  # fmt: skip


def _entry(doc: Any, where: str) -> EnvelopeEntry:
    def err(m: str) -> EnvelopeDocError:
        return EnvelopeDocError(f"{where}.{m}")

    o = f.obj(doc, where, EnvelopeDocError)
    f.exact_keys(o, where, _ENTRY_FIELDS, EnvelopeDocError)
    if o["category"] not in CATEGORIES:
        raise err("category is not one of the ten categories")
    media_type = o["media_type"]
    if not isinstance(media_type, str) or not _MEDIA_TYPE.fullmatch(media_type):
        raise err("media_type must be a lowercase type/subtype")
    raw_date = o["formation_date"]
    try:
        if not isinstance(raw_date, str) or not _DATE.fullmatch(raw_date):
            raise ValueError
        formation = date.fromisoformat(raw_date)
    except ValueError:
        raise err("formation_date must be YYYY-MM-DD") from None
    cid = o["cid"]
    if not isinstance(cid, str) or not _CID.fullmatch(cid):
        raise err("cid must be a base32 CIDv1")
    size = f.integer(o, "size", err, high=2**48)
    sealed_size = f.integer(o, "sealed_size", err, high=2**48)
    if sealed_size != size + sm4.OVERHEAD:
        raise err(f"sealed_size must be size + {sm4.OVERHEAD} (SM4-GCM header and tag)")
    return EnvelopeEntry(
        material_id=f.ident(o, "material_id", err),
        volume_id=f.ident(o, "volume_id", err),
        category=o["category"],
        seq_no=f.integer(o, "seq_no", err, low=1, high=1_000_000),
        pages=f.integer(o, "pages", err, low=1, high=1_000_000),
        title=f.text(o, "title", err, max_len=500),
        formation_date=formation,
        media_type=media_type,
        size=size,
        sm3=f.hex64(o, "sm3", err),
        cid=cid,
        sealed_size=sealed_size,
        wrapped_key=f.hexbytes(o, "wrapped_key", err, max_len=512),
        evidence=f.boolean(o, "evidence", err),
    )


def _parse_fields(doc: Any) -> dict[str, Any]:
    o = f.obj(doc, "the envelope", EnvelopeDocError)
    f.exact_keys(
        o, "the envelope",
        {"format", "transfer_id", "cipher", "key_wrap", "recipient", "materials"},
        EnvelopeDocError,
    )  # fmt: skip
    if o["format"] != FORMAT:
        raise EnvelopeDocError(f"unknown format {o['format']!r:.80} (expected {FORMAT})")
    if o["cipher"] != CIPHER or o["key_wrap"] != KEY_WRAP:
        raise EnvelopeDocError("unknown cipher or key wrapping (this version knows one of each)")
    recipient = f.obj(o["recipient"], "recipient", EnvelopeDocError)
    f.exact_keys(recipient, "recipient", {"unit", "key_fingerprint"}, EnvelopeDocError)
    materials = [
        _entry(m, f"materials[{i}]")
        for i, m in enumerate(f.array(o, "materials", EnvelopeDocError, max_len=MAX_MATERIALS))
    ]
    ids = [m.material_id for m in materials]
    if len(set(ids)) != len(ids):
        raise EnvelopeDocError("a material is listed twice")
    return {
        "transfer_id": f.ident(o, "transfer_id", EnvelopeDocError),
        "recipient_unit": f.ident(recipient, "unit", EnvelopeDocError),
        "recipient_key": bytes.fromhex(f.hex64(recipient, "key_fingerprint", EnvelopeDocError)),
        "materials": tuple(materials),
    }


def parse_envelope(doc: Any) -> Envelope:
    return Envelope(**_parse_fields(doc))


def envelope_from_bytes(data: bytes) -> Envelope:
    """Parse ``data/envelope.json``; its bytes must be exactly the canonical form."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeDocError(f"larger than {MAX_ENVELOPE_BYTES} bytes")
    try:
        doc = parse_json(data)
    except (CanonicalJSONError, UnicodeDecodeError, RecursionError) as e:
        raise EnvelopeDocError(f"not JSON: {e}") from None
    envelope = parse_envelope(doc)
    if envelope.to_bytes() != data:
        raise EnvelopeDocError("not in RFC 8785 canonical form")
    return envelope


def check_against_notice(envelope: Envelope, notice: Notice) -> None:
    """The envelope belongs to the notice's transfer and is addressed to its receiver.

    Per-material agreement (catalogue vs envelope) is *not* checked here: the receiver
    records it per material as 完整性/真实性 instead of refusing the whole bag.
    """
    if envelope.transfer_id != notice.transfer_id:
        raise EnvelopeDocError(
            f"belongs to transfer {envelope.transfer_id}, the notice is {notice.transfer_id}"
        )
    if envelope.recipient_unit != notice.receiver.code:
        raise EnvelopeDocError(
            f"is addressed to unit {envelope.recipient_unit}, the notice to {notice.receiver.code}"
        )
