"""The service's tables (SQLAlchemy 2 declarative).

Every change here needs an Alembic revision in ``transfer/db/migrations/versions``;
``tests/transfer/service/test_migrations.py`` fails when models and migrations disagree.

Types are chosen to mean the same on SQLite and PostgreSQL: ``Uuid`` (CHAR(32) /
UUID), ``LargeBinary`` (BLOB / BYTEA), ``JSON``, :class:`UTCDateTime`, :class:`Digest`
(an SM3 digest: 32 bytes stored, hex in the application), and enums as VARCHAR + CHECK.
Nothing here is ever deleted or updated in place where history matters: a corrected
material is a new row (``supersedes_id``), a revoked key keeps its row (``revoked_at``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from notary.entries import CATEGORIES
from transfer.db.types import Digest, UTCDateTime, str_enum, utcnow
from transfer.roles import Role
from transfer.workflow.state import State as TransferState  # the state machine lives there

# Deterministic constraint names, so later migrations can address them on both
# databases (SQLite batch mode needs names to drop or alter a constraint).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UnitKind(enum.StrEnum):
    ARCHIVE_CENTRE = "archive_centre"  # 档案中心
    UNIT = "unit"  # 单位 (sends and receives)
    AUDITOR = "auditor"  # 审核/纪检
    ADMIN = "admin"  # 组织部 / the deployment's own administration


class UnitStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class VolumeKind(enum.StrEnum):
    MAIN = "main"  # 正本
    COPY = "copy"  # 副本


class VolumeStatus(enum.StrEnum):
    HELD = "held"  # with its custodian
    IN_TRANSFER = "in_transfer"  # dispatched, no receipt yet
    TRANSFERRED_OUT = "transferred_out"  # custody moved to another deployment


class CheckpointStatus(enum.StrEnum):
    PENDING = "pending"
    ANCHORED = "anchored"


class CustodyEventKind(enum.StrEnum):
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    RECEIVED = "received"
    REJECTED = "rejected"
    RETURNED = "returned"


def _new_id() -> uuid.UUID:
    return uuid.uuid4()


_category_list = ", ".join(f"'{c}'" for c in CATEGORIES)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    # Organisation code (e.g. 统一社会信用代码); what people and other deployments use.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[UnitKind] = mapped_column(str_enum(UnitKind, "unit_kind"))
    # The unit's SM2 key for signing legal acts (dispatch, receipt, rejection) and
    # for receiving wrapped data keys; administrative units may have none.
    public_key_hex: Mapped[str | None] = mapped_column(String(128))
    key_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[UnitStatus] = mapped_column(
        str_enum(UnitStatus, "unit_status"), default=UnitStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"), index=True)
    # SM3 of the key text. Keys are 256-bit random, so a fast hash is as good as a
    # slow one here, and lets every request authenticate with one indexed lookup.
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The first characters of the key, so staff can tell keys apart in lists.
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 三员分立: a key works once approved. Issued over the API (by the system
    # administrator), it is approved by the security administrator; issued at the
    # server console, when created. Who did each (None: the server console).
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    approved_by_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    revoked_by_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class AccessEvent(Base):
    """A change of who may do what (三员分立): a key issued, approved or revoked, a unit
    created, suspended or reinstated, over the API or at the server console; each one a log entry
    (``access.event``, :func:`transfer.services.access_log.access_entry`)."""

    __tablename__ = "access_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    action: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"), index=True)
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # None: the console
    # The OS user who made the change at the server console (null: over the API).
    console_user: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    role: Mapped[str | None] = mapped_column(String(16))
    # The read grant a ``grant.*`` event is about (在线阅档).
    grant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReadGrantStatus(enum.StrEnum):
    PENDING = "pending"  # 待审批
    APPROVED = "approved"  # 已批准 (valid until expires_at)
    REFUSED = "refused"  # 未批准
    REVOKED = "revoked"  # 已撤销


class ReadGrant(Base):
    """A 查阅申请 and, once approved, the time-limited grant (分级授权) it becomes: which
    reader (key) may read which categories of which volumes (all held by one unit), why,
    until when. Its steps are access events (``grant.*``); reads under it name it."""

    __tablename__ = "read_grants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    reader_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id"), index=True)
    reader_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"))
    holder_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"), index=True)
    volume_ids: Mapped[list[str]] = mapped_column(JSON)
    categories: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ReadGrantStatus] = mapped_column(
        str_enum(ReadGrantStatus, "read_grant_status"), default=ReadGrantStatus.PENDING
    )
    decided_by_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Volume(Base):
    __tablename__ = "volumes"
    __table_args__ = (
        # One 正本 per cadre; 副本 may be held by several units.
        Index(
            "uq_volumes_main_per_cadre",
            "cadre_blind_id",
            unique=True,
            sqlite_where=text("kind = 'main'"),
            postgresql_where=text("kind = 'main'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    # HMAC-SM3 of the cadre identifier under the deployment secret; the identifier
    # itself is never stored.
    cadre_blind_id: Mapped[str] = mapped_column(String(64), index=True)
    # The cadre's 姓名, optional (transfer/cadre_names.py): its blinded index under a
    # key derived from the same secret, and the name SM4-GCM sealed with the volume id
    # as associated data. Never in clear, never in a log entry or a notice.
    cadre_name_blind: Mapped[str | None] = mapped_column(String(64), index=True)
    cadre_name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    kind: Mapped[VolumeKind] = mapped_column(str_enum(VolumeKind, "volume_kind"))
    custodian_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[VolumeStatus] = mapped_column(
        str_enum(VolumeStatus, "volume_status"), default=VolumeStatus.HELD
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Material(Base):
    """One version of one material. A correction is a new row superseding the old one."""

    __tablename__ = "materials"
    __table_args__ = (
        CheckConstraint(f"category IN ({_category_list})", name="category"),
        CheckConstraint("version >= 1", name="version_positive"),
        UniqueConstraint("lineage_id", "version"),
        Index("ix_materials_volume_order", "volume_id", "category", "seq_no"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    volume_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volumes.id"))
    # The id of version 1; all versions of a material share it.
    lineage_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Unique: history is a line, never a tree (one correction per version).
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("materials.id"), unique=True)
    # 类号-顺序号-页码: the category is the 类号 (one of the ten categories).
    category: Mapped[str] = mapped_column(String(8))
    seq_no: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    formation_date: Mapped[date] = mapped_column(Date)
    sm3: Mapped[str] = mapped_column(Digest, index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    cid: Mapped[str] = mapped_column(String(128))
    sealed_size: Mapped[int] = mapped_column(BigInteger)
    registered_by_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"))
    # Set when the registration entry is appended to the log.
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaterialKey(Base):
    """A material's SM4 data key, SM2-wrapped for one unit (digital envelope)."""

    __tablename__ = "material_keys"
    __table_args__ = (UniqueConstraint("material_id", "unit_id", "key_fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Looked up by the unique index, which starts with material_id (0012).
    material_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("materials.id"))
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"))
    key_fingerprint: Mapped[str] = mapped_column(Digest)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    # A transfer re-wraps for the receiver and deactivates the sender's wrapping.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogLeaf(Base):
    """An entry of the Merkle log: canonical entry bytes and SM3(0x00 ‖ entry)."""

    __tablename__ = "log_leaves"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogSubject(Base):
    """The log's subject index: leaf ``leaf_index`` is an entry of ``kind`` about
    ``subject`` (:func:`notary.entries.entry_subject`: a volume's custody entries by its
    blinded reference, a material's reads by its id, a transfer's steps by its id).

    Written with the leaf, in the same transaction (``DbTreeStorage.put_entries``), and
    derivable from the log alone. A finder, never evidence: an audit that reads the log
    through it checks every row it lists against the leaf it points at, and every
    logged row against it (docs/service.md, "The log's subject index")."""

    __tablename__ = "log_subjects"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class LogNode(Base):
    """A complete subtree hash: level 0 are leaf hashes, level k covers 2**k leaves."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Checkpoint(Base):
    """A signed checkpoint and its anchoring state (the anchoring outbox)."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    # The signed checkpoint document exactly as issued (notary.checkpoint JSON form).
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[CheckpointStatus] = mapped_column(
        str_enum(CheckpointStatus, "checkpoint_status"),
        default=CheckpointStatus.PENDING,
        index=True,
    )
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    chain_id: Mapped[int | None] = mapped_column(BigInteger)
    contract: Mapped[str | None] = mapped_column(String(42))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    anchored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustodyEvent(Base):
    __tablename__ = "custody_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    volume_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volumes.id"), index=True)
    kind: Mapped[CustodyEventKind] = mapped_column(str_enum(CustodyEventKind, "custody_kind"))
    from_unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("units.id"))
    to_unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("units.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReadLogEntry(Base):
    """利用登记: one content read (who, when, which material, why)."""

    __tablename__ = "read_log"
    __table_args__ = (Index("ix_read_log_unit_time", "unit_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id"))
    # 经办人: the name the key was issued for, at the time of the read (None: 未登记).
    handler: Mapped[str | None] = mapped_column(String(200))
    material_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("materials.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    # The read grant a reader read under (在线阅档); None: the holding unit's own read.
    grant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("read_grants.id"), index=True)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Alert(Base):
    """Something the security administrator must look at (integrity failure, overdue...)."""

    __tablename__ = "alerts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    material_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("materials.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---------------------------------------------------------------- transfers (转递)


class TransferDirection(enum.StrEnum):
    OUTGOING = "outgoing"  # the sender is hosted here, the receiver in another deployment
    INCOMING = "incoming"  # the receiver is hosted here, the sender elsewhere
    INTERNAL = "internal"  # both units are hosted by this deployment


class TransferPeer(Base):
    """How a unit appears on chain: its account, and for a unit of another deployment
    the log key of that deployment (to check the evidence receipts it sends)."""

    __tablename__ = "transfer_peers"

    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"), primary_key=True)
    chain_account: Mapped[str] = mapped_column(String(42), unique=True)
    # SM2 public key (hex x‖y) of the peer deployment's log; None for hosted units.
    log_public_key_hex: Mapped[str | None] = mapped_column(String(128))
    # A hosted unit with a chain account of its own (keys/units/<code>.chain): True.
    hosted: Mapped[bool] = mapped_column(Boolean, default=False)
    # The peer centre (``peer_centres.code``) hosting a peer unit; None for hosted units.
    centre_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PeerCentre(Base):
    """Another archive centre this deployment transfers with. Everything here was read
    from the centre itself and checked against the chain's member registry at
    ``checked_block`` (transfer/services/federation.py); nothing is entered by hand."""

    __tablename__ = "peer_centres"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    chain_account: Mapped[str] = mapped_column(String(42), unique=True)
    log_public_key_hex: Mapped[str] = mapped_column(String(128))
    # The centre's IPFS node (loopback multiaddrs with peer id): its packages come from it.
    ipfs_addresses: Mapped[list[str]] = mapped_column(JSON)
    checked_block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Transfer(Base):
    """One transfer (转递) as this deployment sees it. Updated under optimistic locking
    (``row_version``); the history is in ``transfer_events``, which is append-only."""

    __tablename__ = "transfers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_new_id)
    # The notice's transfer_id: what acts and the chain refer to.
    transfer_id: Mapped[str] = mapped_column(String(64), unique=True)
    transfer_no: Mapped[str] = mapped_column(String(64))
    direction: Mapped[TransferDirection] = mapped_column(
        str_enum(TransferDirection, "transfer_direction")
    )
    state: Mapped[TransferState] = mapped_column(
        str_enum(TransferState, "transfer_state"), default=TransferState.CREATED, index=True
    )
    sender_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"), index=True)
    receiver_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"), index=True)
    notice: Mapped[dict[str, Any]] = mapped_column(JSON)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    package_root: Mapped[str | None] = mapped_column(String(64))
    package_cid: Mapped[str | None] = mapped_column(String(128))
    dispatch_act: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dispatch_hash: Mapped[str | None] = mapped_column(String(64))
    outcome_act: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # receipt or rejection
    outcome_hash: Mapped[str | None] = mapped_column(String(64))
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A dispatch or rejection signed and committed here before its chain transactions
    # (transfer.services.transfer_outbox): a crash between the chain and the next commit
    # is finished from it, with the same act, instead of leaving the two disagreeing.
    chain_intent: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A dispatch to a unit of a peer centre: when that centre took it in (None: the
    # transfer outbox keeps offering it).
    peer_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    # Optimistic locking: every ORM update checks and bumps row_version, so that of two
    # concurrent writers (two instances on one PostgreSQL) the second fails (409).
    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - SQLAlchemy reads it once


class TransferVolume(Base):
    __tablename__ = "transfer_volumes"
    __table_args__ = (UniqueConstraint("transfer_pk", "notice_volume_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transfer_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("transfers.id"), index=True)
    # The volume's id in the notice (the sender's volume id).
    notice_volume_id: Mapped[str] = mapped_column(String(64))
    # The local volume: the sender's here, or the one created on receipt.
    volume_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volumes.id"), index=True)
    chain_volume_id: Mapped[str] = mapped_column(String(64), index=True)
    # The dispatch's number on chain (ArchiveNotary.getTransfer), its tx and the outcome tx.
    chain_transfer_no: Mapped[int | None] = mapped_column(Integer)
    dispatch_tx: Mapped[str | None] = mapped_column(String(66))
    outcome_tx: Mapped[str | None] = mapped_column(String(66))


class TransferEvent(Base):
    """Append-only: one row per transition, with its log leaf (and chain tx)."""

    __tablename__ = "transfer_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transfer_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("transfers.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("units.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    tx_hashes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TransferResult(Base):
    """The receiver's per-material 四性 judgement (the latest verification)."""

    __tablename__ = "transfer_results"
    __table_args__ = (UniqueConstraint("transfer_pk", "material_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transfer_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("transfers.id"), index=True)
    material_id: Mapped[str] = mapped_column(String(64))
    authenticity: Mapped[str] = mapped_column(String(8))
    completeness: Mapped[str] = mapped_column(String(8))
    usability: Mapped[str] = mapped_column(String(8))
    security: Mapped[str] = mapped_column(String(8))
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ActNonce(Base):
    """Every accepted act's nonce, per signing unit: a nonce is never accepted twice."""

    __tablename__ = "act_nonces"
    __table_args__ = (UniqueConstraint("unit_code", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_code: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    transfer_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("transfers.id"))
    act_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
