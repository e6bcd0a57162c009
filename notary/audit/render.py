"""The audit report as HTML for people, and the report files (JSON + HTML)."""

from __future__ import annotations

import html
import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notary.audit.report import PROPERTIES, Report


def _cell(value: Any) -> str:
    return "—" if value is None else html.escape(str(value))


def _verdict(passed: bool) -> str:
    return "<span class='ok'>通过</span>" if passed else "<span class='bad'>未通过</span>"


def _material_rows_html(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        results = "".join(
            f"<td class='{'ok' if r['results'][p] == '通过' else 'bad'}'>{r['results'][p]}</td>"
            for p in PROPERTIES
        )
        out.append(
            f"<tr><td>{_cell(r['designation'])}</td><td>{_cell(r['title'])}</td>"
            f"<td><code>{_cell(r['material_id'])}</code></td>"
            f"<td><code>{_cell(r['sm3'])}</code></td><td><code>{_cell(r['cid'])}</code></td>"
            f"<td>{_cell(r['custodian'])}</td><td>{_cell(r['leaf_index'])}</td>"
            f"<td>{_cell(r['checkpoint_tree_size'])}</td><td><code>{_cell(r['chain_tx'])}</code>"
            f"</td><td>{_cell(r['block'])}</td><td>{_cell(r['plain_size'])}</td>"
            f"<td>{_cell(r['sealed_size'])}</td>{results}</tr>"
        )
    return "".join(out) or "<tr><td colspan='16'>范围内没有材料</td></tr>"


def _logged_rows_html(rows: list[dict[str, Any]], first: str) -> str:
    return (
        "".join(
            f"<tr><td>{_cell(r.get(first))}</td><td>{_cell(r.get('what') or r.get('kind'))}</td>"
            f"<td>{_cell(r['subject'])}</td><td>{_cell(r['leaf_index'])}</td>"
            f"<td><code>{_cell(r.get('chain_tx'))}</code></td>"
            f"<td><code>{_cell(r['anchor_tx'])}</code></td><td>{_verdict(r['passed'])}</td></tr>"
            for r in rows
        )
        or "<tr><td colspan='7'>无</td></tr>"
    )


def render_html(report: Report, zone: str = "Asia/Shanghai", zone_label: str = "北京时间") -> str:
    """The report as one HTML page; its time in ``zone`` (the deployment's time zone,
    Settings.timezone), to the minute and labelled."""
    data = report.to_json()
    s = data["summary"]
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(p)}</td><td>{v['passed']}</td><td class='{'bad' if v['problems'] else 'ok'}'>"
        f"{v['problems']}</td></tr>"
        for p, v in s["by_property"].items()
    )
    problems = (
        "".join(
            f"<tr><td>{e(p['property'])}</td><td><code>{e(p['check'])}</code></td>"
            f"<td>{e(p['subject'])}</td><td>{e(p['detail'])}</td></tr>"
            for p in data["problems"]
        )
        or "<tr><td colspan='4'>未发现问题</td></tr>"
    )
    moment = datetime.fromtimestamp(report.started_ms / 1000, ZoneInfo(zone))
    started = f"{moment.strftime('%Y-%m-%d %H:%M')}（{zone_label}）"
    chain = report.chain_state or {}
    chain_text = (
        f"链 ID {chain.get('chain_id')}，合约 {chain.get('contract')}，"
        f"检测时链高 {chain.get('block_number')}"
        if chain
        else "未读链（未核验链上锚定）"
    )
    heads = "".join(f"<th>{p}</th>" for p in PROPERTIES)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>档案四性检测报告 — {e(report.scope)}</title>
<style>
body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:80rem;margin:2rem auto;
color:#1f2937;padding:0 1rem}}
h1{{font-size:1.5rem}} table{{border-collapse:collapse;width:100%;margin:1rem 0}}
td,th{{border:1px solid #d1d5db;padding:.4rem .6rem;text-align:left;vertical-align:top}}
th{{background:#f3f4f6}} .ok{{color:#047857}} .bad{{color:#b91c1c;font-weight:600}}
.result{{font-size:1.2rem}} code{{word-break:break-all;font-size:.8em}}
</style></head><body>
<h1>档案四性检测报告</h1>
<p>检测范围：{e(report.scope)}　开始时间：{e(started)}</p>
<p>检测工具：Archive Notary {e(report.tool_version or "—")}　链状态：{e(chain_text)}</p>
<p class="result">结论：<span class="{"ok" if report.ok else "bad"}">{e(s["result"])}</span></p>
<table><tr><th>材料数</th><th>通过</th><th>有问题</th><th>重算哈希：密文字节（SM4-GCM，对 CID）</th>
<th>重算哈希：明文字节（SM3）</th><th>已验证证明</th><th>已验证检查点</th>
<th>案卷数</th><th>保管记录</th><th>利用登记</th><th>转递事件</th><th>权限变更</th><th>问题数</th></tr>
<tr><td>{s["materials"]}</td><td>{s["materials_passed"]}</td><td>{s["materials_with_problems"]}</td>
<td>{s["sealed_bytes_rehashed"]:,}</td><td>{s["plain_bytes_rehashed"]:,}</td>
<td>{s["proofs_checked"]}</td><td>{s["checkpoints_checked"]}</td>
<td>{s["volumes"]}</td><td>{s["custody_events"]}</td><td>{s["records"]["read_log"]}</td>
<td>{s["records"]["transfer_events"]}</td><td>{s["records"]["access_events"]}</td>
<td>{s["problems"]}</td></tr></table>
<h2>四性汇总</h2>
<table><tr><th>性质</th><th>通过</th><th>问题</th></tr>{rows}</table>
<h2>问题明细</h2>
<table><tr><th>性质</th><th>检查项</th><th>对象</th><th>说明</th></tr>{problems}</table>
<h2>材料明细</h2>
<table><tr><th>类号-序号-页码</th><th>题名</th><th>材料 ID</th><th>SM3</th><th>CID</th>
<th>保管单位</th><th>日志序号</th><th>锚定检查点（日志长度）</th><th>锚定交易</th><th>区块</th>
<th>明文字节</th><th>密文字节</th>{heads}</tr>
{_material_rows_html(data["materials"])}</table>
<h2>保管记录</h2>
<table><tr><th>案卷</th><th>事件</th><th>记录</th><th>日志序号</th><th>保管交易</th>
<th>锚定交易</th><th>结果</th></tr>
{_logged_rows_html(data["custody_events"], "volume")}</table>
<h2>利用登记与转递事件</h2>
<table><tr><th>对象</th><th>类别</th><th>记录</th><th>日志序号</th><th>—</th>
<th>锚定交易</th><th>结果</th></tr>
{_logged_rows_html(data["records"], "about")}</table>
</body></html>
"""


def write_report(
    report: Report,
    json_path: Any,
    html_path: Any,
    zone: str = "Asia/Shanghai",
    zone_label: str = "北京时间",
) -> None:
    report.finished_ms = report.finished_ms or int(time.time() * 1000)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(report.to_json(), f, ensure_ascii=False, indent=2)
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(render_html(report, zone, zone_label))
