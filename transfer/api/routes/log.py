"""The Merkle log: signed checkpoints with their anchors, inclusion and consistency proofs.

Everything here is hashes and signatures (no entry contents), so any authenticated
caller may read it; the proofs verify with :mod:`notary.log` and the checkpoints'
roots against the chain.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.crypto import sm3
from notary.log.merkle import consistency_proof, inclusion_proof, root_at
from transfer.api.deps import CurrentPrincipal, DbSession
from transfer.api.errors import problem_responses
from transfer.api.pagination import Paging
from transfer.api.routes import API_V1
from transfer.db.models import Checkpoint, CheckpointStatus
from transfer.db.treestore import DbTreeStorage
from transfer.services.anchoring import anchor_ref_of
from transfer.services.errors import NotFound, Unprocessable

router = APIRouter(prefix=f"{API_V1}/log", tags=["log"], responses=problem_responses(401, 422))


def _checkpoint_out(row: Checkpoint) -> dict[str, Any]:
    anchor = anchor_ref_of(row)
    return {
        "tree_size": row.tree_size,
        "root": row.root.hex(),
        "timestamp_ms": row.timestamp_ms,
        "status": str(row.status),
        "checkpoint": row.body,
        "anchor": None if anchor is None else anchor.to_json(),
        "anchored_at": None if row.anchored_at is None else row.anchored_at.isoformat(),
        # Operators see why a checkpoint waits (the chain's error type and message).
        "attempts": row.attempts,
        "last_error": row.last_error,
    }


@router.get("/checkpoints", summary="Signed checkpoints, newest first, with their anchors")
def list_checkpoints(
    db: DbSession,
    _: CurrentPrincipal,
    paging: Paging,
    anchored: Annotated[bool | None, Query(description="Only anchored (or pending).")] = None,
) -> dict[str, Any]:
    query = select(Checkpoint)
    if anchored is not None:
        wanted = CheckpointStatus.ANCHORED if anchored else CheckpointStatus.PENDING
        query = query.where(Checkpoint.status == wanted)
    rows = db.scalars(
        query.order_by(Checkpoint.tree_size.desc()).limit(paging.limit + 1).offset(paging.offset)
    ).all()
    more = len(rows) > paging.limit
    return {
        "items": [_checkpoint_out(r) for r in rows[: paging.limit]],
        "limit": paging.limit,
        "offset": paging.offset,
        "next_offset": paging.offset + paging.limit if more else None,
    }


@router.get(
    "/checkpoints/latest",
    responses=problem_responses(404),
    summary="The latest signed checkpoint (or the latest anchored one)",
)
def latest_checkpoint(db: DbSession, _: CurrentPrincipal, anchored: bool = False) -> dict[str, Any]:
    query = select(Checkpoint)
    if anchored:
        query = query.where(Checkpoint.status == CheckpointStatus.ANCHORED)
    row = db.scalars(query.order_by(Checkpoint.tree_size.desc()).limit(1)).first()
    if row is None:
        raise NotFound("the log has no checkpoint yet")
    return _checkpoint_out(row)


def _size(db: Session) -> int:
    return DbTreeStorage(db).size()


@router.get("/inclusion", summary="Inclusion proof of a leaf in the tree of a given size")
def inclusion(
    db: DbSession,
    _: CurrentPrincipal,
    leaf_index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    if leaf_index >= tree_size or tree_size > _size(db):
        raise Unprocessable(
            f"need leaf_index < tree_size <= log size ({_size(db)})", check="inclusion"
        )
    storage = DbTreeStorage(db)
    return {
        "leaf_index": leaf_index,
        "tree_size": tree_size,
        "leaf_hash": storage.get_nodes([(0, leaf_index)])[0].hex(),
        "root": root_at(sm3, storage, tree_size).hex(),
        "proof": [h.hex() for h in inclusion_proof(sm3, storage, leaf_index, tree_size)],
    }


@router.get("/consistency", summary="Consistency proof between two tree sizes")
def consistency(
    db: DbSession,
    _: CurrentPrincipal,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    if first > second or second > _size(db):
        raise Unprocessable(f"need first <= second <= log size ({_size(db)})", check="consistency")
    storage = DbTreeStorage(db)
    return {
        "first": first,
        "second": second,
        "first_root": root_at(sm3, storage, first).hex(),
        "second_root": root_at(sm3, storage, second).hex(),
        "proof": [h.hex() for h in consistency_proof(sm3, storage, first, second)],
    }
