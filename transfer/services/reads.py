"""Content reads (利用登记): verify everything, log the read, then hand out the bytes.

Every read goes through :func:`notary.reader.read_verified` (CID, envelope, SM3, log
inclusion, chain anchor). A failure is refused with the failed check named, and
leaves an alert for the security administrator. A successful read is a
``material.read`` log entry and a read-log row, committed together *before* the
content is returned: a read that cannot be recorded does not happen. Concurrent reads'
entries are committed together (``state.read_log``, a :class:`GroupCommit` over
:func:`write_reads`); each read still returns only after its own entry's commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from notary.chain import ChainError
from notary.deployment import DeploymentError
from notary.entries import material_read
from notary.envelope import WrappedKey
from notary.errors import VerificationError
from notary.reader import MaterialRecord, ReadResult, read_verified
from notary.store import StoreUnavailable
from transfer.db.models import Alert, Material, ReadLogEntry
from transfer.db.types import utcnow
from transfer.security import Principal
from transfer.services import access
from transfer.services.context import NotaryContext
from transfer.services.errors import Conflict, ServiceUnavailable, VerificationProblem
from transfer.services.group_commit import GroupCommit
from transfer.services.logwriter import append_entries
from transfer.services.receipts import receipt_state
from transfer.services.state import ServiceState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContentRead:
    material: Material
    result: ReadResult
    read_leaf_index: int


def read_entry(row: ReadLogEntry, unit_code: str) -> dict[str, Any]:
    """The ``material.read`` entry a read-log row stands for (the reader's unit by code):
    derived when the read is logged and again by the audit and provenance."""
    return material_read(
        material_id=str(row.material_id),
        unit=unit_code,
        purpose=row.purpose,
        time_ms=int(row.created_at.timestamp() * 1000),
    )


# A read to log: its read-log row (leaf index not yet set) and the reader's unit code.
LoggedRead = tuple[ReadLogEntry, str]
ReadLog = GroupCommit[LoggedRead, int]


def write_reads(session: Session, reads: Sequence[LoggedRead]) -> list[int]:
    """Append the reads' ``material.read`` entries (in order, one leaf each) and add
    their read-log rows, not committed; their leaf indices."""
    leaves = append_entries(session, [read_entry(row, code) for row, code in reads])
    for (row, _), leaf in zip(reads, leaves, strict=True):
        row.leaf_index = leaf
    session.add_all([row for row, _ in reads])
    return list(leaves)


def new_read_log(write_sessions: sessionmaker[Session]) -> ReadLog:
    return GroupCommit(write_sessions, write_reads)


def record_alert(
    state: ServiceState, kind: str, material_id: uuid.UUID | None, detail: dict[str, Any]
) -> None:
    try:
        with state.write_sessions() as s:
            s.add(Alert(kind=kind, material_id=material_id, detail=detail))
            s.commit()
    except Exception:  # the refusal stands even if the alert cannot be written
        log.exception("无法记录告警 %s（材料 %s）", kind, material_id)


def read_content(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    material_id: uuid.UUID,
    purpose: str,
    *,
    grant_id: uuid.UUID | None = None,
) -> ContentRead:
    """``caller``: the holding unit's principal (for a reader, the holding unit acting
    under ``grant_id``, transfer/services/read_grants.py), logged with the read."""

    def on_failure(error: VerificationError) -> None:
        state.metrics.verify_failures.labels("read", error.check).inc()
        record_alert(
            state,
            "integrity",
            material_id,
            {
                "check": error.check,
                "message": str(error)[:1000],
                "unit": caller.unit_code,
                "during": "content read",
            },
        )

    def refusal(error: VerificationError) -> VerificationProblem:
        return VerificationProblem(
            error.check,
            f"material {material_id} failed the '{error.check}' check: {error}",
            own_evidence=True,
        )

    # The material, its data key and its receipt in one read transaction (one session
    # per read, not two: issue 19's profile counted the round trips).
    with state.sessions() as s:
        material = access.held_material(s, material_id, caller.unit_id)
        key_row = access.active_key(s, caller.unit_id, material.id)
        if key_row is None:
            raise Conflict(f"material {material_id} has no data key wrapped for your unit")
        if material.leaf_index is None:
            raise Conflict(f"material {material_id} has no log entry")
        try:
            # Assembled as stored, not checked: read_verified checks it, once.
            receipt = receipt_state(
                s, material.leaf_index, ctx.log_public_key, checked=False
            ).receipt
        except VerificationError as e:  # a stored checkpoint that does not even parse
            on_failure(e)
            raise refusal(e) from None
    try:
        holder = ctx.unit_key(caller.unit_code)
    except DeploymentError:
        raise Conflict(f"unit {caller.unit_code}'s envelope key is not hosted here") from None
    record = MaterialRecord(
        material_id=str(material.id),
        sm3=bytes.fromhex(material.sm3),
        cid=material.cid,
        wrapped_key=WrappedKey(bytes.fromhex(key_row.key_fingerprint), key_row.wrapped),
    )

    try:
        result = read_verified(
            ctx.store,
            record,
            holder,
            receipt=receipt,
            log_keys=[ctx.log_public_key],
            chain=ctx.deployment.chain,
            require_anchor=state.settings.read_requires_anchor,
            on_failure=on_failure,
            memo=ctx.verified,
        )
    except VerificationError as e:
        raise refusal(e) from None
    except (StoreUnavailable, ChainError) as e:
        raise ServiceUnavailable(
            f"cannot verify now: {type(e).__name__}", retry_after_s=5
        ) from None

    row = ReadLogEntry(
        unit_id=caller.unit_id,
        api_key_id=caller.key_id,
        handler=caller.handler,
        material_id=material.id,
        purpose=purpose,
        grant_id=grant_id,
        created_at=utcnow(),
    )
    leaf = state.read_log((row, caller.unit_code))  # returns once committed
    state.metrics.content_reads.inc()
    return ContentRead(material, result, leaf)
