"""``notary chain ...``: the deployment's chain, seen from its home directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

chain_app = typer.Typer(help="The permissioned chain of a deployment.", no_args_is_help=True)


def chain_status(home: Path) -> dict[str, Any]:
    from notary.deployment import open_deployment

    with open_deployment(home) as dep:
        d = dep.descriptor
        member = dep.chain.member(dep.chain.account)
        latest = dep.chain.latest_anchor(d.log_id)
        return {
            "chain": d.chain_kind if d.chain_kind == "embedded" else d.rpc_url,
            "chain_id": dep.chain.chain_id,
            "contract": dep.chain.address,
            "block_number": dep.chain.block_number(),
            "origin": d.origin,
            "log_id": d.log_id.hex(),
            "centre_account": dep.chain.account,
            "member": None
            if member is None
            else {
                "role": member.role.name,
                "status": member.status.name,
                "key_fingerprint": member.key_fingerprint.hex(),
            },
            "latest_anchor": None
            if latest is None
            else {
                "tree_size": latest.tree_size,
                "root": latest.root.hex(),
                "block_number": latest.block_number,
                "timestamp": latest.timestamp,
            },
        }


@chain_app.command("status")
def status(
    home: Annotated[Path, typer.Option("--home", help="Deployment home directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Chain id, contract, this centre's membership and the latest anchored checkpoint."""
    info = chain_status(home)
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    typer.echo(f"链 (chain)        {info['chain']}  chain id {info['chain_id']}")
    typer.echo(f"合约 (contract)   {info['contract']}  当前区块 {info['block_number']}")
    member = info["member"]
    role = f"{member['role']} / {member['status']}" if member else "不是成员 (not a member)"
    typer.echo(f"本中心账户        {info['centre_account']}  {role}")
    anchor = info["latest_anchor"]
    if anchor is None:
        typer.echo("最新锚定          尚无 (none yet)")
    else:
        typer.echo(
            f"最新锚定          树大小 {anchor['tree_size']}  区块 {anchor['block_number']}  "
            f"根 {anchor['root'][:16]}…"
        )
