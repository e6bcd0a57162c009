"""The transfer notice (转递通知单), format ``archive-notary/transfer-notice/v1``.

The notice is the legal face of a transfer (转递): who sends what to whom, why and by
when. It travels as the tag file ``transfer-notice.json`` of the package (so the
package root commits to it) and inside the sender's signed dispatch act. Its JSON is
RFC 8785 canonical (``notary.canonical``) and is specified in
``docs/transfer-format.md`` §1.

Personal data never appears in clear: the cadre is named by the blinded id
(HMAC-SM3, ``notary.entries.blind_id``). Besides the counts a paper notice carries
(正本/副本 volumes, material count), the notice lists the material catalogue (id,
volume, category, SM3), so that completeness (完整性) at the receiver is a check
against what the sender committed to, not only against counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from notary.canonical import CanonicalJSONError, canonical_json, parse_json
from notary.crypto import sm3
from notary.entries import CATEGORIES
from transfer.workflow import _fields as f
from transfer.workflow.errors import NoticeError
from transfer.workflow.times import format_utc

FORMAT = "archive-notary/transfer-notice/v1"
MAX_VOLUMES = 100
MAX_MATERIALS = 100_000
MAX_NOTICE_BYTES = 32 << 20


class VolumeKind(StrEnum):
    ORIGINAL = "正本"
    COPY = "副本"


class Classification(StrEnum):
    """密级 of the transfer. 绝密 is refused: it never travels over a networked system."""

    PUBLIC = "公开"
    INTERNAL = "内部"
    SECRET = "秘密"
    CONFIDENTIAL = "机密"


@dataclass(frozen=True, slots=True)
class UnitRef:
    code: str
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name}


@dataclass(frozen=True, slots=True)
class VolumeEntry:
    volume_id: str
    kind: VolumeKind
    material_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "volume_id": self.volume_id,
            "kind": self.kind.value,
            "material_count": self.material_count,
        }


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One material as the sender commits to it: id, volume, category (类号), SM3."""

    material_id: str
    volume_id: str
    category: str
    sm3: str

    def to_json(self) -> dict[str, Any]:
        return {
            "material_id": self.material_id,
            "volume_id": self.volume_id,
            "category": self.category,
            "sm3": self.sm3,
        }


@dataclass(frozen=True, slots=True)
class Notice:
    transfer_id: str
    transfer_no: str
    cadre: str
    volumes: tuple[VolumeEntry, ...]
    materials: tuple[CatalogueEntry, ...]
    reason: str
    sender: UnitRef
    receiver: UnitRef
    created_at: datetime
    deadline: datetime
    classification: Classification

    def __post_init__(self) -> None:
        # The constructor enforces the same rules as the parser: no invalid notice exists.
        _parse_fields(self.to_json())

    @property
    def material_count(self) -> int:
        return len(self.materials)

    def volume_counts(self) -> dict[VolumeKind, int]:
        """Volumes per kind (正本 N 卷, 副本 M 卷)."""
        counts = Counter(v.kind for v in self.volumes)
        return {kind: counts.get(kind, 0) for kind in VolumeKind}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "transfer_id": self.transfer_id,
            "transfer_no": self.transfer_no,
            "cadre": self.cadre,
            "volumes": [v.to_json() for v in self.volumes],
            "material_count": len(self.materials),
            "materials": [m.to_json() for m in self.materials],
            "reason": self.reason,
            "sender": self.sender.to_json(),
            "receiver": self.receiver.to_json(),
            "created_at": format_utc(self.created_at),
            "deadline": format_utc(self.deadline),
            "classification": self.classification.value,
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def digest(self) -> bytes:
        return sm3(self.to_bytes())


_FIELDS = {
    "format", "transfer_id", "transfer_no", "cadre", "volumes", "material_count", "materials",
    "reason", "sender", "receiver", "created_at", "deadline", "classification",
}  # fmt: skip


def _unit(doc: Any, where: str) -> UnitRef:
    o = f.obj(doc, where, NoticeError)
    f.exact_keys(o, where, {"code", "name"}, NoticeError)
    code = f.ident(o, "code", lambda m: NoticeError(f"{where}.{m}"))
    return UnitRef(code, f.text(o, "name", lambda m: NoticeError(f"{where}.{m}")))


def parse_notice(doc: Any) -> Notice:
    """Parse the JSON form strictly; every inconsistency is a :class:`NoticeError`."""
    return Notice(**_parse_fields(doc))


def _parse_fields(doc: Any) -> dict[str, Any]:
    o = f.obj(doc, "the notice", NoticeError)
    f.exact_keys(o, "the notice", _FIELDS, NoticeError)
    if o["format"] != FORMAT:
        raise NoticeError(f"unknown format {o['format']!r:.80} (expected {FORMAT})")
    transfer_id = f.ident(o, "transfer_id", NoticeError)
    transfer_no = f.text(o, "transfer_no", NoticeError, max_len=64)
    cadre = f.hex64(o, "cadre", NoticeError)  # the blinded id, never a name or ID number
    volumes: list[VolumeEntry] = []
    for i, v in enumerate(f.array(o, "volumes", NoticeError, min_len=1, max_len=MAX_VOLUMES)):
        where = f"volumes[{i}]"
        v = f.obj(v, where, NoticeError)
        f.exact_keys(v, where, {"volume_id", "kind", "material_count"}, NoticeError)
        err = lambda m, w=where: NoticeError(f"{w}.{m}")  # noqa: E731
        kind = v["kind"]
        if kind not in [k.value for k in VolumeKind]:
            raise NoticeError(f"{where}.kind must be 正本 or 副本")
        volumes.append(
            VolumeEntry(
                f.ident(v, "volume_id", err),
                VolumeKind(kind),
                f.integer(v, "material_count", err, high=MAX_MATERIALS),
            )
        )
    materials: list[CatalogueEntry] = []
    for i, m in enumerate(f.array(o, "materials", NoticeError, max_len=MAX_MATERIALS)):
        where = f"materials[{i}]"
        m = f.obj(m, where, NoticeError)
        f.exact_keys(m, where, {"material_id", "volume_id", "category", "sm3"}, NoticeError)
        err = lambda msg, w=where: NoticeError(f"{w}.{msg}")  # noqa: E731
        category = m["category"]
        if category not in CATEGORIES:
            raise NoticeError(f"{where}.category {category!r:.20} is not one of the ten categories")
        materials.append(
            CatalogueEntry(
                f.ident(m, "material_id", err),
                f.ident(m, "volume_id", err),
                category,
                f.hex64(m, "sm3", err),
            )
        )
    count = f.integer(o, "material_count", NoticeError, high=MAX_MATERIALS)
    reason = f.text(o, "reason", NoticeError, max_len=500)
    sender = _unit(o["sender"], "sender")
    receiver = _unit(o["receiver"], "receiver")
    created = f.time(o, "created_at", NoticeError)
    deadline = f.time(o, "deadline", NoticeError)
    classification = o["classification"]
    if classification == "绝密":
        raise NoticeError("classification 绝密 may not be transferred through this system")
    if classification not in [c.value for c in Classification]:
        raise NoticeError(f"classification {classification!r:.20} is not 公开/内部/秘密/机密")
    _check_consistency(volumes, materials, count, sender, receiver, created, deadline)
    return {
        "transfer_id": transfer_id,
        "transfer_no": transfer_no,
        "cadre": cadre,
        "volumes": tuple(volumes),
        "materials": tuple(materials),
        "reason": reason,
        "sender": sender,
        "receiver": receiver,
        "created_at": created,
        "deadline": deadline,
        "classification": Classification(classification),
    }


def _check_consistency(
    volumes: list[VolumeEntry], materials: list[CatalogueEntry], count: int, sender: UnitRef,
    receiver: UnitRef, created: datetime, deadline: datetime,
) -> None:  # fmt: skip
    volume_ids = [v.volume_id for v in volumes]
    if len(set(volume_ids)) != len(volume_ids):
        raise NoticeError("a volume is listed twice")
    material_ids = [m.material_id for m in materials]
    if len(set(material_ids)) != len(material_ids):
        dup = next(i for i, n in Counter(material_ids).items() if n > 1)
        raise NoticeError(f"material {dup} is listed twice")
    per_volume = Counter(m.volume_id for m in materials)
    unknown = set(per_volume) - set(volume_ids)
    if unknown:
        raise NoticeError(f"materials belong to volumes not in the notice: {sorted(unknown)}")
    for v in volumes:
        if per_volume.get(v.volume_id, 0) != v.material_count:
            raise NoticeError(
                f"volume {v.volume_id} declares {v.material_count} materials, "
                f"the catalogue lists {per_volume.get(v.volume_id, 0)}"
            )
    if count != len(materials):
        raise NoticeError(f"material_count is {count}, the catalogue lists {len(materials)}")
    if sender.code == receiver.code:
        raise NoticeError("sender and receiver are the same unit")
    if deadline <= created:
        raise NoticeError("deadline must be after created_at")


def notice_from_bytes(data: bytes) -> Notice:
    """Parse ``transfer-notice.json``; its bytes must be exactly the canonical form."""
    if len(data) > MAX_NOTICE_BYTES:
        raise NoticeError(f"larger than {MAX_NOTICE_BYTES} bytes")
    try:
        doc = parse_json(data)
    except (CanonicalJSONError, UnicodeDecodeError, RecursionError) as e:
        raise NoticeError(f"not JSON: {e}") from None
    notice = parse_notice(doc)
    try:
        canonical = notice.to_bytes()
    except CanonicalJSONError as e:  # e.g. a lone surrogate from a \u escape
        raise NoticeError(f"not in RFC 8785 canonical form: {e}") from None
    if canonical != data:
        raise NoticeError("not in RFC 8785 canonical form")
    return notice
