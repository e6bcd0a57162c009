"""``notary audit``: the auditor's 四性 report over a deployment's holdings.

Reads the service's database and the deployment home directly (it is the auditor's
tool on the server, not an API client): every material version in scope is re-hashed
from the store (fixity), its registration proof re-checked against the smallest
anchored checkpoint and the chain, and every anchored checkpoint is checked for
consistency with the next one (the log monitor; with ``--volume``/``--unit``, only the
checkpoints the scope's evidence cites, each against the newest). Every volume in
scope has its custody records checked against their logged entries, proofs and
anchors, and its custodian against the custody history and, once dispatched, the
contract's custody state.
Findings go to ``notary.audit``'s 四性 columns; the report is written as JSON and HTML.

The embedded chain has a single writer: run the audit with the service stopped, or
give ``--rpc URL`` (the service's read-only chain RPC, ``GET /v1/chain``) and the chain
is read over JSON-RPC while the service runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clients.commands._common import JsonOpt, err, out, print_json
from clients.errors import UserError
from notary.verifier import VerificationMemo
from transfer.services.audit_scope import (
    PARALLEL_MIN,
    audit_items,
    audit_materials_parallel,
    open_sources,
    scope_materials,
    snapshot,
    whole_log_tree,
)


def audit(
    home: Annotated[Path, typer.Option("--home", help="部署目录。")],
    out_dir: Annotated[Path, typer.Option("--out", help="报告输出目录（JSON + HTML）。")],
    volume: Annotated[str | None, typer.Option("--volume", help="只检测此案卷。")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="只检测此单位保管的案卷。")] = None,
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="经链 JSON-RPC 读链（服务运行时使用）。")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="全部馆藏检测（PostgreSQL）时材料检测所用进程数；0 为 CPU 核数，1 为单进程。",
        ),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """四性检测：重新计算内容哈希、核验证明与锚定、监测日志一致性，输出 JSON 与 HTML 报告。"""
    from sqlalchemy import select

    from notary.audit import (
        audit_checkpoints,
        audit_custody,
        audit_materials,
        audit_records,
        cited_checkpoints,
        new_report,
        write_report,
    )
    from notary.checkpoint import parse_signed_checkpoint
    from notary.crypto import sm3
    from notary.log.merkle import consistency_proof
    from transfer.db.models import Checkpoint, CheckpointStatus
    from transfer.db.session import make_engine, read_sessionmaker
    from transfer.db.treestore import DbTreeStorage
    from transfer.forms.pdf import display_zone
    from transfer.security import blinding_secret
    from transfer.services.custody_audit import volume_custody
    from transfer.services.record_audit import logged_records
    from transfer.services.setup import is_initialised, settings_for
    from transfer.workflow.times import zone_label

    if volume is not None and unit is not None:
        raise UserError("--volume 与 --unit 只能给出其一")
    if not is_initialised(home):
        raise UserError(f"{home} 不是部署目录")
    settings = settings_for(home)
    try:
        secret = blinding_secret(settings)
    except (OSError, ValueError) as e:
        raise UserError(f"无法读取盲化密钥：{e}") from None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"无法创建输出目录 {out_dir}：{e.strerror or e}") from None
    engine = make_engine(settings.database_url_resolved)
    try:
        with open_sources(home, settings.store, rpc) as src, read_sessionmaker(engine)() as s:
            whole = volume is None and unit is None
            if whole:
                snapshot(s)  # the tree pass and the materials see one log
            scope, rows, volume_ids = scope_materials(s, volume, unit)
            report = new_report(scope)
            report.tool_version = _tool_version()
            report.chain_state = _chain_state(src.chain)
            cp_rows = s.scalars(
                select(Checkpoint)
                .where(Checkpoint.status == CheckpointStatus.ANCHORED)
                .order_by(Checkpoint.tree_size)
            ).all()
            progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
            )
            with progress:
                t1 = progress.add_task("材料四性检测", total=len(rows))
                current: dict[str, str] = {}
                # The whole log: its stored tree checked once against the entries, so
                # each material's proof need not be (transfer.services.tree_check).
                # One verification memo for the run: a checkpoint's signature and
                # anchor are verified once for materials, custody and records together.
                memo = VerificationMemo(max_entries=1 << 20)
                processes = workers or os.cpu_count() or 1
                if (
                    whole
                    and processes > 1
                    and s.get_bind().dialect.name == "postgresql"
                    and len(rows) >= PARALLEL_MIN
                ):
                    # The workers check the tree too (in ranges), then the materials.
                    audit_materials_parallel(
                        s,
                        src,
                        report,
                        home=home,
                        store=settings.store,
                        rpc=rpc,
                        database_url=settings.database_url_resolved,
                        workers=processes,
                        progress=lambda n: progress.update(t1, completed=n),
                        memo=memo,
                    )
                else:
                    tree = whole_log_tree(s) if whole else None
                    pairs = audit_items(s, rows, src, tree=tree)

                    def items() -> Iterator[Any]:
                        for item, code in pairs:
                            current[item.record.material_id] = code
                            yield item

                    audit_materials(
                        items(),
                        store=src.store,
                        holder=lambda r: src.holder_key(current[r.material_id]),
                        log_keys=[src.log_key],
                        chain=src.chain,
                        report=report,
                        progress=lambda n: progress.update(t1, completed=n),
                        memo=memo,
                    )
                t_custody = progress.add_task("保管记录检测", total=None)
                audit_custody(
                    volume_custody(
                        s,
                        volume_ids,
                        secret=secret,
                        log_key=src.log_key,
                        centre_account=src.centre_account,
                    ),
                    log_keys=[src.log_key],
                    chain=src.chain,
                    report=report,
                    memo=memo,
                )
                progress.update(t_custody, total=report.volumes, completed=report.volumes)
                t_records = progress.add_task("利用登记、转递事件与权限变更检测", total=1)
                audit_records(
                    logged_records(s, volume_ids, log_key=src.log_key),
                    log_keys=[src.log_key],
                    chain=src.chain,
                    report=report,
                    memo=memo,
                )
                progress.update(t_records, completed=1)
                t2 = progress.add_task("日志一致性监测", total=1)
                storage = DbTreeStorage(s)
                chain = src.chain

                def chain_root(cp: Any) -> bytes | None:
                    a = chain.get_anchor(cp.checkpoint.log_id, cp.checkpoint.tree_size)
                    return None if a is None else bytes(a.root)

                monitored = [parse_signed_checkpoint(r.body) for r in cp_rows]
                if not whole:  # the checkpoints the scope's evidence cites, and the newest
                    cited = (*report.material_rows, *report.custody_rows, *report.record_rows)
                    leaves = (r["leaf_index"] for r in cited if r.get("leaf_index") is not None)
                    monitored = cited_checkpoints(monitored, leaves)
                audit_checkpoints(
                    monitored,
                    lambda a, b: consistency_proof(sm3, storage, a, b),
                    log_key=src.log_key,
                    chain_root=chain_root if chain is not None else None,
                    report=report,
                    against_newest=not whole,
                )
                progress.update(t2, completed=1)
    finally:
        engine.dispose()
    json_path, html_path = out_dir / "audit-report.json", out_dir / "audit-report.html"
    zone = settings.timezone
    write_report(report, json_path, html_path, zone, zone_label(zone))
    doc = report.to_json()
    with display_zone(zone):
        pdf_path = _write_pdf(doc, out_dir / "audit-report.pdf")
    if as_json:
        files = {"json": str(json_path), "html": str(html_path), "pdf": pdf_path and str(pdf_path)}
        print_json({**doc, "files": files})
    else:
        _print_summary(doc, json_path, html_path, pdf_path)
    if not report.ok:
        raise typer.Exit(1)


def _write_pdf(doc: dict[str, Any], path: Path) -> Path | None:
    """The report as an A4 PDF beside the JSON and HTML; without the CJK font (or a
    writable file) those two still stand, and the reason is printed."""
    from transfer.forms.audit_report import render_audit
    from transfer.forms.pdf import FontMissing

    try:
        path.write_bytes(render_audit(doc))
    except (FontMissing, OSError) as e:
        err.print(f"未生成 PDF 报告：{e}")
        return None
    return path


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("archive-notary")
    except PackageNotFoundError:
        return "unknown"


def _chain_state(chain: Any) -> dict[str, Any] | None:
    """The chain the anchors are checked against, read before the checks start."""
    if chain is None:
        return None
    return {
        "chain_id": chain.chain_id,
        "contract": chain.address,
        "block_number": chain.block_number(),
    }


def _print_summary(
    doc: dict[str, Any], json_path: Path, html_path: Path, pdf_path: Path | None
) -> None:
    s = doc["summary"]
    out.print(f"检测范围：{doc['scope']}")
    out.print(
        f"材料 {s['materials']} 件（通过 {s['materials_passed']}，有问题 "
        f"{s['materials_with_problems']}），重算哈希：密文 {s['sealed_bytes_rehashed']:,} 字节、"
        f"明文 {s['plain_bytes_rehashed']:,} 字节，"
        f"核验证明 {s['proofs_checked']} 个，检查点 {s['checkpoints_checked']} 个，"
        f"案卷保管 {s['volumes']} 卷（保管记录 {s['custody_events']} 条）"
    )
    t = Table("性质", "通过", "问题", title="四性汇总")
    for prop, v in s["by_property"].items():
        t.add_row(prop, str(v["passed"]), str(v["problems"]))
    out.print(t)
    if doc["problems"]:
        p = Table("性质", "检查项", "对象", "说明", title="问题明细")
        for x in doc["problems"]:
            p.add_row(x["property"], x["check"], x["subject"], x["detail"])
        out.print(p)
    out.print(f"结论：{s['result']}")
    out.print(f"报告：{json_path}  {html_path}" + (f"  {pdf_path}" if pdf_path else ""))
