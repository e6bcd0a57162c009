"""``notary read-grant apply|list|approve|refuse|revoke``: 在线阅档's 查阅申请 and 审批.

A reader (查阅人) applies to read given categories (类号) of given volumes for a purpose,
until a time; an operator of the unit holding the volumes approves, refuses or revokes;
the auditor lists every grant. Reading itself is ``notary read`` (or the console's
viewer): each read is checked against the grants and logged with the grant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from clients.commands._common import DEFAULT_URL, JsonOpt, KeyOpt, UrlOpt, client, out, print_json
from clients.errors import UserError

read_grant_app = typer.Typer(
    help="在线阅档的查阅申请与审批：申请、列出、批准、不予批准、撤销。", no_args_is_help=True
)

STATES = {
    "pending": "待审批",
    "approved": "有效",
    "expired": "已过期",
    "refused": "未批准",
    "revoked": "已撤销",
}
_BEIJING = timedelta(hours=8)


def _time(value: str | None) -> str:
    if not value:
        return "—"
    t = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC) + _BEIJING
    return t.strftime("%Y-%m-%d %H:%M") + "（北京时间）"


def _line(g: dict[str, Any]) -> str:
    categories = "、".join(f"第 {c} 类" for c in g["categories"])
    return (
        f"{g['id']}  {STATES.get(g['state'], g['state'])}  "
        f"查阅单位 {g['reader_unit_code']}  保管单位 {g['holder_unit_code']}  "
        f"案卷 {len(g['volume_ids'])} 卷  {categories}  利用目的：{g['purpose']}  "
        f"截止 {_time(g['expires_at'])}"
    )


def _until(days: float | None, until: str | None) -> str:
    if until is not None:
        try:
            t = datetime.fromisoformat(until)
        except ValueError:
            raise UserError(
                f"--until 须为日期时间，如 2026-12-31T18:00+08:00，而不是 {until}"
            ) from None
        if t.tzinfo is None:  # staff write Beijing time
            t = t.replace(tzinfo=UTC) - _BEIJING
        return t.isoformat()
    if days is None or days <= 0:
        raise UserError("--days 须为大于 0 的天数")
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@read_grant_app.command("apply")
def apply(
    volumes: Annotated[list[str], typer.Option("--volume", help="案卷编号（可重复）。")],
    categories: Annotated[
        list[str], typer.Option("--category", help="类号，如 1、4-1、10（可重复）。")
    ],
    purpose: Annotated[str, typer.Option("--purpose", help="利用目的。")],
    days: Annotated[float | None, typer.Option("--days", help="查阅期限（天，最长 90）。")] = 7,
    until: Annotated[
        str | None, typer.Option("--until", help="查阅截止时间（不带时区按北京时间）。")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """提出查阅申请（查阅人）：经保管单位批准后，在期限内查阅所申请的类别。"""
    if not purpose.strip():
        raise UserError("利用目的不能为空")
    expires_at = _until(days, until)
    with client(url, key) as c:
        g = c.apply_read_grant(volumes, categories, purpose.strip(), expires_at)
    if as_json:
        print_json(g)
        return
    out.print(f"查阅申请已提交：{g['id']}，等待保管单位（{g['holder_unit_code']}）审批")


@read_grant_app.command("list")
def list_(
    state: Annotated[
        str | None,
        typer.Option("--state", help="只列出 pending、approved、expired、refused 或 revoked。"),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """查阅申请与授权：查阅人看自己的，经办人员看本单位案卷的，审计员看全部。"""
    if state is not None and state not in STATES:
        raise UserError(f"--state 须为 {'、'.join(STATES)} 之一，而不是 {state}")
    with client(url, key) as c:
        items = c.list_read_grants(state)
    if as_json:
        print_json(items)
        return
    if not items:
        out.print("没有查阅申请")
        return
    out.print(f"查阅申请与授权（{len(items)} 项，最新在前）：")
    for g in items:
        out.print(_line(g))


def _decide(
    action: str, grant_id: str, url: str, key: str, as_json: bool, reason: str | None
) -> None:
    with client(url, key) as c:
        g = c.decide_read_grant(grant_id, action, reason)
    if as_json:
        print_json(g)
        return
    out.print(_line(g))


@read_grant_app.command("approve")
def approve(
    grant_id: Annotated[str, typer.Argument(help="查阅申请编号。")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """批准查阅申请（保管单位的经办人员）。"""
    _decide("approve", grant_id, url, key, as_json, None)


@read_grant_app.command("refuse")
def refuse(
    grant_id: Annotated[str, typer.Argument(help="查阅申请编号。")],
    reason: Annotated[str | None, typer.Option("--reason", help="不予批准的理由。")] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """不予批准查阅申请（保管单位的经办人员）。"""
    _decide("refuse", grant_id, url, key, as_json, reason)


@read_grant_app.command("revoke")
def revoke(
    grant_id: Annotated[str, typer.Argument(help="查阅授权编号。")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """撤销查阅授权（保管单位的经办人员）：查阅人立即不能再查阅。"""
    _decide("revoke", grant_id, url, key, as_json, None)
