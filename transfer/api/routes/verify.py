"""The verify API for archive systems: by uploaded file, by SM3, or by evidence receipt."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from notary.crypto import SM3
from transfer.api.deps import get_notary, require, state_of
from transfer.api.errors import problem_responses
from transfer.api.routes import API_V1
from transfer.api.streams import body_reader
from transfer.roles import Permission
from transfer.security import Principal
from transfer.services.errors import BadRequest, PayloadTooLarge, Unprocessable
from transfer.services.ingest import FORM_OVERHEAD
from transfer.services.multipart import (
    MAX_FIELD_BYTES,
    MAX_FIELDS,
    FilePart,
    FormError,
    PartInfo,
    StreamingForm,
)
from transfer.services.problems_zh import field_problem
from transfer.services.verify import (
    disclosed_answer,
    disclosed_registration,
    verify_receipt_request,
)

router = APIRouter(
    prefix=f"{API_V1}/verify", tags=["verify"], responses=problem_responses(401, 403, 422)
)

Verifier = Annotated[Principal, Depends(require(Permission.VERIFY))]
_SM3 = r"^[0-9a-fA-F]{64}$"


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sm3: str | None = Field(default=None, pattern=_SM3, description="SM3 of the material (hex).")
    receipt: dict[str, Any] | None = Field(
        default=None, description="An evidence receipt (docs/receipt-format.md)."
    )


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/VerifyRequest"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


def _hash_upload(content_type: str | None, pull: Any, limit: int) -> bytes:
    form = StreamingForm(content_type, pull)
    digest: bytes | None = None
    size = 0

    def count(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the file exceeds the limit of {limit} bytes", limit=limit)

    parts = 0
    while True:
        kind, payload = form.next_event()
        if kind == "eof":
            break
        if kind != "begin" or not isinstance(payload, PartInfo):
            raise FormError("unexpected multipart structure")
        parts += 1
        if parts > MAX_FIELDS:
            raise FormError("too many form parts")
        # Other parts are ignored, never held: a field within a field's limit, another
        # file within the upload limit.
        if payload.filename is None:
            form.skip_part(MAX_FIELD_BYTES)
            continue
        if payload.name != "file" or digest is not None:
            FilePart(form, count).drain()
            continue
        h = SM3()
        part = FilePart(form, count)
        while chunk := part.read(1 << 20):
            h.update(chunk)
        digest = h.digest()
    if digest is None:
        raise Unprocessable("the form has no file part named 'file'")
    return digest


@router.post(
    "",
    summary="Verify a material by file, SM3 or evidence receipt",
    description='JSON `{"sm3": hex}` or `{"receipt": {...}}` (optionally with `sm3` to '
    "bind the receipt to a material), or multipart with a `file` (hashed as it streams, "
    "never stored). By SM3 or file: `found`, and for each registration when, by which "
    "unit, which version, the checkpoint, the chain anchor and the receipt; an unknown "
    "SM3 is `found: false`. By receipt: read by the strict receipt parser (duplicate "
    "keys, unknown fields and a missing or null `anchor` are format errors) and checked "
    "as the stand-alone verifier does, against this deployment's chain; `valid: true` "
    "only when every step, the on-chain anchor included, passed (`offline_checks` lists "
    "the offline steps). A failure is a 422 problem whose `check` names the failed step "
    "and whose `type` ends in it (`verification-format`, `verification-inclusion`, "
    "`verification-anchor`, …); when only the anchor fails it carries `offline_checks`.",
    responses=problem_responses(400, 413, 503),
    openapi_extra=_BODY,
)
async def verify(request: Request, caller: Verifier) -> dict[str, Any]:
    # The hot path of archive systems: state and deployment without two more
    # dependencies for FastAPI to solve on every call (benches/results/load.md).
    state = state_of(request)
    notary = await get_notary(state)
    # By SM3 or by file: one lookup, batched with the concurrent callers'.
    lookup = state.sm3_lookups
    assert lookup is not None  # wired with the deployment (``notary``)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        limit = state.settings.upload_max_bytes
        uploaded = await _uploaded_digest(request, content_type, limit)
        return disclosed_answer(await lookup(uploaded), caller)
    raw = await request.body()
    try:
        body = VerifyRequest.model_validate_json(raw)
    except ValidationError as e:
        raise field_problem(e.errors()) from None
    digest = None if body.sm3 is None else bytes.fromhex(body.sm3.lower())
    if body.receipt is not None:
        # The model has read the body leniently (a duplicate key: last one wins); the
        # receipt is read again from the raw bytes by the one strict parser.
        checked = await anyio.to_thread.run_sync(
            lambda: verify_receipt_request(state, notary, raw, digest)
        )
        registration = checked["registration"]
        if registration is not None:
            checked["registration"] = disclosed_registration(registration, caller)
        return checked
    if digest is None:
        raise Unprocessable("give 'sm3', 'receipt', or upload a 'file'")
    return disclosed_answer(await lookup(digest), caller)


async def _uploaded_digest(request: Request, content_type: str, limit: int) -> bytes:
    """The SM3 of the form's ``file`` part, hashed in a worker thread as it streams."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + FORM_OVERHEAD:
        raise PayloadTooLarge(f"the file exceeds the limit of {limit} bytes", limit=limit)
    pull = body_reader(request)

    def hash_file() -> bytes:
        try:
            return _hash_upload(content_type, pull, limit)
        except FormError as e:
            raise BadRequest(str(e)) from None

    return await anyio.to_thread.run_sync(hash_file)
