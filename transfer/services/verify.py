"""The verify API for archive systems: is this material (or receipt) what was notarised?

By SM3 (or an uploaded file, hashed as it streams and never stored): every
registration of that digest, with when, by which unit, which version, its checkpoint,
its chain anchor and its evidence receipt. An unknown digest is an answer
(``found: false``), not an error.

By receipt: the receipt is read from the request's bytes by the one strict parser
(``notary.receipts.parse_receipt``) and checked exactly as the stand-alone verifier
does (one :class:`~notary.verifier.ReceiptVerifier` trusting the chain's registry); a
failure is a problem whose ``type`` and ``check`` name the failed check.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session, aliased

from notary.chain import ChainError
from notary.entries import MATERIAL_REGISTERED
from notary.errors import FormatError, VerificationError
from notary.receipts import parse_receipt, read_json
from notary.verifier import ReceiptVerifier, TrustPolicy
from transfer.db.models import Material, Unit, Volume
from transfer.roles import sees_every_registration
from transfer.security import Principal
from transfer.services.context import NotaryContext
from transfer.services.errors import ServiceUnavailable, VerificationProblem
from transfer.services.receipts import receipt_state
from transfer.services.state import ServiceState


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class Registration:
    """What a verify answer says about one stored material, read in one query."""

    material_id: uuid.UUID
    version: int
    supersedes_id: uuid.UUID | None
    superseded_by: uuid.UUID | None
    category: str
    unit_code: str | None
    created_at: datetime
    leaf_index: int | None
    registrar_unit_id: uuid.UUID | None
    custodian_unit_id: uuid.UUID | None


_successor = aliased(Material)
# Columns, not entities, executed on a Connection (SQLAlchemy Core): verify-by-SM3 is
# the API's hot read path, and the ORM's instance loading plus two follow-up queries
# per match (unit, successor) were most of its database time under load.
_REGISTRATIONS = select(
    Material.id,
    Material.version,
    Material.supersedes_id,
    select(_successor.id)
    .where(_successor.supersedes_id == Material.id)
    .correlate(Material)
    .scalar_subquery(),
    Material.category,
    Unit.code,
    Material.created_at,
    Material.leaf_index,
    Material.registered_by_unit_id,
    Volume.custodian_unit_id,
).join_from(Material, Unit, Material.registered_by_unit_id == Unit.id, isouter=True)
_REGISTRATIONS = _REGISTRATIONS.join(Volume, Material.volume_id == Volume.id, isouter=True)
_BY_SM3 = (
    _REGISTRATIONS.add_columns(Material.sm3)
    .where(Material.sm3.in_(bindparam("sm3s", expanding=True)))
    .order_by(Material.created_at)
)
_BY_ID = _REGISTRATIONS.where(Material.id == bindparam("id"))


def registration_by_id(conn: Connection, material_id: uuid.UUID) -> Registration | None:
    row = conn.execute(_BY_ID, {"id": material_id}).first()
    # Ten columns: past SQLAlchemy's typed select() overloads.
    values: tuple[Any, ...] | None = None if row is None else tuple(row)
    return None if values is None else Registration(*values)


def describe_registration(
    session: Session, ctx: NotaryContext, reg: Registration
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "material_id": str(reg.material_id),
        "version": reg.version,
        "supersedes": None if reg.supersedes_id is None else str(reg.supersedes_id),
        "current": reg.superseded_by is None,
        "superseded_by": None if reg.superseded_by is None else str(reg.superseded_by),
        "category": reg.category,
        "unit": reg.unit_code,
        "registered_at": _iso(reg.created_at),
        "leaf_index": reg.leaf_index,
        "anchored": False,
        "anchored_at": None,
        "checkpoint": None,
        "chain": None,
        "receipt": None,
        # Who may see all of it (disclosed_to); never sent as such.
        HOLDERS: frozenset(
            str(u) for u in (reg.registrar_unit_id, reg.custodian_unit_id) if u is not None
        ),
    }
    if reg.leaf_index is None:
        return out
    out.update(_proof_part(session, ctx, reg.material_id, reg.leaf_index))
    return out


HOLDERS = "_holders"
#: What a verify answer tells a unit about another unit's registration: that it exists,
#: when, and the anchored evidence of its log position (checkpoint, chain anchor) — not
#: the material id, version history, category, registering unit or the receipt (whose
#: entry names the volume's blinded reference). SECURITY.md §2.
FOREIGN_FIELDS = ("registered_at", "leaf_index", "anchored", "anchored_at", "checkpoint", "chain")


def disclosed_registration(reg: dict[str, Any], caller: Principal) -> dict[str, Any]:
    """``reg`` (from :func:`describe_registration`) as ``caller`` may see it: all of it
    if the caller's unit registered the material or holds its volume, or the caller is
    the deployment's audit administrator (安全审计员, who oversees every unit);
    otherwise only :data:`FOREIGN_FIELDS`. A new dict: answers are shared by batched
    callers."""
    held = str(caller.unit_id) in reg[HOLDERS]
    if held or sees_every_registration(caller.role):
        return {k: v for k, v in reg.items() if k != HOLDERS} | {"held": held}
    return {k: reg[k] for k in FOREIGN_FIELDS} | {"held": False}


def disclosed_answer(answer: dict[str, Any], caller: Principal) -> dict[str, Any]:
    """A verify-by-SM3 answer with each registration as :func:`disclosed_registration`."""
    return answer | {
        "registrations": [disclosed_registration(r, caller) for r in answer["registrations"]]
    }


def _proof_part(
    session: Session, ctx: NotaryContext, material_id: uuid.UUID, leaf_index: int
) -> dict[str, Any]:
    """checkpoint, receipt, anchored, anchored_at, chain — from the cache once anchored."""
    cached = ctx.anchored.get(leaf_index)
    if cached is not None:
        return cached
    try:
        state = receipt_state(session, leaf_index, ctx.log_public_key)
    except VerificationError as e:
        # The notary's own stored evidence fails: say which check, never a bare 500.
        raise VerificationProblem(
            e.check,
            f"the stored evidence of material {material_id} fails the '{e.check}' check: {e}",
            own_evidence=True,
        ) from None
    if state.receipt is None or state.checkpoint is None:
        return {}
    cp = state.receipt.checkpoint.checkpoint
    part: dict[str, Any] = {
        "checkpoint": {
            "tree_size": cp.tree_size,
            "root": cp.root.hex(),
            "timestamp_ms": cp.timestamp_ms,
            "log_id": cp.log_id.hex(),
        },
        "receipt": state.receipt.to_json(),
    }
    if state.receipt.anchor is not None:
        part["anchored"] = True
        part["anchored_at"] = _iso(state.checkpoint.anchored_at)
        part["chain"] = state.receipt.anchor.to_json()
        ctx.anchored.put(leaf_index, part)
    return part


def verify_sm3_many(
    state: ServiceState, ctx: NotaryContext, digests: Sequence[bytes]
) -> list[dict[str, Any] | Exception]:
    """The answers for several digests, from one query in one transaction (the verify
    route batches concurrent callers, :mod:`transfer.api.batching`). A digest whose
    stored evidence fails gets its :class:`VerificationProblem`; the others still
    get their answers."""
    found: dict[str, list[Registration]] = {d.hex(): [] for d in digests}
    with state.sessions() as s:
        # The session's connection, so that a registration not yet in the anchored
        # cache reads its proof in the same transaction (one snapshot).
        rows = s.connection().execute(_BY_SM3, {"sm3s": list(found)})
        for *columns, sm3 in rows:
            found[sm3].append(Registration(*columns))
        answers: list[dict[str, Any] | Exception] = []
        for digest in digests:
            try:
                matches = [describe_registration(s, ctx, r) for r in found[digest.hex()]]
            except VerificationProblem as e:
                answers.append(e)
                continue
            answers.append(
                {
                    "found": bool(matches),
                    "sm3": digest.hex(),
                    "anchored": any(m["anchored"] for m in matches),
                    "registrations": matches,
                }
            )
    return answers


# The offline steps of docs/receipt-format.md §6, in order, by check id. "entry" is
# skipped when no material SM3 is given; the log key is not pinned here: the anchor
# step binds it to an archive-centre member on chain.
OFFLINE_STEPS = ("format", "log-key", "entry", "checkpoint-signature", "inclusion")


def _offline_checks(material_sm3: bytes | None) -> dict[str, str]:
    return {
        step: "skipped" if step == "entry" and material_sm3 is None else "passed"
        for step in OFFLINE_STEPS
    }


def verify_receipt_request(
    state: ServiceState, ctx: NotaryContext, body: bytes, material_sm3: bytes | None
) -> dict[str, Any]:
    """``POST /v1/verify`` with a receipt: the receipt is read from the request's own
    bytes by the one strict parser (a lenient reader has already dropped a duplicate
    key, keeping whichever copy it likes), then verified as the stand-alone verifier
    does, the anchor included.

    The answer says ``valid: true`` only when every step passed, the on-chain anchor
    included; any failure is a 422 problem whose ``check`` names the step (the CLI's
    check ids). When only the anchor fails, the problem's ``offline_checks`` says what
    was proved offline — never a ``valid`` a client could take for the whole proof.
    """
    passed: dict[str, str] | None = None
    try:
        request = read_json(body)
        doc = request.get("receipt") if isinstance(request, dict) else None
        if not isinstance(doc, dict):
            raise FormatError("'receipt' must be a JSON object")
        receipt = parse_receipt(doc)
        # Any member's receipt: the chain's member registry binds its log key.
        receipts = ReceiptVerifier(TrustPolicy.registry(), ctx.deployment.chain)
        offline = receipts.check_offline(receipt, material_sm3=material_sm3)
        passed = _offline_checks(material_sm3)
        anchor = receipts.check_anchor(receipt)
    except VerificationError as e:
        state.metrics.verify_failures.labels("receipt", e.check).inc()
        # offline_checks only when they all passed and the anchor failed (None is left
        # out of the problem document).
        raise VerificationProblem(
            e.check, f"回执未通过「{e.check}」核验：{e}", offline_checks=passed
        ) from None
    except ChainError as e:
        raise ServiceUnavailable(
            f"the chain cannot be read now: {type(e).__name__}", retry_after_s=5
        ) from None
    entry = offline.entry
    registration = None
    material_id = entry.get("material_id")
    # Only a receipt of this log describes one of our registrations: a receipt under
    # another key that names our material id and leaf index is not paired with it.
    this_log = offline.key_fingerprint == ctx.log_public_key.fingerprint()
    if isinstance(material_id, str) and this_log and entry.get("type") == MATERIAL_REGISTERED:
        try:
            wanted = uuid.UUID(material_id)
        except ValueError:
            wanted = None
        if wanted is not None:
            with state.sessions() as s:
                reg = registration_by_id(s.connection(), wanted)
                if reg is not None and reg.leaf_index == offline.leaf_index:
                    registration = describe_registration(s, ctx, reg)
    return {
        "valid": True,
        "offline_checks": passed,
        "anchored": True,
        "anchor": anchor.to_json(),
        "entry": entry,
        "leaf_index": offline.leaf_index,
        "tree_size": offline.tree_size,
        "root": offline.root.hex(),
        "log_id": offline.log_id.hex(),
        "log_key_fingerprint": offline.key_fingerprint.hex(),
        "this_log": this_log,
        "material_checked": material_sm3 is not None,
        "registration": registration,
    }
