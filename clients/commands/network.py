"""``notary network …`` (the network admin, 组织部) and ``notary peer …`` (a centre's
administrator): creating the network, admitting centres and units, trusting peers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from clients.commands._common import DEFAULT_URL, KeyOpt, UrlOpt
from clients.errors import UserError

network_app = typer.Typer(
    help="The network of archive centres (run by the network admin).", no_args_is_help=True
)
peer_app = typer.Typer(help="Archive centres this deployment transfers with.", no_args_is_help=True)

AdminHome = Annotated[Path, typer.Option("--home", help="The network admin's directory.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

ADMISSIONS = "admissions.jsonl"


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@network_app.command("create")
def create(
    home: AdminHome,
    chain: Annotated[str, typer.Option("--chain", help="The chain's JSON-RPC URL.")],
    admin_key_file: Annotated[
        Path | None,
        typer.Option(
            "--admin-key-file",
            help="Hex private key of an account that has gas on this chain (a genesis "
            "allocation); without it a new account is made (chains with free gas).",
        ),
    ] = None,
    name: Annotated[str, typer.Option("--name")] = "档案公证网络",
    as_json: JsonOpt = False,
) -> None:
    """Deploy the ArchiveNotary contract and write network.json for the centres."""
    from notary.network import NETWORK_FILE, create_network

    key = None
    if admin_key_file is not None:
        try:
            key = bytes.fromhex(admin_key_file.read_text("ascii").strip().removeprefix("0x"))
        except (OSError, ValueError) as e:
            raise UserError(f"无法读取管理员账户私钥 {admin_key_file}：{e}") from None
        if len(key) != 32:
            raise UserError(f"{admin_key_file} 不是 32 字节的十六进制私钥")
    desc = create_network(home, chain, admin_key=key, name=name)
    path = home / NETWORK_FILE
    if as_json:
        _echo_json({**desc.to_json(), "network_file": str(path.resolve())})
        return
    typer.echo(f"网络已创建：合约 {desc.contract}（chain id {desc.chain_id}）")
    typer.echo(f"管理员账户：{desc.admin_account}（私钥已加密保存在 {home}/keys）")
    typer.echo(f"网络描述文件：{path.resolve()}")
    typer.echo(f"下一步：把此文件交给各档案中心，由其运行 notary init --home DIR --join {path}")


@network_app.command("admit")
def admit_cmd(
    home: AdminHome,
    request: Annotated[Path, typer.Argument(help="A join request (join-request.json).")],
    as_json: JsonOpt = False,
) -> None:
    """Admit a centre and its units (or more units of a member centre) on chain."""
    import time

    from notary.network import JoinRequest, admit

    req = JoinRequest.load(request)
    done = admit(home, req)
    with (home / ADMISSIONS).open("a", encoding="utf-8") as fh:
        for a in done:
            if a.tx_hash is not None:
                line = {**a.to_json(), "centre": req.centre_code, "ms": int(time.time() * 1000)}
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    if as_json:
        _echo_json({"centre": req.centre_code, "admitted": [a.to_json() for a in done]})
        return
    typer.echo(f"入网申请：{req.centre_code} {req.centre_name}")
    for a in done:
        role = {"archive_centre": "档案中心", "unit": "单位"}.get(a.role.name.lower(), a.role.name)
        state = f"已接纳，交易 {a.tx_hash}" if a.tx_hash else "此前已接纳（同一密钥），未重复登记"
        typer.echo(
            f"  {role} {a.code}  账户 {a.account}  密钥指纹 {a.key_fingerprint[:16]}…  {state}"
        )
    typer.echo("请与该中心核对上面的密钥指纹（电话或书面），核对无误后该中心即可启动服务。")


@network_app.command("suspend")
def suspend_cmd(
    home: AdminHome,
    account: Annotated[str, typer.Argument(help="The member's chain account.")],
) -> None:
    """Suspend a member (centre or unit): it can no longer anchor or take custody."""
    from notary.network import suspend

    tx = suspend(home, account)
    typer.echo(f"已暂停成员 {account}，交易 {tx}")


@network_app.command("members")
def members(home: AdminHome, as_json: JsonOpt = False) -> None:
    """Members admitted from this directory, with their state on chain now."""
    from notary.network import admin_client

    _, client, _ = admin_client(home)
    rows = []
    path = home / ADMISSIONS
    lines = path.read_text("utf-8").splitlines() if path.exists() else []
    for line in lines:
        a = json.loads(line)
        m = client.member(a["account"])
        rows.append({**a, "status": None if m is None else m.status.name.lower()})
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['centre']:<10} {r['code']:<14} {r['role']:<15} {r['account']}  {r['status']}"
        )


@peer_app.command("add")
def peer_add(
    code: Annotated[str, typer.Argument(help="The peer centre's code.")],
    address: Annotated[str, typer.Argument(help="The peer centre's service URL.")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Trust another centre: its keys are read from it and checked against the chain's
    member registry (nothing is pinned by hand); its IPFS node is connected to ours."""
    from clients.commands._common import client

    with client(url, key) as c:
        data = c.add_peer(code, address)
    if as_json:
        _echo_json(data)
        return
    typer.echo(f"已登记外部档案中心 {data['code']} {data['name']}（链上成员核验通过）")
    typer.echo(f"  日志公钥指纹 {data['log_key_fingerprint'][:16]}…  账户 {data['chain_account']}")
    for u in data["units"]:
        typer.echo(f"  单位 {u['code']} {u['name']}  账户 {u['chain_account']}")
    if data.get("ipfs_connected"):
        typer.echo("  内容节点已直连（转递包将从对方节点取回）")


@peer_app.command("list")
def peer_list(url: UrlOpt = DEFAULT_URL, key: KeyOpt = "", as_json: JsonOpt = False) -> None:
    """Peer centres registered here."""
    from clients.commands._common import client

    with client(url, key) as c:
        rows = c.list_peers()
    if as_json:
        _echo_json(rows)
        return
    for p in rows:
        units = "、".join(u["code"] for u in p["units"])
        typer.echo(f"{p['code']:<10} {p['name']}  {p['url']}  单位：{units}")
