"""Printable forms (A4 PDF) and the check their QR codes lead to.

``GET /v1/transfers/{id}/forms/{notice|list|receipt|rejection}.pdf`` for a party to
the transfer, ``GET /v1/materials/{id}/evidence.pdf`` for the unit holding the
material, and ``GET /v1/check?v=1&t=…`` — the check of a printed form's reference
against the chain (docs/qr-format.md). The check needs no API key: whoever holds the
paper may check it, and the answer only confirms or contradicts what it prints.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from transfer.api.deps import Notary, StateDep, require
from transfer.api.errors import problem_responses
from transfer.api.routes import API_V1
from transfer.forms.documents import Fill
from transfer.forms.pdf import FontMissing
from transfer.forms.qr import RefError, parse_ref
from transfer.roles import Permission
from transfer.security import Principal
from transfer.services import forms
from transfer.services.check import check_ref
from transfer.services.errors import ServiceUnavailable, Unprocessable

router = APIRouter(prefix=API_V1, tags=["forms"])

Operator = Annotated[Principal, Depends(require(Permission.TRANSFERS))]
MaterialReader = Annotated[Principal, Depends(require(Permission.MATERIALS_READ))]
_PDF: dict[int | str, dict[str, Any]] = {
    200: {"description": "An A4 PDF.", "content": {"application/pdf": {}}}
}


def _base_url(request: Request, public_url: str) -> str:
    return public_url or str(request.base_url)


async def _render(fn: Callable[..., bytes], *args: Any) -> bytes:
    """Render off the event loop; a machine without the CJK font answers 503 in Chinese
    (an operator's fix: install fonts-wqy-microhei), not 500."""
    try:
        return await run_in_threadpool(fn, *args)
    except FontMissing as e:
        raise ServiceUnavailable(str(e)) from None


def _pdf(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/transfers/{transfer_id}/forms/{form}.pdf",
    response_class=Response,
    responses={**_PDF, **problem_responses(401, 403, 404, 409, 422, 503)},
    summary="A transfer's form: 转递通知单, 转递材料目录, 回执 or 退回单 (A4 PDF with QR)",
)
async def transfer_form(
    transfer_id: str,
    form: forms.TransferForm,
    request: Request,
    state: StateDep,
    ctx: Notary,
    caller: Operator,
) -> Response:
    base = _base_url(request, state.settings.public_url)
    data = await _render(forms.transfer_pdf, state, ctx, caller, transfer_id, form, base)
    return _pdf(data, f"{transfer_id}-{form.value}.pdf")


class FillIn(BaseModel):
    """Names written on the notice at print time: rendered, never stored or logged."""

    model_config = ConfigDict(extra="forbid")

    cadre_name: str | None = Field(
        default=None, min_length=1, max_length=50, description="干部姓名"
    )
    handler: str | None = Field(default=None, min_length=1, max_length=50, description="经办人")


@router.post(
    "/transfers/{transfer_id}/forms/{form}.pdf",
    response_class=Response,
    responses={**_PDF, **problem_responses(401, 403, 404, 409, 422, 503)},
    summary="A transfer's form with the names the clerk fills in (干部姓名, 经办人)",
    description="As the GET, with a JSON body of the names to print on the 转递通知单. "
    "They are rendered into this PDF only: the service stores no names, and a body, "
    "unlike a query string, is not in any access log.",
)
async def transfer_form_filled(
    transfer_id: str,
    form: forms.TransferForm,
    body: FillIn,
    request: Request,
    state: StateDep,
    ctx: Notary,
    caller: Operator,
) -> Response:
    base = _base_url(request, state.settings.public_url)
    fill = Fill(body.cadre_name, body.handler)
    data = await _render(forms.transfer_pdf, state, ctx, caller, transfer_id, form, base, fill)
    return _pdf(data, f"{transfer_id}-{form.value}.pdf")


@router.get(
    "/materials/{material_id}/evidence.pdf",
    response_class=Response,
    responses={**_PDF, **problem_responses(401, 403, 404, 409, 422, 503)},
    summary="A material's 存证证明 (its evidence receipt in human form, A4 PDF with QR)",
)
async def evidence_form(
    material_id: uuid.UUID, request: Request, state: StateDep, ctx: Notary, caller: MaterialReader
) -> Response:
    base = _base_url(request, state.settings.public_url)
    data = await _render(forms.evidence_pdf, state, ctx, caller, material_id, base)
    return _pdf(data, f"{material_id}-evidence.pdf")


def _param(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


# Declared for the schema only: the handler reads the raw query, so that a repeated or
# unknown key is refused (parse_ref) rather than silently dropped.
_CHECK_PARAMS = {
    "parameters": [
        _param("v", "format version: 1", required=True),
        _param("t", "transfer | receipt | rejection | material", required=True),
        _param("id", "transfer id or material id", required=True),
        _param("c", "chain id (decimal)"),
        _param("root", "package root (64 hex)"),
        _param("h", "SM3 of the receipt or rejection act (64 hex)"),
        _param("sm3", "the material's SM3 (64 hex)"),
        _param("n", "the material's log position"),
        _param("tx", "transaction hashes, comma-separated"),
    ]
}


@router.get(
    "/check",
    openapi_extra=_CHECK_PARAMS,
    responses=problem_responses(422, 429, 503),
    summary="Check a printed form's QR reference against the chain (no API key)",
    description="The query string is the reference's fragment (docs/qr-format.md): "
    "`v=1&t=transfer|receipt|rejection|material&id=…` with `c`, `root`, `h`, `sm3`, `n`, "
    "`tx` as printed. `valid` is true when every field agrees with the chain; otherwise "
    "`mismatches` names each field that does not, with the chain's value.",
)
async def check(request: Request, state: StateDep, ctx: Notary) -> dict[str, Any]:
    try:
        ref = parse_ref(request.url.query)
    except RefError as e:
        raise Unprocessable(f"二维码内容无法识别：{e}") from None
    return await run_in_threadpool(check_ref, state, ctx, ref)
