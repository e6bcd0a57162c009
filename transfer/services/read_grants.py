"""在线阅档: 查阅申请 → 审批 → a time-limited grant (分级授权), and the check every read by
a reader passes.

Who does what (三员分立, transfer/roles.py):

- a ``reader`` applies to read given categories (类号) of given volumes, all held by one
  unit, for a purpose (利用目的), until a time (at most :data:`MAX_GRANT_DAYS` days);
- an ``operator`` of the unit that holds those volumes approves or refuses the
  application, and may revoke a grant — archive work of the holding unit: the three
  administrators read no archive data and decide nothing here;
- the auditor lists every grant.

Each step is an ``access_events`` row and an anchored ``access.event`` entry naming the
grant, committed with the step. A reader's read passes :func:`grant_for_read` first (a
refusal names what is missing, in Chinese) and is logged (利用登记) with the grant's
purpose and id (:func:`read_purpose`) and the grant on the read-log row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.entries import CATEGORIES
from transfer.db.models import ApiKey, Material, ReadGrant, ReadGrantStatus, Unit, Volume
from transfer.roles import Permission, Role
from transfer.security import Principal
from transfer.services.access_log import record_access
from transfer.services.context import NotaryContext
from transfer.services.errors import Conflict, Forbidden, NotFound, Unprocessable
from transfer.services.reads import ContentRead, read_content
from transfer.services.state import ServiceState

MAX_GRANT_DAYS = 90
_CATEGORY_ORDER = {c: i for i, c in enumerate(CATEGORIES)}

# What a grant is at a given time (its stored status, and expiry of an approved one).
STATE_ZH = {
    "pending": "待审批",
    "approved": "有效",
    "expired": "已过期",
    "refused": "未批准",
    "revoked": "已撤销",
}


def grant_state(grant: ReadGrant, now: datetime) -> str:
    if grant.status is ReadGrantStatus.APPROVED and grant.expires_at <= now:
        return "expired"
    return str(grant.status)


def _fmt(t: datetime) -> str:
    # Staff read times in Beijing time (the console's zone, docs/console.md).
    return (t + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") + "（北京时间）"


def _category_list(categories: list[str]) -> str:
    return "、".join(f"第 {c} 类" for c in categories)


class GrantRefused(Forbidden):
    """A read the grants do not allow (403); ``reason`` says which rule, the detail says
    it in Chinese."""

    slug = "read-grant"
    title = "Read not granted"


def _invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(
        "1 field(s) are invalid",
        errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )


def apply(
    s: Session,
    caller: Principal,
    *,
    volume_ids: list[uuid.UUID],
    categories: list[str],
    purpose: str,
    expires_at: datetime,
    now: datetime,
) -> ReadGrant:
    """A reader's 查阅申请 (pending until an operator of the holding unit decides)."""
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown:
        raise _invalid("categories", f"不是干部档案的类号：{'、'.join(unknown)}")
    if expires_at <= now:
        raise _invalid("expires_at", "查阅截止时间必须晚于现在")
    if expires_at > now + timedelta(days=MAX_GRANT_DAYS):
        raise _invalid("expires_at", f"查阅期限最长 {MAX_GRANT_DAYS} 天")
    volumes = [s.get(Volume, v) for v in dict.fromkeys(volume_ids)]
    missing = [str(v) for v, row in zip(dict.fromkeys(volume_ids), volumes, strict=True) if not row]
    if missing:
        raise NotFound(f"案卷不存在：{'、'.join(missing)}。请核对案卷编号。")
    holders = {v.custodian_unit_id for v in volumes if v is not None}
    if len(holders) != 1:
        raise Conflict("所申请的案卷不由同一单位保管，请按保管单位分开申请。")
    holder = s.get(Unit, holders.pop())
    assert holder is not None
    grant = ReadGrant(
        reader_key_id=caller.key_id,
        reader_unit_id=caller.unit_id,
        holder_unit_id=holder.id,
        volume_ids=[str(v.id) for v in volumes if v is not None],
        categories=sorted(set(categories), key=_CATEGORY_ORDER.__getitem__),
        purpose=purpose,
        expires_at=expires_at,
        status=ReadGrantStatus.PENDING,
        created_at=now,
    )
    s.add(grant)
    s.flush()
    _record(s, "grant.apply", grant, holder, caller)
    return grant


def _record(s: Session, action: str, grant: ReadGrant, holder: Unit, actor: Principal) -> None:
    reader_key = s.get(ApiKey, grant.reader_key_id)
    record_access(s, action, holder, actor.key_id, reader_key, grant_id=grant.id)


def _decidable(s: Session, caller: Principal, grant_id: uuid.UUID) -> tuple[ReadGrant, Unit]:
    grant = s.get(ReadGrant, grant_id)
    if grant is None:
        raise NotFound(f"查阅申请 {grant_id} 不存在。")
    if grant.holder_unit_id != caller.unit_id:
        raise Forbidden(
            "只有保管这些案卷的单位的经办人员才能审批或撤销这项查阅申请。",
            rule="holder-decides",
        )
    if grant.reader_key_id == caller.key_id:  # a key never decides on its own application
        raise Forbidden("不能审批自己提出的查阅申请。", rule="separation-of-duties")
    holder = s.get(Unit, grant.holder_unit_id)
    assert holder is not None
    return grant, holder


def _not_pending(grant: ReadGrant, now: datetime) -> Conflict:
    return Conflict(
        f"该查阅申请当前为“{STATE_ZH[grant_state(grant, now)]}”，不能再审批。",
        state=grant_state(grant, now),
    )


def approve(s: Session, caller: Principal, grant_id: uuid.UUID, now: datetime) -> ReadGrant:
    grant, holder = _decidable(s, caller, grant_id)
    if grant.status is not ReadGrantStatus.PENDING:
        raise _not_pending(grant, now)
    if grant.expires_at <= now:
        raise Conflict("申请的查阅截止时间已过，不能批准。请驳回，由查阅人重新申请。")
    grant.status = ReadGrantStatus.APPROVED
    grant.decided_by_key_id = caller.key_id
    grant.decided_at = now
    _record(s, "grant.approve", grant, holder, caller)
    return grant


def refuse(
    s: Session, caller: Principal, grant_id: uuid.UUID, reason: str | None, now: datetime
) -> ReadGrant:
    grant, holder = _decidable(s, caller, grant_id)
    if grant.status is not ReadGrantStatus.PENDING:
        raise _not_pending(grant, now)
    grant.status = ReadGrantStatus.REFUSED
    grant.decided_by_key_id = caller.key_id
    grant.decided_at = now
    grant.refusal_reason = reason
    _record(s, "grant.refuse", grant, holder, caller)
    return grant


def revoke(s: Session, caller: Principal, grant_id: uuid.UUID, now: datetime) -> ReadGrant:
    grant, holder = _decidable(s, caller, grant_id)
    if grant.status is ReadGrantStatus.REVOKED:
        return grant  # revoking twice keeps the first time
    if grant.status is not ReadGrantStatus.APPROVED:
        raise Conflict(
            f"该查阅申请当前为“{STATE_ZH[grant_state(grant, now)]}”，只有已批准的授权才能撤销。",
            state=grant_state(grant, now),
        )
    grant.status = ReadGrantStatus.REVOKED
    grant.revoked_by_key_id = caller.key_id
    grant.revoked_at = now
    _record(s, "grant.revoke", grant, holder, caller)
    return grant


def visible_grants(s: Session, caller: Principal, *, everything: bool) -> list[ReadGrant]:
    """A reader's own applications; an operator's unit's (as holder); the auditor's: all."""
    query = select(ReadGrant)
    if not everything:
        if caller.role is Role.READER:
            query = query.where(ReadGrant.reader_key_id == caller.key_id)
        else:
            query = query.where(ReadGrant.holder_unit_id == caller.unit_id)
    return list(s.scalars(query.order_by(ReadGrant.created_at.desc(), ReadGrant.id)))


def visible_grant(
    s: Session, caller: Principal, grant_id: uuid.UUID, *, everything: bool
) -> ReadGrant:
    grant = s.get(ReadGrant, grant_id)
    mine = grant is not None and (
        everything
        or grant.reader_key_id == caller.key_id
        or (caller.role is not Role.READER and grant.holder_unit_id == caller.unit_id)
    )
    if grant is None or not mine:
        raise NotFound(f"查阅申请 {grant_id} 不存在。")
    return grant


@dataclass(frozen=True, slots=True)
class GrantedRead:
    """What a reader's read runs under: the grant, and the holding unit whose data key
    opens the material."""

    grant: ReadGrant
    holder: Principal


def grant_for_read(
    s: Session, caller: Principal, material_id: uuid.UUID, now: datetime
) -> GrantedRead:
    """The grant that lets ``caller`` (a reader) read this material now, or a refusal in
    Chinese naming what is missing: no grant for the volume, not yet approved, refused,
    revoked, expired, or the material's category not granted."""
    material = s.get(Material, material_id)
    if material is None:
        raise NotFound(f"材料 {material_id} 不存在。")
    volume = str(material.volume_id)
    mine = [
        g
        for g in s.scalars(select(ReadGrant).where(ReadGrant.reader_key_id == caller.key_id))
        if volume in g.volume_ids
    ]
    by_state: dict[str, list[ReadGrant]] = {}
    for g in mine:
        by_state.setdefault(grant_state(g, now), []).append(g)
    valid = [g for g in by_state.get("approved", []) if g.holder_unit_id == _holder_of(s, material)]
    granted = next((g for g in valid if material.category in g.categories), None)
    if granted is not None:
        holder = s.get(Unit, granted.holder_unit_id)
        assert holder is not None
        return GrantedRead(
            granted,
            Principal(
                key_id=caller.key_id,
                unit_id=holder.id,
                unit_code=holder.code,
                role=caller.role,
                unit_active=True,
            ),
        )
    if valid:
        allowed = sorted({c for g in valid for c in g.categories}, key=_CATEGORY_ORDER.__getitem__)
        raise GrantRefused(
            f"查阅授权不含第 {material.category} 类材料（已授权：{_category_list(allowed)}）。"
            "如需查阅，请另提查阅申请。",
            reason="category-not-granted",
            category=material.category,
        )
    if by_state.get("approved"):
        raise GrantRefused(
            "该案卷已移交其他单位保管，原查阅授权不再适用。请向现保管单位提出查阅申请。",
            reason="holder-changed",
        )
    if by_state.get("expired"):
        last = max(g.expires_at for g in by_state["expired"])
        raise GrantRefused(
            f"查阅授权已于 {_fmt(last)}到期。如需继续查阅，请重新提出查阅申请。",
            reason="expired",
        )
    if by_state.get("revoked"):
        raise GrantRefused(
            "查阅授权已被保管单位撤销。如需查阅，请重新提出查阅申请。", reason="revoked"
        )
    if by_state.get("pending"):
        raise GrantRefused("查阅申请尚未审批，批准后才能查阅。", reason="pending")
    raise GrantRefused(
        "没有查阅该案卷的授权（或申请未获批准）。请先提出查阅申请，经保管单位批准后查阅。",
        reason="no-grant",
    )


def _holder_of(s: Session, material: Material) -> uuid.UUID:
    volume = s.get(Volume, material.volume_id)
    assert volume is not None
    return volume.custodian_unit_id


def read_purpose(granted: GrantedRead, reader_unit_code: str) -> str:
    """The purpose a reader's read is logged with (利用登记): the grant's purpose, its id
    and the reader's unit, in the anchored ``material.read`` entry itself."""
    return f"{granted.grant.purpose}（查阅授权 {granted.grant.id}，查阅单位 {reader_unit_code}）"


def granted_materials(s: Session, grant: ReadGrant, now: datetime) -> list[Material]:
    """The current materials of the grant's categories in its volumes, in 类号-序号
    order (category in the standard's order, then 序号)."""
    if grant_state(grant, now) != "approved":
        return []
    rows: list[Material] = []
    for v in grant.volume_ids:
        volume = s.get(Volume, uuid.UUID(v))
        if volume is None or volume.custodian_unit_id != grant.holder_unit_id:
            continue
        rows += [
            m
            for m in s.scalars(select(Material).where(Material.volume_id == volume.id))
            if m.category in grant.categories
        ]
    superseded = {m.supersedes_id for m in rows if m.supersedes_id is not None}
    current = [m for m in rows if m.id not in superseded]
    current.sort(key=lambda m: (str(m.volume_id), _CATEGORY_ORDER[m.category], m.seq_no))
    return current


def grant_view(s: Session, grant: ReadGrant, now: datetime) -> dict[str, Any]:
    holder = s.get(Unit, grant.holder_unit_id)
    reader = s.get(Unit, grant.reader_unit_id)
    return {
        "id": grant.id,
        "reader_key_id": grant.reader_key_id,
        "reader_unit_code": None if reader is None else reader.code,
        "reader_unit_name": None if reader is None else reader.name,
        "holder_unit_code": None if holder is None else holder.code,
        "holder_unit_name": None if holder is None else holder.name,
        "volume_ids": [uuid.UUID(v) for v in grant.volume_ids],
        "categories": list(grant.categories),
        "purpose": grant.purpose,
        "expires_at": grant.expires_at,
        "status": grant.status,
        "state": grant_state(grant, now),
        "decided_by_key_id": grant.decided_by_key_id,
        "decided_at": grant.decided_at,
        "refusal_reason": grant.refusal_reason,
        "revoked_by_key_id": grant.revoked_by_key_id,
        "revoked_at": grant.revoked_at,
        "created_at": grant.created_at,
    }


def verified_read(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    material_id: uuid.UUID,
    purpose: str,
    now: datetime,
) -> ContentRead:
    """A verified, logged content read by whoever calls: an operator reads what its unit
    holds (as before); a reader reads only within a valid grant, logged with it."""
    if caller.can(Permission.CONTENT_READ):
        return read_content(state, ctx, caller, material_id, purpose)
    if not caller.can(Permission.GRANTED_READ):
        raise Forbidden(
            f"role '{caller.role}' does not grant '{Permission.CONTENT_READ}'",
            role=str(caller.role),
            permission=str(Permission.CONTENT_READ),
        )
    with state.sessions() as s:
        granted = grant_for_read(s, caller, material_id, now)
    return read_content(
        state,
        ctx,
        granted.holder,
        material_id,
        read_purpose(granted, caller.unit_code),
        grant_id=granted.grant.id,
    )
