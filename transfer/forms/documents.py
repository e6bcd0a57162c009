"""The five forms as pure functions: facts (plain data) in, A4 PDF bytes out.

干部人事档案转递通知单 (with the receipt stub to return), 转递材料目录, 回执, 退回单 and
存证证明. Every form carries its QR check reference (``transfer.forms.qr``) and prints
the values that reference claims, so a reader can compare paper, QR and chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reportlab.lib.units import mm

from transfer.forms.pdf import CONTENT_W, MARGIN, PAGE_W, Column, Page, fmt_date, fmt_time

QR_SIZE = 32 * mm
PROPERTIES = ("真实性", "完整性", "可用性", "安全性")


@dataclass(frozen=True, slots=True)
class Party:
    code: str
    name: str

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


@dataclass(frozen=True, slots=True)
class ChainTx:
    """A transaction that recorded a step on chain, per volume where there are several."""

    tx_hash: str
    block: int | None
    volume: str  # the notice's volume id, or "" for a material's anchor


@dataclass(frozen=True, slots=True)
class TransferFacts:
    transfer_id: str
    transfer_no: str
    classification: str
    reason: str
    sender: Party
    receiver: Party
    cadre_ref: str  # the blinded cadre id of the notice: the name is never stored
    volumes_main: int
    volumes_copy: int
    material_count: int
    created_at: datetime
    deadline: datetime
    dispatched_at: datetime | None
    state_zh: str
    package_root: str | None
    chain_id: int
    contract: str
    dispatch_txs: tuple[ChainTx, ...] = ()
    dispatch_handler: str | None = None  # 经办人 named in the signed dispatch act


@dataclass(frozen=True, slots=True)
class Fill:
    """What the clerk writes on a notice at print time, rendered and never stored: the
    service keeps no names (the cadre is a blinded id), so without it the form leaves
    the lines blank for handwriting."""

    cadre_name: str | None = None
    handler: str | None = None  # 经办人


@dataclass(frozen=True, slots=True)
class CatalogueRow:
    volume: str  # 正本 / 副本
    category: str
    seq_no: str
    title: str
    formation_date: str
    pages: str
    sm3: str


@dataclass(frozen=True, slots=True)
class ReasonRow:
    code: str
    detail: str
    material: str
    property_zh: str


@dataclass(frozen=True, slots=True)
class OutcomeFacts:
    """A signed receipt (回执) or rejection (退回) as recorded."""

    accepted: bool
    act_hash: str
    signed_at: datetime
    signer: Party
    # per property (真实性…): (materials passed, materials checked)
    properties: dict[str, tuple[int, int]]
    reasons: tuple[ReasonRow, ...]
    txs: tuple[ChainTx, ...]
    closed_at: datetime | None = None
    handler: str | None = None  # 经办人 named in the signed act (None: 未登记)


@dataclass(frozen=True, slots=True)
class EvidenceFacts:
    material_id: str
    title: str
    category: str
    seq_no: int
    pages: int
    formation_date: str
    media_type: str
    sm3: str
    size: int
    sealed_size: int
    cid: str
    unit: Party
    registered_at: datetime
    leaf_index: int
    tree_size: int
    checkpoint_root: str
    log_id: str
    chain_id: int
    contract: str
    block: int
    checkpoint_time: datetime  # when the deployment signed the checkpoint
    tx_hash: str
    versions: str = field(default="第 1 版")


def _head(p: Page, title: str, number: str, url: str, facts: Sequence[str]) -> None:
    """Title, the QR at the top right and a few lines beside it."""
    top = p.y
    p.qr(url, PAGE_W - MARGIN - QR_SIZE, top, QR_SIZE)
    p.title(title)
    p.text(MARGIN, p.y, number, 12)
    p.y -= 7 * mm
    for line in facts:
        p.text(MARGIN, p.y, p.fit(line, 9.5, CONTENT_W - QR_SIZE - 4 * mm), 9.5)
        p.y -= 5 * mm
    p.y = min(p.y, top - QR_SIZE - 8 * mm)


def _txs(txs: Sequence[ChainTx]) -> str:
    if not txs:
        return "尚未上链"
    return "\n".join(
        (f"卷 {t.volume}：" if t.volume else "")
        + t.tx_hash
        + ("" if t.block is None else f"（区块 {t.block}）")
        for t in txs
    )


def _chain(t: TransferFacts) -> str:
    return f"链 ID {t.chain_id}，合约 {t.contract}"


def render_notice(t: TransferFacts, url: str, fill: Fill | None = None) -> bytes:
    """干部人事档案转递通知单, with the 回执 stub the receiving unit fills in and returns."""
    fill = fill or Fill()
    name = fill.cadre_name or "________"
    p = Page(f"干部人事档案转递通知单 {t.transfer_no}", t.transfer_id)
    _head(
        p,
        "干部人事档案转递通知单",
        t.transfer_no,
        url,
        [f"转递 ID：{t.transfer_id}", f"密级：{t.classification}", f"状态：{t.state_zh}"],
    )
    p.line_text(f"{t.receiver.name}：")
    p.line_text(
        f"现将 {name} 同志的干部人事档案转去，正本 {t.volumes_main} 卷、"
        f"副本 {t.volumes_copy} 卷，共 {t.material_count} 份材料（详见转递材料目录），"
        "请按规定查收，"
        f"并于 {fmt_date(t.deadline)} 前将回执退回。",
        indent=7 * mm,
    )
    p.y -= 2 * mm
    p.fields(
        [
            ("转出单位", str(t.sender)),
            ("接收单位", str(t.receiver)),
            (
                "干部姓名",
                f"{fill.cadre_name or '（经办人手填）'}        档案标识：{t.cadre_ref[:16]}",
            ),
            ("档案卷数", f"正本 {t.volumes_main} 卷　副本 {t.volumes_copy} 卷"),
            ("材料份数", f"{t.material_count} 份"),
            ("转递原因", t.reason),
            # Typed at print time, else the one the dispatch act names; " ": left blank.
            ("经办人", fill.handler or t.dispatch_handler or " "),
            ("转出日期", fmt_date(t.dispatched_at or t.created_at)),
            ("回执期限", fmt_date(t.deadline)),
            ("转递包根", t.package_root or "尚未打包"),
            ("转出交易", _txs(t.dispatch_txs)),
            ("区块链", _chain(t)),
        ]
    )
    p.y -= 3 * mm
    p.signature_boxes(["转出单位（盖章）", "经办人（签字）"])
    # The stub: cut off, filled in, stamped and sent back by the receiving unit.
    p.need(70 * mm)
    p.cut_line("沿此线剪下：以下回执由接收单位填写、盖章后退回转出单位")
    p.title("干部人事档案转递回执", 14)
    p.line_text(f"{t.sender.name}：")
    p.line_text(
        f"你单位 {t.transfer_no} 转来 {name} 同志的干部人事档案正本 {t.volumes_main} 卷、"
        f"副本 {t.volumes_copy} 卷，共 {t.material_count} 份材料，已收到。经核对：□ 无误　□ 有误"
        "（另附说明）。",
        indent=7 * mm,
    )
    p.line_text(f"转递 ID：{t.transfer_id}　转递包根：{(t.package_root or '—')[:16]}…", 9)
    p.y -= 2 * mm
    p.signature_boxes(["接收单位（盖章）", "经办人（签字）"])
    return p.finish()


def render_list(t: TransferFacts, rows: Sequence[CatalogueRow], url: str) -> bytes:
    """转递材料目录: one row per material, in 类号-序号 order per volume."""
    p = Page(f"转递材料目录 {t.transfer_no}", t.transfer_id)
    _head(
        p,
        "转递材料目录",
        t.transfer_no,
        url,
        [
            f"转出单位：{t.sender}",
            f"接收单位：{t.receiver}",
            f"正本 {t.volumes_main} 卷　副本 {t.volumes_copy} 卷　共 {len(rows)} 份材料",
            f"转递包根：{t.package_root or '尚未打包'}",
        ],
    )
    columns = [
        Column("序号", 11 * mm),
        Column("卷别", 11 * mm),
        Column("类号", 11 * mm),
        Column("材料名称", 63 * mm),
        Column("形成时间", 24 * mm),
        Column("页数", 11 * mm),
        Column("SM3（前 16 位）", CONTENT_W - 131 * mm),
    ]
    p.table(
        columns,
        [
            [
                str(i),
                r.volume,
                f"{r.category}-{r.seq_no}",
                r.title,
                r.formation_date,
                r.pages,
                r.sm3[:16],
            ]
            for i, r in enumerate(rows, 1)
        ],
    )
    p.y -= 4 * mm
    p.line_text(
        f"合计 {len(rows)} 份材料；完整 SM3 见转递通知（包根 {t.package_root or '—'}）。", 9
    )
    p.y -= 3 * mm
    p.signature_boxes(["转出单位经办人（签字）", "接收单位核对人（签字）"], 20 * mm)
    return p.finish()


def render_outcome(t: TransferFacts, o: OutcomeFacts, url: str) -> bytes:
    """回执 (accepted) or 退回单 (rejected), with the chain transactions that recorded it."""
    title = "干部人事档案转递回执" if o.accepted else "干部人事档案退回单"
    p = Page(f"{title} {t.transfer_no}", t.transfer_id)
    _head(
        p,
        title,
        t.transfer_no,
        url,
        [
            f"转递 ID：{t.transfer_id}",
            f"签署单位：{o.signer}",
            f"签署时间：{fmt_time(o.signed_at)}",
            f"经办人：{o.handler or '未登记'}",
        ],
    )
    if o.accepted:
        p.line_text(f"{t.sender.name}：")
        p.line_text(
            f"你单位 {t.transfer_no} 转来的干部人事档案正本 {t.volumes_main} 卷、副本 "
            f"{t.volumes_copy} 卷，共 {t.material_count} 份材料已收到，经四性检测，予以接收。",
            indent=7 * mm,
        )
    else:
        p.line_text(f"{t.sender.name}：")
        p.line_text(
            f"你单位 {t.transfer_no} 转来的干部人事档案经核验存在下列问题，予以退回，"
            "请核实处理后重新转递。",
            indent=7 * mm,
        )
    p.y -= 2 * mm
    p.fields(
        [
            ("转出单位", str(t.sender)),
            ("接收单位", str(t.receiver)),
            (
                "结论",
                "已签收（保管权已在链上转移）" if o.accepted else "已拒收（保管权仍属转出单位）",
            ),
            ("转递包根", t.package_root or "—"),
            ("回执摘要" if o.accepted else "退回单摘要", o.act_hash),
            ("链上交易", _txs(o.txs)),
            ("区块链", _chain(t)),
        ]
    )
    if o.properties:
        p.y -= 4 * mm
        p.line_text("四性检测结果", 12)
        p.table(
            [Column("检测项", 40 * mm), Column("通过", 40 * mm), Column("检测材料数", 40 * mm)],
            [[k, str(ok), str(n)] for k, (ok, n) in o.properties.items()],
        )
    if not o.accepted:
        p.y -= 4 * mm
        p.line_text("退回原因", 12)
        p.table(
            [
                Column("序号", 11 * mm),
                Column("四性", 16 * mm),
                Column("原因代码", 40 * mm),
                Column("说明", CONTENT_W - 122 * mm),
                Column("涉及材料", 55 * mm),
            ],
            [
                [str(i), r.property_zh, r.code, r.detail, r.material]
                for i, r in enumerate(o.reasons, 1)
            ]
            or [["—", "—", "—", "（未列原因）", "—"]],
        )
    p.y -= 5 * mm
    p.signature_boxes(["接收单位（盖章）", "经办人（签字）"])
    return p.finish()


def render_evidence(e: EvidenceFacts, url: str) -> bytes:
    """存证证明: one material's evidence receipt in human form."""
    p = Page(f"电子档案存证证明 {e.material_id}", e.material_id)
    _head(
        p,
        "电子档案存证证明",
        f"材料 {e.category}-{e.seq_no}　{e.title}",
        url,
        [f"材料 ID：{e.material_id}", f"登记单位：{e.unit}", f"{e.versions}"],
    )
    p.line_text(
        f"兹证明：下列材料已于 {fmt_time(e.registered_at)} 由 {e.unit.name} 登记，其 SM3 摘要"
        f"记入本中心存证日志第 {e.leaf_index} 条，并随 {fmt_time(e.checkpoint_time)} 签署的"
        f"检查点（日志长度 {e.tree_size}）锚定在区块链第 {e.block} 号区块。",
        indent=7 * mm,
    )
    p.y -= 2 * mm
    p.fields(
        [
            ("题名", e.title),
            ("类号-序号", f"{e.category}-{e.seq_no}"),
            ("形成时间", e.formation_date),
            ("页数", str(e.pages)),
            ("文件类型", e.media_type),
            ("SM3 摘要", e.sm3),
            ("原文大小", f"{e.size:,} 字节（明文）"),
            ("密文大小", f"{e.sealed_size:,} 字节（SM4-GCM 加密后）"),
            ("内容标识 CID", e.cid),
            ("日志位置", f"第 {e.leaf_index} 条（日志 ID {e.log_id[:16]}…）"),
            (
                "检查点",
                f"日志长度 {e.tree_size}，根 {e.checkpoint_root}，"
                f"签署于 {fmt_time(e.checkpoint_time)}",
            ),
            ("链上锚定", f"链 ID {e.chain_id}，区块 {e.block}"),
            ("合约地址", e.contract),
            ("锚定交易", e.tx_hash),
        ]
    )
    p.y -= 4 * mm
    p.line_text(
        "核验方法：扫描二维码在链上比对；或以存证回执（JSON）用 notary verify --receipt "
        "独立核验，无需本服务。",
        9,
    )
    p.y -= 3 * mm
    p.signature_boxes(["出具单位（盖章）", "经办人（签字）"])
    return p.finish()
