"""``notary transfer show|verify|return|resend|remind``: the rest of a transfer's life.

``show`` the transfer, its timeline (every step with its log leaf) and custody as the
contract records it; ``verify`` (receiver) deliver if needed and run the 四性 checks
without answering yet — after a failed check, ``import`` another copy of the package
and ``verify`` again; ``return`` (sender) take back a rejected transfer; ``resend``
(sender) send a returned transfer again as a new transfer over the same volumes;
``remind`` (sender) 催办 an overdue transfer. Times are in the deployment's zone,
labelled (clients/timefmt.py); each step names its 经办人.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

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
from clients.commands.transfer import STATES, _report_table, _state, print_failed_checks
from clients.sdk import Conflict, NotaryAPIError, NotaryClient
from clients.timefmt import Times
from clients.vocabulary import CHAIN_OUTCOME_ZH

STEPS = {
    "create": "创建",
    "package": "打包",
    "dispatch": "转出",
    "deliver": "送达",
    "verify": "四性检测",
    "accept": "签署回执",
    "custody": "保管权转移",
    "reject": "退回",
    "return": "办理退回",
    "recall": "撤回",
    "resend": "重新转递",
    "remind": "催办",
}
# Steps a person makes: their 经办人 is named (未登记 when the key has none).
_BY_HANDLER = set(STEPS) - {"custody"}


CUSTODY = {"none": "未登记", "held": "保管中", "in_transit": "在途"}
OUTCOMES = CHAIN_OUTCOME_ZH
# Digests and CIDs are in --json; the words below are what a clerk acts on.
_HIDDEN = {"dispatch_hash", "receipt_hash", "reason_hash", "outcome_hash", "package_cid"}


def _detail(event: str, d: dict[str, Any], times: Times) -> str:
    """The event's detail in words; what has no words is shown as key=value."""
    parts: list[str] = []
    rest = {k: v for k, v in d.items() if k not in _HIDDEN}
    handler = rest.pop("handler", None)
    observed = rest.get("observed") or rest.get("observed_on_chain")
    if event in _BY_HANDLER and not observed:
        parts.append(f"经办人 {handler or '未登记'}")
    if event == "deliver":
        mode = rest.pop("mode", None)
        parts.append({"online": "在线送达（按 CID）", "offline": "离线导入（机要）"}.get(mode, ""))
        if rest.pop("again", False):
            parts.append("另一份转递包，替换检测未通过的一份")
    elif event == "verify" and "accepted" in rest:
        ok = rest.pop("accepted")
        failed = rest.pop("failed_materials", 0)
        parts.append("全部通过" if ok else f"未通过（{failed} 件材料有检测项失败）")
    elif event == "create":
        if "materials" in rest:
            parts.append(f"材料 {rest.pop('materials')} 件")
        if "resend_of" in rest:
            parts.append(f"重新转递自 {rest.pop('resend_of')}")
    elif event == "package" and "payload_octets" in rest:
        parts.append(f"{int(rest.pop('payload_octets')):,} 字节")
    elif event == "dispatch":
        if "answer_by" in rest:
            parts.append(f"答复期限 {times.time(rest.pop('answer_by'))}")
        if rest.pop("observed", False):
            parts.append("他方部署转出，已在链上核对")
    elif event == "remind":
        if "due" in rest:
            parts.append(f"应于 {times.time(rest.pop('due'))} 前答复")
        if "note" in rest:
            parts.append(f"附言：{rest.pop('note')}")
    elif event == "resend" and "resent_as" in rest:
        parts.append(f"新转递 {rest.pop('resent_as')}")
    elif event == "reject" and "reasons" in rest:
        reasons = rest.pop("reasons") or []
        parts.append("理由：" + "；".join(str(r.get("detail") or r.get("code")) for r in reasons))
    elif event == "custody" and rest.get("custodian") == "receiver":
        rest.pop("custodian")
        parts.append("保管权已移交接收单位")
    if rest.pop("observed_on_chain", False):
        parts.append("据链上记录同步")
    parts += [f"{k}={v}" for k, v in rest.items() if v is not None]
    return "，".join(p for p in parts if p)


def _states(e: dict[str, Any]) -> str:
    before, after = e.get("from"), e.get("to")
    if before is None or before == after:
        return STATES.get(str(after), str(after))
    return f"{STATES.get(str(before), before)} → {STATES.get(str(after), after)}"


def _print_timeline(events: list[dict[str, Any]], times: Times) -> None:
    # Lines, not a table: a narrow terminal wraps them instead of cutting the words.
    out.print("时间线：")
    for e in events:
        leaf = e.get("leaf_index")
        step = STEPS.get(str(e["event"]), str(e["event"]))
        where = "" if leaf is None else f"  日志序号 {leaf}"
        detail = _detail(str(e["event"]), e.get("detail") or {}, times)
        line = f"  {times.time(e['at'])}  {step}（{_states(e)}）{where}"
        out.print(line + (f"  {detail}" if detail else ""))


def _print_chain(volumes: list[dict[str, Any]]) -> None:
    out.print("链上保管状态：")
    for v in volumes:
        d = v.get("dispatch") or {}
        state = CUSTODY.get(str(v.get("custody_state")), str(v.get("custody_state")))
        outcome = OUTCOMES.get(str(d.get("outcome")), str(d.get("outcome") or "（未转出）"))
        out.print(
            f"  案卷 {str(v['chain_volume_id'])[:16]}…  保管账户 {v.get('custodian')}  "
            f"{state}，本次转递：{outcome}"
        )


def show(
    transfer_id: Annotated[str, typer.Argument(help="转递 ID。")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """查看转递：通知单要点、时间线（每一步及其日志序号）、链上保管状态、检测结果。"""
    with client(url, key) as c:
        t = c.get_transfer(transfer_id)
        timeline = c.transfer_timeline(transfer_id)
        report = _report(c, t)
        times = Times.of(c)
    if as_json:
        print_json({"transfer": t, "timeline": timeline, "report": report})
        return
    notice = t.get("notice") or {}
    out.print(f"转递 {t['transfer_id']}（{t['transfer_no']}）：{_state(t)}")
    out.print(
        f"转出单位 {t['sender']} → 接收单位 {t['receiver']}，材料 "
        f"{len(notice.get('materials', []))} 件，原因：{notice.get('reason', '')}"
    )
    out.print(f"期限 {times.time(t['deadline'])}，包根 {t['package_root'] or '（未打包）'}")
    if t.get("dispatch"):
        out.print(f"转出经办人：{t.get('dispatch_handler') or '未登记'}")
    if t.get("outcome"):
        out.print(f"接收单位经办人：{t.get('outcome_handler') or '未登记'}")
    reminders = t.get("reminders") or []
    if reminders:
        last = reminders[-1]
        out.print(
            f"转出单位已催办 {len(reminders)} 次，最近一次 {times.time(last['at'])}"
            f"（经办人 {last.get('handler') or '未登记'}）"
        )
    _print_timeline(timeline["events"], times)
    _print_chain(timeline["chain"])
    if report is not None:
        out.print(_report_table(report["results"]))
        out.print(f"四性检测：{report['summary']}")


def _report(c: NotaryClient, t: dict[str, Any]) -> dict[str, Any] | None:
    """The receiver's 四性 report: from its first verification until another copy of the
    package is delivered (then cleared until the next one); none on the sending side of
    a transfer to another deployment."""
    if t["direction"] == "outgoing" or t["state"] in ("created", "packaged", "dispatched"):
        return None
    try:
        report: dict[str, Any] = c.transfer_report(t["transfer_id"])
    except Conflict:  # not verified (yet, or since the last delivery)
        return None
    return report


def verify(
    transfer_id: Annotated[str, typer.Argument(help="转递 ID。")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """四性检测（接收单位）：未送达则先在线送达，检测后列出结果，暂不签署回执或退回。

    未全部通过时退出码为 1：可导入另一份转递包（notary transfer import）后再检测，
    或以 notary transfer reject 退回。"""
    with client(url, key) as c:
        t = c.get_transfer(transfer_id)
        if t["state"] == "dispatched":
            t = c.transfer_action(transfer_id, "deliver")
        if t["state"] in ("delivered", "verified"):
            t = c.transfer_action(transfer_id, "verify")
        report = c.transfer_report(transfer_id)
    if as_json:
        print_json({"transfer": t, "report": report})
    else:
        out.print(_report_table(report["results"]))
        out.print(f"四性检测：{report['summary']}（{transfer_id}，{_state(t)}）")
    if not report["accepted"]:
        err.print(
            "notary: 四性检测未全部通过：如为递送途中损坏，可导入另一份转递包"
            "（notary transfer import 文件.tar）后再检测；"
            f"否则请 notary transfer reject {transfer_id}"
        )
        print_failed_checks(report, transfer_id)
        raise typer.Exit(1)
    if not as_json:
        out.print(f"可签署回执：notary transfer accept {transfer_id}")


def _synced(c: NotaryClient, t: dict[str, Any]) -> dict[str, Any]:
    """For a receiver in another deployment, the sender learns its answer from the chain."""
    if t["direction"] == "outgoing" and t["state"] == "dispatched":
        synced: dict[str, Any] = c.transfer_action(t["transfer_id"], "sync")
        return synced
    return t


def return_(
    transfer_id: Annotated[str, typer.Argument(help="转递 ID。")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """办理退回（转出单位）：被退回的转递结束，案卷回到本单位保管。"""
    with client(url, key) as c:
        t = _synced(c, c.get_transfer(transfer_id))
        t = c.transfer_action(transfer_id, "return")
    if as_json:
        print_json(t)
        return
    out.print(f"已办理退回：{transfer_id}（{_state(t)}），案卷回到本单位保管")
    out.print(f"补正材料后可重新转递：notary transfer resend {transfer_id}")


def resend(
    transfer_id: Annotated[str, typer.Argument(help="已退回或已退还的转递 ID。")],
    transfer_no: Annotated[
        str | None, typer.Option("--no", help="新的转递编号（默认沿用原编号）。")
    ] = None,
    new_id: Annotated[
        str | None, typer.Option("--id", help="新转递的 ID（默认自动生成）。")
    ] = None,
    no_send: Annotated[
        bool, typer.Option("--no-send", help="只创建新转递，暂不打包转出。")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """重新转递（转出单位）：被退回的先办理退回，再以同一批案卷（材料取当前版本）、
    同一接收单位创建新的转递并打包转出；原转递的记录与退回理由保留，两者互相关联。"""
    returned = False
    with client(url, key) as c:
        t = _synced(c, c.get_transfer(transfer_id))
        if t["state"] == "rejected":
            c.transfer_action(transfer_id, "return")
            returned = True
        body = {k: v for k, v in (("transfer_no", transfer_no), ("transfer_id", new_id)) if v}
        new = c.transfer_action(transfer_id, "resend", body or None)
        if not no_send:
            try:
                new = c.transfer_action(new["transfer_id"], "package")
                new = c.transfer_action(new["transfer_id"], "dispatch")
            except NotaryAPIError:
                err.print(
                    f"notary: 新转递 {new['transfer_id']} 已创建，但尚未转出："
                    f"问题解决后请 notary transfer send {new['transfer_id']}"
                )
                raise
    if as_json:
        print_json({"returned": returned, "resend_of": transfer_id, "transfer": new})
        return
    if returned:
        out.print(f"已办理退回：{transfer_id}，案卷回到本单位保管")
    out.print(
        f"已重新转递：新转递 {new['transfer_id']}（{new['transfer_no']}，{_state(new)}），"
        f"原转递 {transfer_id}，接收单位 {new['receiver']}"
    )
    if no_send:
        out.print(f"打包并转出：notary transfer send {new['transfer_id']}")


def remind(
    transfer_id: Annotated[str, typer.Argument(help="转递 ID。")],
    note: Annotated[
        str | None, typer.Option("--note", help="附言（接收单位可见，最多 200 字）。")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """催办（转出单位）：接收单位逾期未签收或拒收时催办；记入办理经过，接收单位可见。"""
    with client(url, key) as c:
        t = c.remind(transfer_id, note.strip() if note and note.strip() else None)
        times = Times.of(c)
    if as_json:
        print_json(t)
        return
    last = (t.get("reminders") or [{}])[-1]
    out.print(
        f"已催办：{transfer_id}（{t['transfer_no']}，{_state(t)}），接收单位 {t['receiver']}；"
        f"第 {len(t.get('reminders') or [])} 次，{times.time(last.get('at'))}，"
        f"经办人 {last.get('handler') or '未登记'}"
    )


# Registered on ``notary transfer`` by clients/cli.py.
COMMANDS: dict[str, Callable[..., None]] = {
    "show": show,
    "verify": verify,
    "return": return_,
    "resend": resend,
    "remind": remind,
}
