"""``notary read MATERIAL --out FILE --purpose …``: a verified read (利用).

The service checks everything before it returns a byte and records the read in the
read log (利用登记) with its purpose; the SDK checks again here (SM3 of the bytes, the
evidence receipt, with ``--rpc`` the chain anchor) before the file is written. A read
that fails a check writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clients.commands._common import (
    DEFAULT_URL,
    JsonOpt,
    KeyOpt,
    RpcOpt,
    UrlOpt,
    client,
    out,
    print_json,
)
from clients.commands._files import refuse_existing, write_new
from clients.errors import UserError

CHECKS = {
    "content": "内容 CID",
    "envelope": "数字信封",
    "sm3": "SM3",
    "log": "日志包含证明",
    "anchor": "链上锚定",
    "content-sm3": "SM3",
    "entry": "日志条目",
    "checkpoint-signature": "检查点签名",
    "inclusion": "包含证明",
    "log-key": "日志密钥",
}


def _zh(checks: tuple[str, ...] | list[str]) -> str:
    return "、".join(CHECKS.get(c, c) for c in checks) or "无"


def read(
    material_id: Annotated[str, typer.Argument(help="材料 ID。")],
    dest: Annotated[Path, typer.Option("--out", "-o", help="保存材料的文件（不覆盖已有文件）。")],
    purpose: Annotated[
        str, typer.Option("--purpose", help="利用目的（记入利用登记），如 干部考察、审核。")
    ],
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="等待检查点覆盖新登记材料的秒数。")
    ] = 5.0,
    rpc: RpcOpt = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """利用（查阅）材料：服务端与本地双重核验后保存到文件，并记入利用登记。"""
    if not purpose.strip():
        raise UserError("--purpose 不能为空：须说明利用目的")
    refuse_existing(dest)
    with client(url, key, rpc=rpc) as c:
        d = c.download(material_id, purpose.strip(), wait=wait)
    write_new(dest, d.content)
    m = d.material
    anchor = None
    if d.receipt is not None and d.receipt.verified is not None:
        anchor = d.receipt.verified.anchor
    if as_json:
        print_json(
            {
                "material_id": str(m["id"]),
                "file": str(dest),
                "size": len(d.content),
                "sm3": d.sm3,
                "purpose": purpose.strip(),
                "server_checks": list(d.server_checks),
                "client_checks": list(d.client_checks),
                "anchor": None if anchor is None else anchor.to_json(),
            }
        )
        return
    out.print(
        f"已保存：{dest}（{len(d.content):,} 字节）材料 {m['id']}，{m['designation']} {m['title']}"
    )
    out.print(f"服务端核验：{_zh(d.server_checks)}")
    out.print(f"本地核验：{_zh(d.client_checks)}（SM3 {d.sm3}）")
    if anchor is not None:
        out.print(f"链上锚定已核验（通过）：链 {anchor.chain_id} 区块 {anchor.block_number}")
    elif rpc is None:
        out.print("链上锚定未在本地核验：请以 --rpc 给出链 JSON-RPC 地址")
    out.print(f"已记入利用登记（利用目的：{purpose.strip()}）")
