"""The verify API for archive systems: is this material (or receipt) what was notarised?

By SM3 (or an uploaded file, hashed as it streams and never stored): every
registration of that digest, with when, by which unit, which version, its checkpoint,
its chain anchor and its evidence receipt. An unknown digest is an answer
(``found: false``), not an error.

By receipt: the receipt is checked exactly as the stand-alone verifier does
(``verify_offline`` + ``verify_anchor`` against this deployment's chain); a failure is
a problem whose ``type`` names the failed check.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.anchoring import verify_anchor
from notary.chain import ChainError
from notary.errors import VerificationError
from notary.receipts import parse_receipt, verify_offline
from transfer.api.errors import ServiceUnavailable
from transfer.api.state import AppState
from transfer.db.models import Material, Unit
from transfer.services.context import NotaryContext
from transfer.services.problems import VerificationProblem
from transfer.services.receipts import receipt_state


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def describe_registration(
    session: Session, ctx: NotaryContext, material: Material
) -> dict[str, Any]:
    unit = session.get(Unit, material.registered_by_unit_id)
    superseded_by = session.scalar(select(Material.id).where(Material.supersedes_id == material.id))
    out: dict[str, Any] = {
        "material_id": str(material.id),
        "version": material.version,
        "supersedes": None if material.supersedes_id is None else str(material.supersedes_id),
        "current": superseded_by is None,
        "superseded_by": None if superseded_by is None else str(superseded_by),
        "category": material.category,
        "unit": None if unit is None else unit.code,
        "registered_at": _iso(material.created_at),
        "leaf_index": material.leaf_index,
        "anchored": False,
        "anchored_at": None,
        "checkpoint": None,
        "chain": None,
        "receipt": None,
    }
    if material.leaf_index is None:
        return out
    out.update(_proof_part(session, ctx, material))
    return out


def _proof_part(session: Session, ctx: NotaryContext, material: Material) -> dict[str, Any]:
    """checkpoint, receipt, anchored, anchored_at, chain — from the cache once anchored."""
    assert material.leaf_index is not None
    cached = ctx.anchored.get(material.leaf_index)
    if cached is not None:
        return cached
    try:
        state = receipt_state(session, material.leaf_index, ctx.log_public_key)
    except VerificationError as e:
        # The notary's own stored evidence fails: say which check, never a bare 500.
        raise VerificationProblem(
            e.check,
            f"the stored evidence of material {material.id} fails the '{e.check}' check: {e}",
            status=409,
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
        ctx.anchored.put(material.leaf_index, part)
    return part


def verify_sm3(state: AppState, ctx: NotaryContext, digest: bytes) -> dict[str, Any]:
    with state.sessions() as s:
        rows = s.scalars(
            select(Material).where(Material.sm3 == digest.hex()).order_by(Material.created_at)
        ).all()
        matches = [describe_registration(s, ctx, m) for m in rows]
    return {
        "found": bool(matches),
        "sm3": digest.hex(),
        "anchored": any(m["anchored"] for m in matches),
        "registrations": matches,
    }


def verify_receipt_doc(
    state: AppState, ctx: NotaryContext, doc: Any, material_sm3: bytes | None
) -> dict[str, Any]:
    try:
        receipt = parse_receipt(doc)
        offline = verify_offline(receipt, material_sm3=material_sm3)
        anchor = None if receipt.anchor is None else verify_anchor(receipt, ctx.deployment.chain)
    except VerificationError as e:
        state.metrics.verify_failures.labels("receipt", e.check).inc()
        raise VerificationProblem(
            e.check, f"the receipt fails the '{e.check}' check: {e}"
        ) from None
    except ChainError as e:
        raise ServiceUnavailable(
            f"the chain cannot be read now: {type(e).__name__}", headers={"Retry-After": "5"}
        ) from None
    entry = offline.entry
    registration = None
    material_id = entry.get("material_id")
    # Only a receipt of this log describes one of our registrations: a receipt under
    # another key that names our material id and leaf index is not paired with it.
    if isinstance(material_id, str) and offline.key_fingerprint == ctx.log_public_key.fingerprint():
        with state.sessions() as s:
            import uuid

            try:
                material = s.get(Material, uuid.UUID(material_id))
            except ValueError:
                material = None
            if material is not None and material.leaf_index == offline.leaf_index:
                registration = describe_registration(s, ctx, material)
    return {
        "valid": True,
        "anchored": anchor is not None,
        "entry": entry,
        "leaf_index": offline.leaf_index,
        "tree_size": offline.tree_size,
        "root": offline.root.hex(),
        "log_id": offline.log_id.hex(),
        "log_key_fingerprint": offline.key_fingerprint.hex(),
        "this_log": offline.key_fingerprint == ctx.log_public_key.fingerprint(),
        "material_checked": material_sm3 is not None,
        "anchor": None if anchor is None else anchor.to_json(),
        "registration": registration,
    }
