"""Material upload (ingest): multipart, streamed, checked by content, durable before 201."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Request, Response, status

from transfer.api.deps import Notary, StateDep, require
from transfer.api.errors import problem_responses
from transfer.api.routes import API_V1
from transfer.api.schemas import MaterialUploaded
from transfer.api.streams import body_reader
from transfer.roles import Permission
from transfer.security import Principal
from transfer.services.ingest import ingest_material, parse_declared_sm3

router = APIRouter(
    prefix=f"{API_V1}/volumes", tags=["materials"], responses=problem_responses(401, 403, 422)
)

Ingester = Annotated[Principal, Depends(require(Permission.MATERIALS_INGEST))]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "category", "seq_no", "pages", "title", "formation_date"],
                    "properties": {
                        "category": {
                            "type": "string",
                            "description": "类号: 1, 2, 3, 4-1…4-4, 5, 6, 7, 8, 9-1…9-4, 10",
                            "example": "4-1",
                        },
                        "seq_no": {"type": "integer", "minimum": 1, "description": "顺序号"},
                        "pages": {"type": "integer", "minimum": 1, "description": "页码"},
                        "title": {"type": "string", "maxLength": 500},
                        "formation_date": {"type": "string", "format": "date"},
                        "supersedes": {
                            "type": "string",
                            "format": "uuid",
                            "description": "A correction: the material id of the version it "
                            "replaces (which stays in the history).",
                        },
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PDF, TIFF, JPEG, PNG or OFD (judged by content). "
                            "Send it after the other fields.",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/{volume_id}/materials",
    status_code=status.HTTP_201_CREATED,
    response_model=MaterialUploaded,
    responses=problem_responses(400, 404, 409, 413, 415, 503),
    summary="Upload a material (or a corrected version of one)",
    description="Streamed: the body is sealed (SM4-GCM) and stored as it arrives, never "
    "written to disk in plaintext. With `X-Content-SM3` the upload is sealed in one pass "
    "and refused at the end if the content does not match. Answered only once the "
    "material and its log entry are committed; the evidence receipt at `receipt_url` "
    "completes when the next checkpoint is anchored (within the checkpoint interval).",
    openapi_extra=_UPLOAD_BODY,
)
async def upload_material(
    volume_id: uuid.UUID,
    request: Request,
    response: Response,
    state: StateDep,
    notary: Notary,
    caller: Ingester,
    x_content_sm3: Annotated[
        str | None, Header(description="The material's SM3 (64 hex digits), if known.")
    ] = None,
) -> MaterialUploaded:
    declared = parse_declared_sm3(x_content_sm3)
    pull = body_reader(request)
    length = request.headers.get("content-length")

    def work() -> Any:
        return ingest_material(
            state,
            notary,
            caller,
            volume_id,
            content_type=request.headers.get("content-type"),
            content_length=int(length) if length and length.isdigit() else None,
            declared_sm3=declared,
            pull=pull,
        )

    material = await anyio.to_thread.run_sync(work)
    state.metrics.uploads.inc()
    state.metrics.upload_bytes.inc(material.size)
    response.headers["Location"] = f"{API_V1}/materials/{material.id}"
    return MaterialUploaded.model_validate(
        {
            **{
                k: getattr(material, k)
                for k in MaterialUploaded.model_fields
                if hasattr(material, k)
            },
            "receipt_url": f"{API_V1}/materials/{material.id}/receipt",
            "content_url": f"{API_V1}/materials/{material.id}/content",
        }
    )
