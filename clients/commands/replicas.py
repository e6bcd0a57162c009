"""``notary replicas check``: re-verify every copy of the content and repair bad ones.

Reads the CIDs the database names (materials, transfer packages) and the stores the
settings name (the primary and ``replicas``); safe beside a running service (content is
addressed by hash, so a repair can only write the right bytes).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from clients.commands._common import JsonOpt, out, print_json
from clients.errors import UserError

replicas_app = typer.Typer(help="内容副本：核验与修复。", no_args_is_help=True)


@replicas_app.command("check")
def check(
    home: Annotated[Path, typer.Option("--home", help="部署目录。")],
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="随机抽查这么多份内容（默认全部）。")
    ] = None,
    repair: Annotated[
        bool, typer.Option("--repair/--no-repair", help="用完好的副本修复损坏或缺失的副本。")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """逐块重新核验每个副本中的内容（按 CID），并从完好的副本修复损坏或缺失的副本。"""
    from notary.store.replicated import ReplicatedStore
    from transfer.backup.take import database_cids
    from transfer.services.replicas import open_primary, with_replicas
    from transfer.services.setup import is_initialised, settings_for

    if not is_initialised(home):
        raise UserError(f"{home} 不是部署目录")
    settings = settings_for(home)
    if not settings.replicas:
        raise UserError("本部署未配置内容副本（service.json 或 NOTARY_REPLICAS 中的 replicas）")
    cids = database_cids(None, settings.database_url_resolved)
    if sample is not None and sample < len(cids):
        cids = sorted(random.sample(cids, sample))
    store = with_replicas(open_primary(settings), settings)
    assert isinstance(store, ReplicatedStore)
    with store:
        report = store.check(cids, repair=repair)
    unrepaired = [r for r in report.damaged if not r.repaired]
    if as_json:
        print_json(
            {
                "checked": report.checked,
                "stores": report.by_store(),
                "problems": [r.__dict__ for r in report.damaged],
            }
        )
    else:
        t = Table("副本", "完好", "损坏或缺失", "已修复", title=f"核验内容 {report.checked} 份")
        for name, row in report.by_store().items():
            t.add_row(name, str(row["ok"]), str(row["damaged"]), str(row["repaired"]))
        out.print(t)
        for r in report.damaged:
            state = "已修复" if r.repaired else "未修复"
            out.print(f"{state}  {r.store}  {r.cid}  {r.problem}")
        out.print("结论：全部副本完好" if not unrepaired else f"结论：{len(unrepaired)} 处未能修复")
    if unrepaired:
        raise typer.Exit(1)
