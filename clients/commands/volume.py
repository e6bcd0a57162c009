"""``notary volume create|list|show|find|name``: the volumes (卷) the caller's unit holds.

The cadre identifier (身份证号) is sent once, at creation, and only its blinded form
(HMAC-SM3) is stored or shown; when ``--cadre`` is not given it is asked for at the
prompt, so that it stays out of the shell history. The cadre's 姓名 is optional; the
service keeps it sealed, shows it only to the volume's custodian and finds volumes by
it (``find``), as by the identifier.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from clients.commands._common import DEFAULT_URL, JsonOpt, KeyOpt, UrlOpt, client, out, print_json
from clients.errors import UserError
from clients.timefmt import Times

volume_app = typer.Typer(
    help="案卷：建卷、列出本单位保管的案卷、查看案卷及其材料。", no_args_is_help=True
)

KINDS = {"main": "正本", "copy": "副本"}
KIND_ARGS = {"main": "main", "copy": "copy", "正本": "main", "副本": "copy"}
STATUSES = {"held": "在库", "in_transfer": "转递中", "transferred_out": "已转出"}


# What the console's one search box treats as a 身份证号: 17 digits and a check digit
# (or X), once full-width forms and spaces are folded. Anything else is a 姓名.
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]")


def is_id_number(text: str) -> bool:
    return bool(_ID_NUMBER.fullmatch("".join(unicodedata.normalize("NFKC", text).split())))


def _name(v: dict[str, Any]) -> str:
    return v.get("cadre_name") or "（未登记姓名）"


def _kind_arg(value: str | None) -> str | None:
    if value is None:
        return None
    kind = KIND_ARGS.get(value.strip())
    if kind is None:
        raise UserError(f"--kind 须为 main（正本）或 copy（副本），而不是 {value}")
    return kind


def _line(v: dict[str, Any], times: Times) -> str:
    return (
        f"{v['id']}  {_name(v)}  {KINDS.get(v['kind'], v['kind'])}  "
        f"{STATUSES.get(v['status'], v['status'])}  建卷于 {times.time(v['created_at'])}"
    )


@volume_app.command("create")
def create(
    cadre: Annotated[
        str | None,
        typer.Option("--cadre", help="干部身份证号（只以盲化形式存储；不给出则在提示符下输入）。"),
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="main（正本）或 copy（副本）。")] = "main",
    name: Annotated[
        str | None,
        typer.Option("--name", help="干部姓名（可选；加密保存，只有本单位可见，可按姓名查找）。"),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """建卷：为一名干部登记正本或副本案卷，由本单位保管。"""
    volume_kind = _kind_arg(kind)
    with client(url, key) as c:  # checks the URL and the key before asking anything
        if cadre is None:
            cadre = typer.prompt("干部身份证号", err=True)
        if not cadre.strip():
            raise UserError("干部身份证号不能为空")
        v = c.create_volume(cadre.strip(), volume_kind or "main", name)
    if as_json:
        print_json(v)
        return
    named = f"，干部姓名：{v['cadre_name']}" if v.get("cadre_name") else ""
    out.print(
        f"案卷已建立：{v['id']}（{KINDS.get(v['kind'], v['kind'])}），保管单位为本单位{named}"
    )
    out.print(f"登记材料：notary ingest 目录 --volume {v['id']} --manifest 清单.csv")


@volume_app.command("list")
def list_(
    kind: Annotated[
        str | None, typer.Option("--kind", help="只列出 main（正本）或 copy（副本）。")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """本单位保管的案卷（全部页）。"""
    wanted = _kind_arg(kind)
    items: list[dict[str, Any]] = []
    with client(url, key) as c:
        offset: int | None = 0
        while offset is not None:
            page = c.list_volumes(limit=500, offset=offset)
            items += page["items"]
            offset = page["next_offset"]
        times = Times.of(c)
    if wanted is not None:
        items = [v for v in items if v["kind"] == wanted]
    if as_json:
        print_json(items)
        return
    _print_volumes(items, times, "本单位保管的案卷")


def _print_volumes(volumes: list[dict[str, Any]], times: Times, title: str) -> None:
    t = Table(
        Column("案卷 ID", no_wrap=True),
        "干部姓名",
        "类别",
        "状态",
        f"建卷时间（{times.label}）",
        title=title,
    )
    for v in volumes:
        t.add_row(
            str(v["id"]),
            _name(v),
            KINDS.get(v["kind"], v["kind"]),
            STATUSES.get(v["status"], v["status"]),
            times.minutes(v["created_at"]),
        )
    out.print(t)
    out.print(f"共 {len(volumes)} 卷")


@volume_app.command("show")
def show(
    volume_id: Annotated[str, typer.Argument(help="案卷 ID。")],
    all_versions: Annotated[
        bool, typer.Option("--all-versions", help="列出材料的全部版本（含已更正的）。")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """案卷及其材料（按类号、形成日期、顺序号排列）。"""
    with client(url, key) as c:
        v = c.get_volume(volume_id)
        materials = c.volume_materials(volume_id, all_versions=all_versions)
        times = Times.of(c)
    if as_json:
        print_json({"volume": v, "materials": materials})
        return
    out.print(f"案卷 {_line(v, times)}")
    out.print(f"干部标识（盲化）：{v['cadre_blind_id']}")
    # The material ID is what `notary read` and `receipt get` take: never cut. The leaf
    # index and the SM3 are in --json.
    columns = [
        Column("类号-顺序号-页码", no_wrap=True),
        Column("题名", min_width=10, overflow="fold"),
        Column("形成日期", no_wrap=True),
        Column("材料 ID", no_wrap=True),
    ]
    if all_versions:
        columns.append(Column("版本", no_wrap=True))
    t = Table(*columns, title="材料目录")
    for m in materials:
        row = [m["designation"], m["title"], str(m["formation_date"]), str(m["id"])]
        if all_versions:
            row.append(str(m["version"]) + ("" if m.get("current", True) else "（已更正）"))
        t.add_row(*row)
    out.print(t)
    out.print(f"共 {len(materials)} 件材料")


@volume_app.command("find")
def find(
    cadre: Annotated[
        str | None, typer.Option("--cadre", help="按干部身份证号查找（只比对盲化形式）。")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="按干部姓名查找（精确匹配）。")] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """查找案卷：按身份证号或姓名，在本单位保管的案卷中查找（都不给出则在提示符下输入：
    18 位身份证号按身份证号查找，否则按姓名查找）。"""
    if cadre is not None and name is not None:
        raise UserError("--cadre 与 --name 只能给出一个")
    with client(url, key) as c:  # checks the URL and the key before asking anything
        if cadre is None and name is None:
            typed = typer.prompt("干部身份证号或姓名", err=True)
            cadre, name = (typed, None) if is_id_number(typed) else (None, typed)
        what = "身份证号" if cadre is not None else "姓名"
        if not (cadre or name or "").strip():
            raise UserError(f"干部{what}不能为空")
        found = c.lookup_volumes(cadre_identifier=cadre, cadre_name=name)
        times = Times.of(c)
    if as_json:
        print_json(found)
        return
    if not found:
        out.print(f"未找到：本单位没有保管该{what}的干部的案卷（请核对，或该档案由其他单位保管）")
        return
    _print_volumes(found, times, f"按{what}查找的结果")


@volume_app.command("name")
def set_name(
    volume_id: Annotated[str, typer.Argument(help="案卷 ID。")],
    name: Annotated[str | None, typer.Argument(help="干部姓名。")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="删除已登记的姓名。")] = False,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """登记或更正本单位保管的案卷的干部姓名（此前建立的案卷没有姓名）。"""
    if clear == (name is not None):
        raise UserError("请给出干部姓名，或用 --clear 删除已登记的姓名（二者选一）")
    with client(url, key) as c:
        v = c.set_cadre_name(volume_id, None if clear else name)
    if as_json:
        print_json(v)
        return
    if v.get("cadre_name"):
        out.print(f"案卷 {v['id']} 的干部姓名已登记为：{v['cadre_name']}")
    else:
        out.print(f"案卷 {v['id']} 的干部姓名已删除")
