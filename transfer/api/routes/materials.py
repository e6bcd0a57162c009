"""Material metadata. Materials are created by upload (ingest); a correction is a
new version that supersedes the old one, and every version stays readable."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from transfer.api.deps import DbSession, require
from transfer.api.errors import NotFound, problem_responses
from transfer.api.materials_view import material_detail
from transfer.api.routes import API_V1
from transfer.api.routes.volumes import held_volume
from transfer.api.schemas import MaterialDetail
from transfer.db.models import Material
from transfer.roles import Permission
from transfer.security import Principal

router = APIRouter(
    prefix=f"{API_V1}/materials", tags=["materials"], responses=problem_responses(401, 403, 422)
)

MaterialReader = Annotated[Principal, Depends(require(Permission.MATERIALS_READ))]


@router.get(
    "/{material_id}",
    response_model=MaterialDetail,
    responses=problem_responses(404),
    summary="A material's metadata and its version history",
)
def get_material(material_id: uuid.UUID, db: DbSession, caller: MaterialReader) -> MaterialDetail:
    material = db.get(Material, material_id)
    if material is None:
        raise NotFound(f"material {material_id} does not exist or is not held by your unit")
    try:
        held_volume(db, material.volume_id, caller)
    except NotFound:
        raise NotFound(
            f"material {material_id} does not exist or is not held by your unit"
        ) from None
    return material_detail(db, material)
