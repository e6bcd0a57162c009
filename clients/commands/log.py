"""``notary log checkpoints`` and ``notary log monitor`` (through the API).

The monitor re-checks what a log promises: every anchored checkpoint is signed by the
pinned log key (when given), its root is the one anchored on chain (when a chain RPC is
known), and each checkpoint is consistent with the next (RFC 9162 consistency proofs
served by the API, checked here), so the log was never rewritten.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from clients.commands._common import (
    DEFAULT_URL,
    JsonOpt,
    KeyOpt,
    RpcOpt,
    UrlOpt,
    client,
    err,
    out,
    print_json,
)
from clients.errors import UserError
from clients.sdk import NotaryClient
from notary.checkpoint import SignedCheckpoint, parse_signed_checkpoint
from notary.crypto import SM2PublicKey, sm3
from notary.errors import NotaryError, ProofError
from notary.log.merkle import verify_consistency

log_app = typer.Typer(help="日志：检查点与一致性监测。", no_args_is_help=True)


def all_checkpoints(c: NotaryClient, anchored: bool | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = c.checkpoints(anchored=anchored, limit=100, offset=offset)
        items.extend(page["items"])
        offset = page["next_offset"]
    return items


@log_app.command("checkpoints")
def checkpoints(
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    anchored: Annotated[bool, typer.Option("--anchored", help="只列出已锚定的检查点。")] = False,
    limit: Annotated[int, typer.Option("--limit", help="最多列出多少个（最新在前）。")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """已签名的检查点（最新在前）及其链上锚定。"""
    with client(url, key) as c:
        page = c.checkpoints(anchored=True if anchored else None, limit=limit)
    if as_json:
        print_json(page["items"])
        return
    t = Table("树大小", "根", "状态", "区块", "交易", title="检查点")
    for cp in page["items"]:
        a = cp.get("anchor") or {}
        t.add_row(
            str(cp["tree_size"]),
            cp["root"][:16] + "…",
            "已锚定" if cp["status"] == "anchored" else "待锚定",
            str(a.get("block_number", "")),
            (a.get("tx_hash") or "")[:18],
        )
    out.print(t)


def _load_key(value: str) -> SM2PublicKey:
    path = Path(value)
    try:
        if path.is_file():
            return SM2PublicKey.from_pem(path.read_bytes())
        return SM2PublicKey(bytes.fromhex(value))
    except (ValueError, NotaryError) as e:
        raise UserError(f"--log-key 须为 PEM 文件或 128 位十六进制公钥：{e}") from None


@log_app.command("monitor")
def monitor(
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    rpc: RpcOpt = None,
    log_key: Annotated[
        str | None, typer.Option("--log-key", help="固定日志公钥（PEM 文件或十六进制）。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """核查全部已锚定检查点之间的一致性（一致性证明 + 链上根）。"""
    pinned = None if log_key is None else _load_key(log_key)
    problems: list[dict[str, str]] = []
    with client(url, key) as c:
        rows = sorted(all_checkpoints(c, anchored=True), key=lambda r: int(r["tree_size"]))
        chain = _chain_reader(c, rpc)
        cps: list[SignedCheckpoint] = []
        for row in rows:
            size = int(row["tree_size"])
            try:
                cp = parse_signed_checkpoint(row["checkpoint"])
            except NotaryError as e:
                problems.append(
                    {"subject": f"checkpoint {size}", "check": "format", "detail": str(e)}
                )
                continue
            cps.append(cp)
            _check_one(cp, pinned, chain, problems)
        key_ids = {cp.checkpoint.key_id for cp in cps}
        if len(key_ids) > 1:
            problems.append(
                {"subject": "log", "check": "log-key", "detail": "检查点由不止一把密钥签名"}
            )
        for a, b in pairwise(cps):
            s1, s2 = a.checkpoint.tree_size, b.checkpoint.tree_size
            proof = [bytes.fromhex(h) for h in c.consistency(s1, s2)["proof"]]
            try:
                verify_consistency(sm3, s1, s2, a.checkpoint.root, b.checkpoint.root, proof)
            except (ProofError, ValueError) as e:
                problems.append(
                    {
                        "subject": f"checkpoints {s1}→{s2}",
                        "check": "consistency",
                        "detail": f"日志不一致（被改写？）：{e}",
                    }
                )
    report = {
        "checkpoints": len(cps),
        "pairs_checked": max(0, len(cps) - 1),
        "signatures_checked": pinned is not None,
        "chain_checked": chain is not None,
        "latest_tree_size": cps[-1].checkpoint.tree_size if cps else 0,
        "ok": not problems,
        "problems": problems,
    }
    if as_json:
        print_json(report)
    else:
        sig = "已核验签名" if pinned is not None else "签名未核验（可用 --log-key 固定日志公钥）"
        on_chain = "已核对链上根" if chain is not None else "未核对链上根（无 RPC）"
        out.print(
            f"检查点 {report['checkpoints']} 个，一致性证明 {report['pairs_checked']} 对；"
            f"{sig}；{on_chain}"
        )
        for p in problems:
            err.print(f"问题 {p['subject']} [{p['check']}] {p['detail']}", style="red")
        out.print("结论：一致" if not problems else f"结论：发现 {len(problems)} 个问题")
    if problems:
        raise typer.Exit(1)


def _chain_reader(c: NotaryClient, rpc: str | None) -> Any:
    """A read-only chain client, from --rpc or the service's advertised RPC, else None."""
    info = c.chain_info()
    rpc = rpc or info.get("rpc_url")
    if not rpc:
        return None
    from notary.chain.client import ChainClient
    from notary.chain.rpc import connect

    try:
        return ChainClient.reader(connect(rpc), info["contract"])
    except (NotaryError, OSError) as e:
        raise UserError(f"无法连接链 RPC {rpc}：{e}") from None


def _check_one(
    cp: SignedCheckpoint, pinned: SM2PublicKey | None, chain: Any, problems: list[dict[str, str]]
) -> None:
    subject = f"checkpoint {cp.checkpoint.tree_size}"
    if pinned is not None:
        try:
            cp.verify(pinned)
        except NotaryError as e:
            problems.append({"subject": subject, "check": "checkpoint-signature", "detail": str(e)})
    if chain is not None:
        anchor = chain.get_anchor(cp.checkpoint.log_id, cp.checkpoint.tree_size)
        if anchor is None:
            problems.append({"subject": subject, "check": "anchor", "detail": "链上无此检查点"})
        elif anchor.root != cp.checkpoint.root:
            problems.append(
                {"subject": subject, "check": "anchor", "detail": "链上根与检查点根不一致"}
            )
