"""Material metadata. Materials are created by upload (ingest); a correction is a
new version that supersedes the old one, and every version stays readable."""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse

from notary.errors import VerificationError
from transfer.api.deps import CurrentPrincipal, DbSession, Notary, StateDep, enforce, require
from transfer.api.errors import problem_responses
from transfer.api.materials_view import material_detail
from transfer.api.routes import API_V1
from transfer.api.routes.read_grants import ReadClock
from transfer.api.schemas import MaterialDetail
from transfer.roles import Permission
from transfer.security import Principal
from transfer.services.access import held_material
from transfer.services.errors import (
    Conflict,
    NotFound,
    Unprocessable,
    UnsupportedMediaType,
    VerificationProblem,
)
from transfer.services.pages import PageUnavailable, render_page
from transfer.services.provenance import Keys, material_timeline
from transfer.services.read_grants import verified_read
from transfer.services.reads import ContentRead
from transfer.services.receipts import receipt_state

router = APIRouter(
    prefix=f"{API_V1}/materials", tags=["materials"], responses=problem_responses(401, 403, 422)
)

MaterialReader = Annotated[Principal, Depends(require(Permission.MATERIALS_READ))]


class UnsupportedPage(UnsupportedMediaType):
    slug = "page-unsupported"


def _content_reader(caller: CurrentPrincipal) -> Principal:
    """An operator (its unit's volumes) or a reader (within a grant, checked per read)."""
    if not caller.can(Permission.GRANTED_READ):
        enforce(caller, Permission.CONTENT_READ)
    return caller


ContentReader = Annotated[Principal, Depends(_content_reader)]


def _read_headers(read: ContentRead) -> dict[str, str]:
    return {
        "X-Content-SM3": read.material.sm3,
        "X-Notary-Checks": ",".join(read.result.checks),
        "X-Notary-Anchored": "true" if read.result.anchored else "false",
        "X-Notary-Read-Leaf": str(read.read_leaf_index),
        "Cache-Control": "no-store",
    }


@router.get(
    "/{material_id}",
    response_model=MaterialDetail,
    responses=problem_responses(404),
    summary="A material's metadata and its version history",
)
def get_material(material_id: uuid.UUID, db: DbSession, caller: MaterialReader) -> MaterialDetail:
    material = held_material(db, material_id, caller.unit_id)
    return material_detail(db, material)


@router.get(
    "/{material_id}/receipt",
    responses={
        200: {"description": "The complete evidence receipt (docs/receipt-format.md)."},
        202: {
            "description": "Anchoring pending: `{status: pending, leaf_index, receipt}` where "
            "`receipt` has `anchor: null` (or is null before the first checkpoint)."
        },
        **problem_responses(404, 409),
    },
    summary="The material's evidence receipt (pending until anchored)",
)
def get_receipt(
    material_id: uuid.UUID, state: StateDep, notary: Notary, caller: MaterialReader
) -> JSONResponse:
    with state.sessions() as s:
        material = held_material(s, material_id, caller.unit_id)
        if material.leaf_index is None:
            raise Conflict(f"material {material_id} has no log entry")
        try:
            rs = receipt_state(s, material.leaf_index, notary.log_public_key)
        except VerificationError as e:  # the stored evidence fails: a named refusal
            raise VerificationProblem(
                e.check, f"material {material_id}'s stored evidence fails: {e}", own_evidence=True
            ) from None
    if rs.receipt is not None and rs.receipt.anchor is not None:
        return JSONResponse(rs.receipt.to_json())
    retry = max(1, math.ceil(state.settings.checkpoint_interval_s))
    return JSONResponse(
        {
            "status": "pending",
            "leaf_index": material.leaf_index,
            "receipt": None if rs.receipt is None else rs.receipt.to_json(),
        },
        status_code=202,
        headers={"Retry-After": str(retry)},
    )


@router.get(
    "/{material_id}/content",
    response_class=Response,
    responses={
        200: {"description": "The verified material.", "content": {"application/pdf": {}}},
        **problem_responses(404, 409, 503),
    },
    summary="Read a material (verified, and recorded in the read log)",
    description="Every check runs before a byte is returned: CID of every block, the "
    "data-key envelope and SM4-GCM tag, SM3, the log entry and inclusion in a signed "
    "checkpoint, and the chain anchor once there is one. A failure is a 409 problem whose "
    "`type` ends in the failed check (`verification-content`, `verification-envelope`, "
    "…) and an alert. A successful read is a `material.read` log entry (利用登记). A "
    "reader reads only within a valid read grant (`/v1/read-grants`); otherwise a 403 "
    "whose `reason` is `no-grant`, `pending`, `expired`, `revoked` or "
    "`category-not-granted`, its detail in Chinese; the grant's purpose and id are logged.",
)
async def get_content(
    material_id: uuid.UUID,
    state: StateDep,
    notary: Notary,
    caller: ContentReader,
    clock: ReadClock,
    purpose: Annotated[
        str,
        Query(min_length=1, max_length=200, description="Why the material is read (利用目的)."),
    ],
) -> Response:
    read = await anyio.to_thread.run_sync(
        verified_read, state, notary, caller, material_id, purpose.strip(), clock(),
        limiter=state.content_reads,
    )  # fmt: skip
    # A view of the verified buffer: no copy of the material on the way out.
    return Response(
        memoryview(read.result.content),
        media_type=read.material.media_type,
        headers=_read_headers(read),
    )


@router.get(
    "/{material_id}/pages/{page}",
    response_class=Response,
    responses={
        200: {
            "description": "The page as an image: a PDF page or TIFF frame rendered to PNG; "
            "a JPEG or PNG material as it is (page 1). `X-Page-Count` gives the pages.",
            "content": {"image/png": {}, "image/jpeg": {}},
        },
        **problem_responses(404, 409, 415, 503),
    },
    summary="One page of a material as an image (a verified, logged read)",
    description="Each call is one verified read, logged like `/content` (利用登记), then "
    "the page is rendered. Readers: within a grant, as for `/content`; `purpose` is "
    "then the grant's. Operators: `purpose` is required.",
)
async def get_page(
    material_id: uuid.UUID,
    state: StateDep,
    notary: Notary,
    caller: ContentReader,
    clock: ReadClock,
    page: Annotated[int, Path(ge=1, le=100_000, description="Page number, from 1.")],
    purpose: Annotated[
        str | None,
        Query(max_length=200, description="利用目的 (required of operators)."),
    ] = None,
) -> Response:
    why = (purpose or "").strip()
    if not why and caller.can(Permission.CONTENT_READ):
        raise Unprocessable(
            "1 field(s) are invalid",
            errors=[{"loc": ["query", "purpose"], "msg": "请填写利用目的", "type": "missing"}],
        )
    read = await anyio.to_thread.run_sync(
        verified_read, state, notary, caller, material_id, why or "在线阅档", clock(),
        limiter=state.content_reads,
    )  # fmt: skip
    try:
        shown = await anyio.to_thread.run_sync(
            render_page, read.result.content, read.material.media_type, page
        )
    except PageUnavailable as e:
        if e.reason == "no-such-page":
            raise NotFound(str(e), reason=e.reason, page_count=e.count) from None
        raise UnsupportedPage(str(e), reason=e.reason) from None
    headers = _read_headers(read) | {
        "X-Page": str(shown.number),
        "X-Page-Count": str(shown.count),
    }
    return Response(shown.content, media_type=shown.media_type, headers=headers)


@router.get(
    "/{material_id}/provenance",
    responses=problem_responses(404),
    summary="The material's timeline: versions, custody events and reads, with proofs",
)
def material_provenance(
    material_id: uuid.UUID, state: StateDep, notary: Notary, caller: MaterialReader
) -> dict[str, Any]:
    with state.sessions() as s:
        material = held_material(s, material_id, caller.unit_id)
        items = material_timeline(s, material, Keys(state.blinding_secret, notary.log_public_key))
    return {"material_id": str(material_id), "lineage_id": str(material.lineage_id), "items": items}
