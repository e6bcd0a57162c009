"""The 四性检测报告 as an A4 PDF, from the audit's JSON report (``notary.audit``).

Same content as the HTML: scope, tool version, the chain state checked against, the
counts (which add up), the 四性 summary, every problem, then one row per material,
custody event and logged record. Long values are cut to fit a cell; the full values
are in the JSON and HTML written beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reportlab.lib.units import mm

from transfer.forms.pdf import CONTENT_W, Column, Page, fmt_time

PROPERTIES = ("真实性", "完整性", "可用性", "安全性")


def _v(value: Any) -> str:
    return "—" if value is None else str(value)


def _section(p: Page, title: str) -> None:
    p.y -= 4 * mm
    p.need(30 * mm)
    p.line_text(title, 12)


def render_audit(doc: dict[str, Any]) -> bytes:
    s = doc["summary"]
    p = Page(f"档案四性检测报告 {doc['scope']}", "archive-notary/audit-report/v2")
    p.title("档案四性检测报告")
    started = datetime.fromtimestamp(doc["started_ms"] / 1000, UTC)
    chain = doc.get("chain") or {}
    chain_text = (
        f"链 ID {chain['chain_id']}，合约 {chain['contract']}，检测时链高 {chain['block_number']}"
        if chain
        else "未读链（未核验链上锚定）"
    )
    p.fields(
        [
            ("检测范围", doc["scope"]),
            ("检测时间", fmt_time(started)),
            ("检测工具", f"Archive Notary {doc.get('tool_version') or '—'}"),
            ("链状态", chain_text),
            ("结论", s["result"]),
        ]
    )
    _section(p, "检测数量")
    p.fields(
        [
            (
                "材料",
                f"{s['materials']} 件：通过 {s['materials_passed']} 件，"
                f"有问题 {s['materials_with_problems']} 件",
            ),
            ("密文字节", f"{s['sealed_bytes_rehashed']:,}（SM4-GCM 密文，对 CID 重算哈希）"),
            ("明文字节", f"{s['plain_bytes_rehashed']:,}（解密后以 SM3 重算）"),
            (
                "证明与检查点",
                f"已验证证明 {s['proofs_checked']} 个，检查点 {s['checkpoints_checked']} 个",
            ),
            ("案卷与保管", f"案卷 {s['volumes']} 卷，保管记录 {s['custody_events']} 条"),
            (
                "利用与转递",
                f"利用登记 {s['records']['read_log']} 条，"
                f"转递事件 {s['records']['transfer_events']} 条",
            ),
            ("问题", f"{s['problems']} 个"),
        ],
        label_w=32 * mm,
    )
    _section(p, "四性汇总")
    p.table(
        [Column("性质", 40 * mm), Column("通过", 40 * mm), Column("问题", 40 * mm)],
        [[k, str(v["passed"]), str(v["problems"])] for k, v in s["by_property"].items()],
    )
    _section(p, "问题明细")
    p.table(
        [
            Column("性质", 16 * mm),
            Column("检查项", 26 * mm),
            Column("对象", 50 * mm),
            Column("说明", CONTENT_W - 92 * mm),
        ],
        [[x["property"], x["check"], x["subject"], x["detail"]] for x in doc["problems"]]
        or [["—", "—", "—", "未发现问题"]],
    )
    _section(p, "材料明细")
    p.table(
        [
            Column("类-序-页", 20 * mm),
            Column("题名", 26 * mm),
            Column("SM3（前 12 位）", 26 * mm),
            Column("日志序号", 14 * mm),
            Column("区块", 11 * mm),
            Column("明文字节", 15 * mm),
            Column("密文字节", 15 * mm),
            *[Column(prop, (CONTENT_W - 127 * mm) / 4) for prop in PROPERTIES],
        ],
        [
            [
                _v(r["designation"]),
                _v(r["title"]),
                r["sm3"][:12],
                _v(r["leaf_index"]),
                _v(r["block"]),
                _v(r["plain_size"]),
                _v(r["sealed_size"]),
                # 问题 rather than 未通过: two characters fit the column; the problem
                # itself is listed under 问题明细.
                *["通过" if r["results"][prop] == "通过" else "问题" for prop in PROPERTIES],
            ]
            for r in doc["materials"]
        ]
        or [["—"] * 11],
    )
    _section(p, "材料存证位置")
    p.table(
        [
            Column("类-序-页", 20 * mm),
            Column("保管单位", 22 * mm),
            Column("CID", 50 * mm),
            Column("检查点", 16 * mm),
            Column("锚定交易", CONTENT_W - 108 * mm),
        ],
        [
            [
                _v(r["designation"]),
                _v(r["custodian"]),
                r["cid"],
                _v(r["checkpoint_tree_size"]),
                _v(r["chain_tx"]),
            ]
            for r in doc["materials"]
        ]
        or [["—"] * 5],
    )
    _section(p, "保管记录")
    p.table(
        [
            Column("案卷", 40 * mm),
            Column("事件", 22 * mm),
            Column("日志序号", 18 * mm),
            Column("保管交易", CONTENT_W - 100 * mm),
            Column("结果", 20 * mm),
        ],
        [
            [
                r["volume"],
                r["kind"],
                _v(r["leaf_index"]),
                _v(r["chain_tx"]),
                "通过" if r["passed"] else "未通过",
            ]
            for r in doc["custody_events"]
        ]
        or [["—"] * 5],
    )
    _section(p, "利用登记与转递事件")
    p.table(
        [
            Column("类别", 22 * mm),
            Column("记录", CONTENT_W - 80 * mm),
            Column("日志序号", 18 * mm),
            Column("结果", 20 * mm),
            Column("对象", 20 * mm),
        ],
        [
            [
                r["what"],
                r["subject"],
                _v(r["leaf_index"]),
                "通过" if r["passed"] else "未通过",
                r["about"],
            ]
            for r in doc["records"]
        ]
        or [["—"] * 5],
    )
    return p.finish()
