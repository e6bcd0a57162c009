"""What the service-facing commands share: connection options, output helpers."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from clients.errors import UserError
from clients.sdk import NotaryClient

UrlOpt = Annotated[
    str,
    typer.Option("--url", envvar="NOTARY_URL", help="服务地址 (env NOTARY_URL)。"),
]
KeyOpt = Annotated[
    str,
    typer.Option("--key", envvar="NOTARY_API_KEY", help="单位 API 密钥 (env NOTARY_API_KEY)。"),
]
RpcOpt = Annotated[
    str | None,
    typer.Option("--rpc", envvar="NOTARY_RPC", help="链 JSON-RPC 地址：另行在链上核验锚定。"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON（供脚本使用）。")]
NoVerifyOpt = Annotated[bool, typer.Option("--no-verify", help="关闭客户端验证（不建议）。")]

DEFAULT_URL = "http://127.0.0.1:8000"

# markup off: titles, reasons and server messages are printed as they are ("[...]" kept).
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def client(url: str, key: str, *, rpc: str | None = None, verify: bool = True) -> NotaryClient:
    if not url:
        raise UserError("缺少服务地址：请给出 --url 或设置 NOTARY_URL")
    if not url.startswith(("http://", "https://")):
        raise UserError(f"服务地址须以 http:// 或 https:// 开头：{url}")
    if not key:
        raise UserError("缺少 API 密钥：请给出 --key 或设置 NOTARY_API_KEY")
    return NotaryClient(url, key, rpc_url=rpc, verify=verify)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
