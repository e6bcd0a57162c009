"""Request and response bodies of the API (pydantic models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from notary.crypto import KeyFormatError, SM2PublicKey
from transfer.db.models import UnitKind, UnitStatus, VolumeKind, VolumeStatus
from transfer.fields import CadreName, Label, UnitCode, UnitName
from transfer.roles import Role

T = TypeVar("T")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")


# --- units and keys -------------------------------------------------------------------


class UnitCreate(BaseModel):
    code: UnitCode = Field(
        description="Organisation code (e.g. 统一社会信用代码), unique in the deployment: "
        "1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit."
    )
    name: UnitName
    kind: UnitKind
    public_key: str | None = Field(
        default=None,
        description="The unit's SM2 public key: 128 hex digits (x‖y) or SubjectPublicKeyInfo "
        "PEM. Omit it for a unit hosted here: its envelope key is then generated.",
    )

    @field_validator("public_key")
    @classmethod
    def _sm2_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        try:
            if value.startswith("-----BEGIN"):
                key = SM2PublicKey.from_pem(value.encode("ascii"))
            else:
                key = SM2PublicKey.from_hex(
                    value.removeprefix("04") if len(value) == 130 else value
                )
        except (KeyFormatError, UnicodeEncodeError) as e:
            raise ValueError(f"not an SM2 public key: {e}") from None
        return key.raw.hex()


class UnitOut(_Out):
    id: uuid.UUID
    code: str
    name: str
    kind: UnitKind
    status: UnitStatus
    public_key_hex: str | None
    key_fingerprint: str | None
    created_at: datetime


class ApiKeyCreate(BaseModel):
    role: Role = Role.OPERATOR
    label: Label | None = None


class ApiKeyOut(_Out):
    id: uuid.UUID
    unit_id: uuid.UUID
    role: Role
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    approved_at: datetime | None = Field(
        description="When the key was approved; it works only from then (null: not yet)."
    )
    issued_by_key_id: uuid.UUID | None = Field(
        description="The administrator key that issued it; null: the server console."
    )
    approved_by_key_id: uuid.UUID | None
    revoked_by_key_id: uuid.UUID | None


class ApiKeyIssued(ApiKeyOut):
    key: str = Field(description="The API key. Shown only in this response; store it now.")


# --- volumes and materials ------------------------------------------------------------


class VolumeCreate(BaseModel):
    cadre_identifier: SecretStr = Field(
        min_length=1,
        max_length=64,
        description="The cadre's identifier (e.g. 身份证号). Only its HMAC-SM3 blinded form is "
        "stored or returned.",
    )
    kind: VolumeKind
    cadre_name: CadreName | None = Field(
        default=None,
        description="The cadre's 姓名 (optional): stored SM4-GCM sealed, with a blinded "
        "index for the custodian's lookup; shown only to the volume's custodian.",
    )


_NAME_DOC = "The cadre's 姓名 (NFKC, whitespace removed); null: none registered."


class VolumeLookup(BaseModel):
    """Exactly one of the two: the cadre's identifier or the cadre's 姓名."""

    cadre_identifier: SecretStr | None = Field(default=None, min_length=1, max_length=64)
    cadre_name: CadreName | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> VolumeLookup:
        given = (self.cadre_identifier is not None) + (self.cadre_name is not None)
        if given != 1:
            raise ValueError(
                "干部身份证号与姓名须填写其中一项，且只填一项"
                if given
                else "请填写干部身份证号或姓名"
            )
        return self


class VolumeNameSet(BaseModel):
    cadre_name: CadreName | None = Field(description="The name; null removes it.")


class VolumeOut(_Out):
    id: uuid.UUID
    cadre_blind_id: str = Field(description="HMAC-SM3 of the cadre identifier (hex).")
    cadre_name: str | None = Field(default=None, description=_NAME_DOC)
    kind: VolumeKind
    custodian_unit_id: uuid.UUID
    status: VolumeStatus
    created_at: datetime


class MaterialVersionOut(_Out):
    id: uuid.UUID
    version: int
    supersedes_id: uuid.UUID | None
    sm3: str
    leaf_index: int | None
    created_at: datetime


class MaterialOut(_Out):
    id: uuid.UUID
    volume_id: uuid.UUID
    lineage_id: uuid.UUID
    version: int
    supersedes_id: uuid.UUID | None
    current: bool = Field(description="No later version supersedes this one.")
    category: str = Field(description="类号: one of the ten categories (1 … 10, 4-1 … 9-4).")
    seq_no: int = Field(description="顺序号 within the category.")
    pages: int = Field(description="页码 (page count).")
    designation: str = Field(description="类号-顺序号-页码, e.g. 4-1-3-12.")
    title: str
    formation_date: date
    sm3: str
    size: int
    media_type: str
    cid: str
    sealed_size: int
    registered_by_unit_id: uuid.UUID
    leaf_index: int | None
    created_at: datetime


class MaterialDetail(MaterialOut):
    versions: list[MaterialVersionOut] = Field(description="Every version, oldest first.")


# --- audit ----------------------------------------------------------------------------


class AlertOut(_Out):
    id: uuid.UUID
    kind: str
    detail: dict[str, object]
    material_id: uuid.UUID | None
    created_at: datetime
    acknowledged_at: datetime | None


class ReadLogOut(_Out):
    id: uuid.UUID
    unit_id: uuid.UUID
    api_key_id: uuid.UUID | None
    handler: str | None = Field(
        default=None, description="经办人: the reading key's handler; null: 未登记"
    )
    material_id: uuid.UUID
    purpose: str
    grant_id: uuid.UUID | None = Field(
        default=None, description="The read grant a reader read under (在线阅档)."
    )
    leaf_index: int | None
    created_at: datetime


class AccessEventOut(_Out):
    id: uuid.UUID
    action: str = Field(
        description="key.issue, key.approve, key.revoke, unit.create, unit.suspend, "
        "unit.reinstate; grant.apply, grant.approve, grant.refuse, grant.revoke (在线阅档)"
    )
    unit_id: uuid.UUID
    actor_key_id: uuid.UUID | None = Field(
        description="The administrator key that did it (null: the server console)."
    )
    console_user: str | None = Field(
        description="The OS user who did it at the server console (null: over the API)."
    )
    key_id: uuid.UUID | None
    role: str | None
    grant_id: uuid.UUID | None = Field(default=None, description="The read grant (grant.*).")
    leaf_index: int | None = Field(description="Its access.event entry in the log.")
    created_at: datetime


class MaterialUploaded(_Out):
    id: uuid.UUID
    volume_id: uuid.UUID
    lineage_id: uuid.UUID
    version: int
    supersedes_id: uuid.UUID | None
    category: str
    sm3: str = Field(description="SM3 of the material as uploaded (hex).")
    size: int
    media_type: str = Field(description="The type judged from the content.")
    cid: str = Field(description="IPFS CIDv1 of the SM4-GCM ciphertext.")
    leaf_index: int = Field(description="The registration entry's position in the log.")
    receipt_url: str = Field(description="The evidence receipt: 202 until anchored, then 200.")
    content_url: str
    created_at: datetime


# --- read grants (在线阅档) -------------------------------------------------------------


Purpose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ReadGrantApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    volume_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=100, description="Volumes to read, all held by one unit."
    )
    categories: list[str] = Field(
        min_length=1, max_length=16, description="类号 to read: 1 … 10, 4-1 … 9-4."
    )
    purpose: Purpose = Field(description="利用目的, logged with every read under the grant.")
    expires_at: datetime = Field(
        description="Until when (timezone-aware; at most 90 days ahead). The grant is valid "
        "from approval until then."
    )

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone (e.g. +08:00 or Z)")
        return value


class ReadGrantRefuse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500, description="驳回理由")


class ReadGrantOut(BaseModel):
    id: uuid.UUID
    reader_key_id: uuid.UUID
    reader_unit_code: str | None
    reader_unit_name: str | None
    holder_unit_code: str | None
    holder_unit_name: str | None
    volume_ids: list[uuid.UUID]
    categories: list[str]
    purpose: str
    expires_at: datetime
    status: str = Field(description="pending, approved, refused or revoked (as stored).")
    state: str = Field(
        description="What the grant is now: pending, approved (valid), expired, refused, revoked."
    )
    decided_by_key_id: uuid.UUID | None
    decided_at: datetime | None
    refusal_reason: str | None
    revoked_by_key_id: uuid.UUID | None
    revoked_at: datetime | None
    created_at: datetime
