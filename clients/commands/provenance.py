"""``notary provenance VOLUME | --material ID``: the timeline of a volume or a material."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from clients.commands._common import DEFAULT_URL, JsonOpt, KeyOpt, UrlOpt, client, out, print_json
from clients.errors import UserError
from clients.timefmt import Times

KINDS = {
    "registered": "材料登记",
    "corrected": "材料更正",
    "read": "利用登记",
    "custody.registered": "建卷",
    "custody.dispatched": "转出",
    "custody.received": "接收（回执）",
    "custody.rejected": "退回",
    "custody.returned": "退还",
    "custody.recalled": "撤回",
}


def _detail(item: dict[str, Any]) -> str:
    skip = {"kind", "time", "leaf_index", "proof", "entry", "receipt", "verification"}
    text = "，".join(f"{k}={v}" for k, v in item.items() if k not in skip and v is not None)
    check = item.get("verification") or {}
    if check and not check.get("ok"):  # the row contradicts its logged entry or proof
        text = f"[bold red]未通过核验（{check.get('check')}）：{check.get('detail')}[/]　" + text
    return text


def provenance(
    volume: Annotated[str | None, typer.Argument(help="案卷 ID。")] = None,
    material: Annotated[str | None, typer.Option("--material", help="材料 ID。")] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """案卷或材料的来源时间线：登记、更正、保管变更、利用，附日志位置与锚定。"""
    if (volume is None) == (material is None):
        raise UserError("请给出案卷 ID，或 --material 材料 ID（二者择一）")
    with client(url, key) as c:
        data = c.volume_provenance(volume) if volume else c.material_provenance(str(material))
        times = Times.of(c)
    if as_json:
        print_json(data)
        return
    subject = f"案卷 {volume}" if volume else f"材料 {material}"
    t = Table(
        f"时间（{times.label}）",
        "事件",
        "日志序号",
        "锚定",
        "详情",
        title=f"{subject} 的来源时间线",
    )
    for item in data["items"]:
        proof = item.get("proof") or {}
        anchored = "已锚定" if proof.get("anchored") else "待锚定"
        leaf = item.get("leaf_index")
        t.add_row(
            times.minutes(item["time"]),
            KINDS.get(str(item["kind"]), str(item["kind"])),
            "" if leaf is None else str(leaf),
            anchored if leaf is not None else "",
            _detail(item),
        )
    out.print(t)
    out.print(f"共 {len(data['items'])} 条")
