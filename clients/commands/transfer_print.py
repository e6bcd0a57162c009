"""``notary transfer print ID --form notice|list|receipt|rejection -o F.pdf``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from clients.commands._common import DEFAULT_URL, KeyOpt, UrlOpt
from clients.commands.print_forms import save_pdf
from clients.errors import UserError


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
    cadre_name: Annotated[
        str | None,
        typer.Option("--cadre-name", help="通知单上的干部姓名（仅用于打印，服务不保存）。"),
    ] = None,
    handler: Annotated[
        str | None, typer.Option("--handler", help="通知单上的经办人（仅用于打印）。")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
) -> None:
    """打印转递文书（A4 PDF，附二维码供扫码核验）。"""
    if (cadre_name or handler) and form is not Form.NOTICE:
        raise UserError("--cadre-name 与 --handler 只用于转递通知单（--form notice）")
    for option, value in (("--cadre-name", cadre_name), ("--handler", handler)):
        if value is not None and not 0 < len(value.strip()) <= 50:
            raise UserError(f"{option} 须为 1 至 50 个字符")
    path = dest or Path(f"{transfer_id}-{form.value}.pdf")
    save_pdf(
        url,
        key,
        path,
        FORM_ZH[form],
        lambda c, part: c.download_transfer_form(
            transfer_id,
            form.value,
            part,
            cadre_name=cadre_name and cadre_name.strip(),
            handler=handler and handler.strip(),
        ),
    )
