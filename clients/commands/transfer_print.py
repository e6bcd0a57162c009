"""``notary transfer print ID --form notice|list|receipt|rejection -o F.pdf``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from clients.commands._common import DEFAULT_URL, KeyOpt, UrlOpt
from clients.commands.print_forms import save_pdf


class Form(StrEnum):
    NOTICE = "notice"
    LIST = "list"
    RECEIPT = "receipt"
    REJECTION = "rejection"


FORM_ZH = {
    Form.NOTICE: "干部人事档案转递通知单",
    Form.LIST: "转递材料目录",
    Form.RECEIPT: "回执",
    Form.REJECTION: "退回单",
}


def transfer_print(
    transfer_id: Annotated[str, typer.Argument(help="转递 ID。")],
    form: Annotated[
        Form,
        typer.Option(
            "--form",
            help="notice 转递通知单（含回执联）、list 转递材料目录、"
            "receipt 回执、rejection 退回单。",
        ),
    ] = Form.NOTICE,
    dest: Annotated[
        Path | None, typer.Option("-o", "--out", help="输出的 PDF 文件（默认 ID-表单.pdf）。")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
) -> None:
    """打印转递文书（A4 PDF，附二维码供扫码核验）。"""
    path = dest or Path(f"{transfer_id}-{form.value}.pdf")
    save_pdf(
        url,
        key,
        path,
        FORM_ZH[form],
        lambda c, part: c.download_transfer_form(transfer_id, form.value, part),
    )
