"""``notary receipt print MATERIAL -o F.pdf``: a material's 存证证明 (its evidence
receipt in human form, with a QR code to check it against the chain)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer

from clients.commands._common import DEFAULT_URL, KeyOpt, UrlOpt
from clients.commands.print_forms import save_pdf
from clients.errors import UserError


def receipt_print(
    material_id: Annotated[str, typer.Argument(help="材料 ID。")],
    dest: Annotated[
        Path | None, typer.Option("-o", "--out", help="输出的 PDF 文件（默认 ID-evidence.pdf）。")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
) -> None:
    """打印一份材料的存证证明（A4 PDF，附二维码供扫码核验）。"""
    try:
        uuid.UUID(material_id)
    except ValueError:
        raise UserError(f"材料 ID 格式不正确：{material_id}") from None
    path = dest or Path(f"{material_id}-evidence.pdf")
    save_pdf(
        url, key, path, "存证证明", lambda c, part: c.download_evidence_form(material_id, part)
    )
