"""``notary transfer ...``: 转递 between units, through the service's transfer API.

create → send (package + dispatch, signed by the sending unit) → the receiving unit's
inbox → accept (deliver, verify 四性, sign the 回执) or reject (退回, with reasons);
export/import the package as one tar file for offline delivery (机要).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table
from rich.text import Text

from clients.commands._common import (
    DEFAULT_URL,
    JsonOpt,
    KeyOpt,
    UrlOpt,
    client,
    err,
    out,
    print_json,
)
from clients.errors import UserError
from clients.sdk import NotaryClient
from clients.timefmt import Times
from clients.vocabulary import CHECK_NAME_ZH, CHECK_STATUS_ZH, PROPERTY_ZH, TRANSFER_STATE_ZH

transfer_app = typer.Typer(
    help="转递：创建、发出、收件箱、检测、接收（回执）、退回、导出、导入、查看、重新转递。",
    no_args_is_help=True,
)

STATES = TRANSFER_STATE_ZH


def _state(t: dict[str, Any]) -> str:
    return STATES.get(str(t.get("state")), str(t.get("state")))


@transfer_app.command("create")
def create(
    to: Annotated[str, typer.Option("--to", help="接收单位代码。")],
    volume: Annotated[list[str], typer.Option("--volume", help="转递的案卷 ID（可多次给出）。")],
    reason: Annotated[str, typer.Option("--reason", help="转递原因。")],
    transfer_no: Annotated[str, typer.Option("--no", help="转递编号，如 组转字〔2025〕12号。")],
    classification: Annotated[
        str | None, typer.Option("--classification", help="密级：公开、内部、秘密、机密。")
    ] = None,
    transfer_id: Annotated[
        str | None, typer.Option("--id", help="转递 ID（默认自动生成）。")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """创建转递（转递通知单）。"""
    with client(url, key) as c:
        t = c.create_transfer(
            transfer_no=transfer_no,
            volume_ids=volume,
            receiver=to,
            reason=reason,
            classification=classification,
            transfer_id=transfer_id,
        )
        times = Times.of(c)
    if as_json:
        print_json(t)
        return
    out.print(
        f"转递已创建：{t['transfer_id']}（{t['transfer_no']}，{_state(t)}），"
        f"接收单位 {t['receiver']}，期限 {times.time(t['deadline'])}"
    )


@transfer_app.command("send")
def send(
    transfer_id: Annotated[str, typer.Argument(help="转递 ID。")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """打包（BagIt，数据密钥为接收单位重新封装）并转出：转出单位签名，包根上链。"""
    with client(url, key) as c:
        t = c.get_transfer(transfer_id)
        if t["state"] == "created":
            t = c.transfer_action(transfer_id, "package")
        # Asked again after an answer was lost (a timeout under load): already dispatched
        # is done, not a refusal.
        if t["state"] != "dispatched":
            t = c.transfer_action(transfer_id, "dispatch")
    if as_json:
        print_json(t)
        return
    out.print(f"已转出：{transfer_id}，包根 {str(t['package_root'])[:16]}…，状态 {_state(t)}")


@transfer_app.command("inbox")
def inbox(
    state: Annotated[str | None, typer.Option("--state", help="只列出此状态。")] = None,
    outgoing: Annotated[bool, typer.Option("--outgoing", help="列出本单位转出的。")] = False,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """收件箱：转来本单位的转递（--outgoing：发件箱），含期限与逾期标记。"""
    role = "outgoing" if outgoing else "incoming"
    with client(url, key) as c:
        items = list(c.list_transfers(role=role, state=state))
        late = {o["transfer"]["transfer_id"]: o["overdue"] for o in c.overdue_transfers()}
        times = Times.of(c)
    for t in items:
        t["overdue"] = late.get(t["transfer_id"])
    if as_json:
        print_json(items)
        return
    title = "发件箱" if outgoing else "收件箱"
    table = Table(
        Column("转递 ID", no_wrap=True),
        "转递编号",
        "对方单位",
        "状态",
        f"期限（{times.label}）",
        "逾期",
        "催办",
        title=title,
    )
    for t in items:
        table.add_row(
            t["transfer_id"],
            t["transfer_no"],
            t["receiver"] if outgoing else t["sender"],
            _state(t),
            times.minutes(t["deadline"]),
            Text("逾期", style="bold red") if t["overdue"] else "",
            f"{len(t.get('reminders') or [])} 次" if t.get("reminders") else "",
        )
    out.print(table)
    out.print(f"共 {len(items)} 件")


def _report_table(results: dict[str, Any]) -> Table:
    t = Table("材料", *PROPERTY_ZH.values(), title="四性检测结果")
    for m in results.get("materials", []):
        t.add_row(str(m.get("material_id")), *(str(m.get(en, "")) for en in PROPERTY_ZH))
    return t


def _check_line(where: str, c: dict[str, Any]) -> str:
    prop = PROPERTY_ZH.get(str(c.get("property")), str(c.get("property")))
    check = str(c.get("check"))
    status = CHECK_STATUS_ZH.get(str(c.get("status")), str(c.get("status")))
    detail = str(c.get("detail") or "")
    tech = f"检测项 {check}" + (f"：{detail}" if detail else "")
    return f"{where}：{prop}「{CHECK_NAME_ZH.get(check, '检测项')}」{status}（{tech}）"


def failed_checks_zh(results: dict[str, Any]) -> list[str]:
    """Every check of a 四性 report (its ``results``) that did not pass, one line each:
    where (整体 for the package as a whole, else the material), the property and the
    check in words and its status for the clerk, then the check id and the service's
    detail as they are, for whoever looks into it."""
    lines = [
        _check_line("整体", c)
        for c in results.get("transfer", [])
        if isinstance(c, dict) and c.get("status") != "pass"
    ]
    for m in results.get("materials", []):
        for c in m.get("failures", []):
            lines.append(_check_line(f"材料 {m.get('material_id')}", c))
    return lines


def print_failed_checks(report: dict[str, Any], transfer_id: str) -> None:
    """On stderr: which checks did not pass, and, when the chain could not confirm an
    anchor, that checking again later may be enough."""
    results = report.get("results") or {}
    lines = failed_checks_zh(results)
    err.print(f"notary: 四性检测未通过的检测项（{len(lines)} 项）：")
    for line in lines:
        err.print(f"  {line}")
    anchors = [
        c
        for m in results.get("materials", [])
        for c in m.get("failures", [])
        if c.get("check") == "anchor"
    ]
    if anchors:
        err.print(
            "notary: 链上锚定未能核对（链暂时无法读取，或存证尚未锚定）："
            f"可稍后再运行 notary transfer verify {transfer_id}"
        )


def _take_and_verify(c: NotaryClient, transfer_id: str) -> dict[str, Any]:
    """Deliver online (by CID) if not yet delivered, verify (四性), return the report."""
    t = c.get_transfer(transfer_id)
    if t["state"] == "dispatched":
        t = c.transfer_action(transfer_id, "deliver")
    if t["state"] == "delivered":
        c.transfer_action(transfer_id, "verify")
    report: dict[str, Any] = c.transfer_report(transfer_id)
    return report


@transfer_app.command("accept")
def accept(
    transfer_id: Annotated[str, typer.Argument(help="转递 ID。")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """接收：送达、四性检测，全部通过则签署回执（保管权在链上转移）。"""
    with client(url, key) as c:
        report = _take_and_verify(c, transfer_id)
        if not report["accepted"]:
            if not as_json:
                out.print(_report_table(report["results"]))
            print_failed_checks(report, transfer_id)
            raise UserError(
                f"四性检测未全部通过（{report['summary']}），不能签署回执："
                "请用 notary transfer reject 退回"
            )
        t = c.transfer_action(transfer_id, "receipt")
    if as_json:
        print_json({"transfer": t, "report": report})
        return
    out.print(_report_table(report["results"]))
    out.print(f"已签署回执：{transfer_id}，{report['summary']}；保管单位已变更为 {t['receiver']}")


@transfer_app.command("reject")
def reject(
    transfer_id: Annotated[str, typer.Argument(help="转递 ID。")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="退回理由（默认按检测结果逐项列出）。")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """退回：签署退回单（理由与四性检测结果）。"""
    with client(url, key) as c:
        report = _take_and_verify(c, transfer_id)
        if reason is None and report["accepted"]:
            raise UserError("检测全部通过：退回须以 --reason 说明理由")
        body = None if reason is None else {"reasons": [{"code": "other", "detail": reason}]}
        t = c.transfer_action(transfer_id, "rejection", body)
    if as_json:
        print_json(t)
        return
    out.print(f"已拒收：{transfer_id}（{_state(t)}），退回单已签署；保管单位仍为 {t['sender']}")


@transfer_app.command("export")
def export(
    transfer_id: Annotated[str, typer.Argument(help="转递 ID。")],
    dest: Annotated[Path, typer.Option("--out", help="输出的 tar 文件。")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
) -> None:
    """导出转递包（BagIt tar）以便机要离线递送（转出单位）。"""
    if dest.exists():
        raise UserError(f"文件已存在：{dest}")
    with client(url, key) as c:
        try:
            c.download_package(transfer_id, dest)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
    out.print(f"转递包已导出：{dest}（{dest.stat().st_size:,} 字节）")


def transfer_id_of(package: Path) -> str:
    """The Transfer-Id of a package tar (its bag-info.txt), read without extracting."""
    import tarfile

    from transfer.workflow.bagfiles import parse_bag_info
    from transfer.workflow.errors import PackageError

    try:
        with tarfile.open(package, "r:*") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith("/bag-info.txt"):
                    f = tar.extractfile(member)
                    info = parse_bag_info(b"" if f is None else f.read(64 * 1024))
                    for label, value in info:
                        if label == "Transfer-Id":
                            return value
    except (tarfile.TarError, OSError, PackageError) as e:
        raise UserError(f"不是有效的转递包：{package}：{e}") from None
    raise UserError(f"转递包中没有 Transfer-Id（bag-info.txt）：{package}")


@transfer_app.command("import")
def import_(
    package: Annotated[Path, typer.Argument(help="转递包 tar 文件。")],
    transfer_id: Annotated[
        str | None, typer.Option("--id", help="转递 ID（默认读取包内 bag-info.txt）。")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """导入机要递送的转递包（接收单位）：即离线送达，随后可 accept / reject。"""
    if not package.is_file():
        raise UserError(f"文件不存在：{package}")
    tid = transfer_id or transfer_id_of(package)
    with client(url, key) as c:
        t = c.import_package(tid, package)
    if as_json:
        print_json(t)
        return
    out.print(f"转递包已导入：{tid}（{_state(t)}）")
