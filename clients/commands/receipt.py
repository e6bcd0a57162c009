"""``notary receipt get MATERIAL [-o FILE]``: a material's evidence receipt (证据回执),
verified here before it is handed over; ``notary verify --receipt FILE`` checks it later
with no service at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

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
from clients.commands._files import refuse_existing, write_new

receipt_app = typer.Typer(help="证据回执：获取并在本地核验材料的证据回执。", no_args_is_help=True)


def _summary(rr: Any) -> dict[str, Any]:
    v = rr.verified
    return {
        "material_id": rr.material_id,
        "status": rr.status,
        "leaf_index": rr.leaf_index,
        "client_verified": v is not None,
        "tree_size": None if v is None else v.offline.tree_size,
        "log_key": None if v is None else v.offline.key_fingerprint.hex(),
        "anchor": None if v is None or v.anchor is None else v.anchor.to_json(),
    }


@receipt_app.command("get")
def get(
    material_id: Annotated[str, typer.Argument(help="材料 ID。")],
    dest: Annotated[
        Path | None, typer.Option("--out", "-o", help="保存到此文件（默认输出到标准输出）。")
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="等待上链锚定的秒数（默认不等）。")
    ] = 0.0,
    rpc: RpcOpt = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """获取材料的证据回执：签名检查点、包含证明、链上锚定位置；先在本地核验再保存。"""
    if dest is not None:
        refuse_existing(dest)
    with client(url, key, rpc=rpc) as c:
        rr = c.receipt(material_id, wait=wait)
    summary = _summary(rr)
    if rr.document is None:
        if as_json:
            print_json({**summary, "receipt": None})
        err.print(
            f"notary: 材料 {material_id} 尚无检查点覆盖，暂无证据回执：请稍后重试"
            "（或以 --wait 秒数等待）"
        )
        raise typer.Exit(1)
    text = json.dumps(rr.document, ensure_ascii=False, indent=2) + "\n"
    if dest is not None:
        write_new(dest, text.encode("utf-8"))
    if as_json:
        print_json({**summary, "file": None if dest is None else str(dest), "receipt": rr.document})
        return
    # Without --out the receipt itself is the output (to a file or a pipe), the words
    # go to stderr.
    say = out if dest is not None else err
    if dest is None:
        typer.echo(text, nl=False)
    else:
        say.print(f"证据回执已保存：{dest}")
    for line in _lines(summary, rpc):
        say.print(line)


def _lines(summary: dict[str, Any], rpc: str | None) -> list[str]:
    lines = []
    if summary["status"] == "anchored":
        lines.append(f"状态：已锚定（日志序号 {summary['leaf_index']}）")
    else:
        lines.append(
            f"状态：待锚定（日志序号 {summary['leaf_index']}，检查点尚未上链）："
            "锚定后请重新获取，离线核验才能核对链上锚定"
        )
    if summary["client_verified"]:
        lines.append(
            f"本地核验通过：检查点签名、包含证明（检查点 {summary['tree_size']}）、"
            f"日志密钥 {summary['log_key'][:16]}…"
        )
    a = summary["anchor"]
    if a is not None:
        lines.append(f"链上锚定已核验（通过）：链 {a['chain_id']} 区块 {a['block_number']}")
    elif summary["status"] == "anchored" and rpc is None:
        lines.append("链上锚定未核验：请以 --rpc 给出链 JSON-RPC 地址")
    lines.append("离线核验：notary verify --receipt 回执文件 --file 材料文件 --rpc 链地址")
    return lines
