"""Ingest: one streamed upload becomes a sealed, stored, logged material.

Order of work, and why:

1. the volume must be held by the caller's unit (404 before a byte is read);
2. the body is parsed as it arrives (:mod:`transfer.services.multipart`); the file's
   first bytes decide its type (415 before anything is stored), its size is counted
   as it streams (413);
3. with a declared SM3 (``X-Content-SM3``) the file is sealed and stored in one pass
   (the envelope checks the declaration at the end); without one it is hashed into
   an encrypted spool first (:mod:`transfer.services.spool`), then sealed from it;
4. the data key is wrapped for the custodian unit;
5. the material row, its wrapped key and its ``material.registered`` log entry are
   written in **one** transaction under the log lock, and only its commit lets the
   route answer 201: an acknowledged upload is durable, an unacknowledged one left
   at most unreferenced ciphertext in the store (never a row or a leaf).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import select

from notary.crypto import SM3, SM2PublicKey, sm4
from notary.entries import CATEGORIES, blind_id, material_registered
from notary.envelope import CHUNK, DigestMismatch, WrappedKey, seal, wrap_key
from notary.store import StoreUnavailable
from transfer.db.models import Material, MaterialKey, Unit
from transfer.db.types import utcnow
from transfer.fields import Title
from transfer.security import Principal
from transfer.services import access
from transfer.services.context import NotaryContext
from transfer.services.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from transfer.services.logwriter import append_entries
from transfer.services.media import HEAD_BYTES, ZIP, MediaSniffer, sniff_head
from transfer.services.multipart import FilePart, FormError, PartInfo, Pull, StreamingForm
from transfer.services.problems_zh import field_problem
from transfer.services.spool import EncryptedSpool
from transfer.services.state import ServiceState

# Room for the form's boundaries and metadata fields around the file itself.
FORM_OVERHEAD = 1 << 20
REQUIRED_FIELDS = ("category", "seq_no", "pages", "title", "formation_date")


class SM3Mismatch(Unprocessable):
    slug, title = "sm3-mismatch", "Content does not match the declared SM3"


class MaterialMeta(BaseModel):
    category: str = Field(description="类号: 1, 2, 3, 4-1…4-4, 5, 6, 7, 8, 9-1…9-4, 10.")
    seq_no: int = Field(ge=1, le=100_000, description="顺序号")
    pages: int = Field(ge=1, le=100_000, description="页码 (page count)")
    title: Title
    formation_date: date
    supersedes: uuid.UUID | None = None

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
        return value


@dataclass(frozen=True, slots=True)
class Stored:
    sm3: bytes
    size: int
    cid: str
    data_key: bytes
    media_type: str


class _IterReader:
    """A readable binary stream over an iterator of chunks (what ``store.put`` reads)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buffer += chunk
        if n < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def parse_declared_sm3(value: str | None) -> bytes | None:
    if value is None:
        return None
    text = value.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise BadRequest("X-Content-SM3 must be 64 hexadecimal digits", check="sm3")
    return bytes.fromhex(text)


def _validate(fields: dict[str, str]) -> MaterialMeta:
    data = {k: v for k, v in fields.items() if k in MaterialMeta.model_fields}
    if data.get("supersedes") == "":
        data.pop("supersedes")
    try:
        return MaterialMeta.model_validate(data)
    except ValidationError as e:
        raise field_problem(e.errors()) from None


class _Upload:
    def __init__(self, state: ServiceState, ctx: NotaryContext, material_id: str) -> None:
        self.limit = state.settings.upload_max_bytes
        self.accepted = set(state.settings.accepted_media_types)
        self.spool_dir = state.settings.home / "tmp"
        self.ctx = ctx
        self.material_id = material_id
        self.size = 0
        self.sniffer = MediaSniffer()

    def on_chunk(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(
                f"the material exceeds the upload limit of {self.limit} bytes", limit=self.limit
            )
        self.sniffer.feed(chunk)

    def _refuse_type(self, what: str) -> UnsupportedMediaType:
        return UnsupportedMediaType(
            f"{what}; accepted: {', '.join(sorted(self.accepted))} (judged by content)",
            accepted=sorted(self.accepted),
        )

    def _final_type(self) -> str:
        media = self.sniffer.media_type()
        if media is None or media not in self.accepted:
            raise self._refuse_type("the content is not an accepted document type")
        return media

    def store(self, part: FilePart, declared: bytes | None) -> Stored:
        head = sniff_head(part.peek(HEAD_BYTES))
        if head is None or (head != ZIP and head not in self.accepted):
            raise self._refuse_type("the file's first bytes match no accepted type")
        try:
            if declared is not None:
                return self._store_declared(part, declared)
            return self._store_spooled(part)
        except StoreUnavailable as e:
            raise ServiceUnavailable(
                f"the content store is unavailable: {type(e).__name__}",
                retry_after_s=5,
            ) from None

    def _store_declared(self, part: FilePart, declared: bytes) -> Stored:
        sealing = seal(part, self.material_id, declared)  # type: ignore[arg-type]
        cid = self.ctx.store.put(_IterReader(sealing.sealed))  # type: ignore[arg-type]
        try:
            sealing.check()
        except DigestMismatch as e:
            raise SM3Mismatch(str(e), check="sm3") from None
        # Known only at the end of a ZIP; the ciphertext just stored stays unreferenced.
        media = self._final_type()
        return Stored(declared, sealing.size, cid, sealing.data_key, media)

    def _store_spooled(self, part: FilePart) -> Stored:
        h = SM3()
        with EncryptedSpool(self.spool_dir) as spool:
            while chunk := part.read(CHUNK):
                h.update(chunk)
                spool.write(chunk)
            media = self._final_type()
            digest = h.digest()
            sealing = seal(spool.reader(), self.material_id, digest)  # type: ignore[arg-type]
            cid = self.ctx.store.put(_IterReader(sealing.sealed))  # type: ignore[arg-type]
            sealing.check()  # the spool gave back exactly what was hashed
        return Stored(digest, sealing.size, cid, sealing.data_key, media)


def ingest_material(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    volume_id: uuid.UUID,
    *,
    content_type: str | None,
    content_length: int | None,
    declared_sm3: bytes | None,
    pull: Pull,
) -> Material:
    """Run one upload to its durable end; raise a problem on any refusal."""
    limit = state.settings.upload_max_bytes
    if content_length is not None and content_length > limit + FORM_OVERHEAD:
        raise PayloadTooLarge(
            f"the request ({content_length} bytes) exceeds the upload limit of {limit} bytes",
            limit=limit,
        )
    with state.sessions() as s:
        access.held_volume(s, volume_id, caller.unit_id)
        unit = s.get(Unit, caller.unit_id)
        assert unit is not None
        if unit.public_key_hex is None:
            raise Conflict(f"unit {unit.code} has no envelope key to wrap data keys for")
        unit_key = SM2PublicKey.from_hex(unit.public_key_hex)

    material_id = uuid.uuid4()
    upload = _Upload(state, ctx, str(material_id))
    fields: dict[str, str] = {}
    meta: MaterialMeta | None = None
    stored: Stored | None = None
    try:
        form = StreamingForm(content_type, pull)
        parts = 0
        while True:
            kind, payload = form.next_event()
            if kind == "eof":
                break
            if kind != "begin" or not isinstance(payload, PartInfo):
                raise FormError("unexpected multipart structure")
            parts += 1
            if payload.filename is None:
                if parts > 32:
                    raise FormError("too many form fields")
                fields[payload.name] = form.read_field()
                continue
            if payload.name != "file" or stored is not None:
                raise Unprocessable("send exactly one file, in the form field 'file'")
            if all(f in fields for f in REQUIRED_FIELDS):
                meta = _validate(fields)  # refuse bad metadata before storing anything
            part = FilePart(form, upload.on_chunk)
            stored = upload.store(part, declared_sm3)
            part.drain()
    except FormError as e:
        raise BadRequest(str(e)) from None
    if stored is None:
        raise Unprocessable("the form has no file part named 'file'")
    if meta is None:
        meta = _validate(fields)
    wrapped = wrap_key(stored.data_key, unit_key)
    return _commit(state, caller, volume_id, material_id, meta, stored, wrapped)


def _commit(
    state: ServiceState,
    caller: Principal,
    volume_id: uuid.UUID,
    material_id: uuid.UUID,
    meta: MaterialMeta,
    stored: Stored,
    wrapped: WrappedKey,
) -> Material:
    with state.write_sessions() as s:
        volume = access.held_volume(s, volume_id, caller.unit_id)
        lineage, version, supersedes = material_id, 1, None
        if meta.supersedes is not None:
            prev = s.get(Material, meta.supersedes)
            if prev is None or prev.volume_id != volume.id:
                raise NotFound(f"material {meta.supersedes} is not in volume {volume_id}")
            if s.scalar(select(Material.id).where(Material.supersedes_id == prev.id)) is not None:
                raise Conflict(f"material {prev.id} is already superseded by a later version")
            lineage, version, supersedes = prev.lineage_id, prev.version + 1, prev.id
        now = utcnow()
        entry = material_registered(
            material_id=str(material_id),
            sm3_hex=stored.sm3.hex(),
            cid=stored.cid,
            size=stored.size,
            category=meta.category,
            volume=volume_ref(state.blinding_secret, volume.id),
            unit=caller.unit_code,
            version=version,
            time_ms=int(now.timestamp() * 1000),
            supersedes=None if supersedes is None else str(supersedes),
        )
        leaf = append_entries(s, [entry]).start
        material = Material(
            id=material_id,
            volume_id=volume.id,
            lineage_id=lineage,
            version=version,
            supersedes_id=supersedes,
            category=meta.category,
            seq_no=meta.seq_no,
            pages=meta.pages,
            title=meta.title,
            formation_date=meta.formation_date,
            sm3=stored.sm3.hex(),
            size=stored.size,
            media_type=stored.media_type,
            cid=stored.cid,
            sealed_size=stored.size + sm4.OVERHEAD,
            registered_by_unit_id=caller.unit_id,
            leaf_index=leaf,
            created_at=now,
        )
        s.add(material)
        s.flush()
        s.add(
            MaterialKey(
                material_id=material_id,
                unit_id=caller.unit_id,
                key_fingerprint=wrapped.recipient.hex(),
                wrapped=wrapped.ciphertext,
            )
        )
        s.commit()
        return material


def volume_ref(secret: bytes, volume_id: uuid.UUID) -> str:
    """The blinded volume reference in log entries (HMAC-SM3 of the volume id): entries
    of one volume can be linked by whoever holds the deployment, not by the public."""
    return blind_id(secret, f"volume:{volume_id}")
