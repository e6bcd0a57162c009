"""``notary backup`` and ``notary restore``: a verifiable copy of a deployment taken while
it serves, and a restore that proves itself before anyone relies on it (docs/backup.md).

Exit status of ``restore``: 0 restored and proved; 1 the restored deployment failed a
check (report in the new home); 2 the backup was refused (nothing written) or bad
input; 3 restored, but the chain proves entries newer than the backup that it lacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clients.commands._common import out
from clients.errors import UserError

MISSING_EXIT = 3


def _echo(message: str) -> None:
    typer.echo(message, err=True)


def backup(
    home: Annotated[Path, typer.Option("--home", help="部署目录（服务可在运行中）。")],
    to: Annotated[Path, typer.Option("--to", help="备份目录（新目录，每次备份一个）。")],
    base: Annotated[
        Path | None,
        typer.Option("--base", help="增量：只复制此前一份备份（同一上级目录下）没有的内容块。"),
    ] = None,
    include_passphrase: Annotated[
        bool,
        typer.Option(
            "--include-passphrase",
            help="连同 keys/passphrase 一起备份（默认不含：口令应与备份分开保管）。",
        ),
    ] = False,
) -> None:
    """备份部署：数据库、嵌入式链、密钥（仍加密）、部署描述与配置、内容块，附 SM3 清单与签名。"""
    from transfer.backup.manifest import BackupCheckFailed
    from transfer.backup.take import BackupError, take_backup
    from transfer.services.setup import is_initialised

    if not is_initialised(home):
        raise UserError(f"{home} 不是部署目录")
    try:
        result = take_backup(home, to, base=base, include_passphrase=include_passphrase, echo=_echo)
    except (BackupError, BackupCheckFailed) as e:
        raise UserError(f"备份失败：{e}") from None
    except OSError as e:
        raise UserError(f"备份失败：{e.filename or ''} {e.strerror or e}") from None
    m = result.manifest
    cp = m.checkpoint
    out.print(f"备份完成：{result.target.resolve()}")
    out.print(
        f"文件 {len(m.files)} 个（{result.bytes_written:,} 字节），"
        f"沿用基础备份的内容块 {result.blocks_inherited} 个，用时 {result.seconds:.1f} 秒"
    )
    out.print(f"日志条目 {m.log_size} 条")
    if cp is None:
        out.print("覆盖的已锚定检查点：无（日志尚未锚定）")
    else:
        out.print(
            f"覆盖的已锚定检查点：树大小 {cp['tree_size']}，根 {cp['root'][:16]}…，"
            f"区块 {cp['block_number']}"
        )
    if not include_passphrase:
        out.print("注意：备份不含密钥口令（keys/passphrase），恢复时须另行提供")


def restore(
    source: Annotated[Path, typer.Option("--from", help="备份目录。")],
    home: Annotated[Path, typer.Option("--home", help="新的部署目录（不存在或为空）。")],
    passphrase_file: Annotated[
        Path | None,
        typer.Option("--passphrase-file", help="密钥口令文件（备份不含口令时需要）。"),
    ] = None,
    database_url: Annotated[
        str, typer.Option("--database-url", help="PostgreSQL 备份：恢复到这个空数据库。")
    ] = "",
    store: Annotated[
        str | None, typer.Option("--store", help="IPFS 备份：导入到这个 Kubo RPC 地址。")
    ] = None,
    keep_passphrase: Annotated[
        bool,
        typer.Option(
            "--keep-passphrase/--no-keep-passphrase",
            help="把口令写入新部署的 keys/passphrase（否则服务启动需 NOTARY_KEY_PASSPHRASE）。",
        ),
    ] = True,
) -> None:
    """恢复备份：先核验清单签名与每个文件的 SM3，再重建部署，并对照链上锚定证明恢复结果。"""
    from clients.commands.audit import audit
    from notary.deployment import DESCRIPTOR
    from notary.errors import NotaryError
    from transfer.backup.manifest import BackupCheckFailed
    from transfer.backup.restore import (
        HELD_DESCRIPTOR,
        REPORT,
        prove_restored,
        rebuild_home,
        verify_backup,
    )
    from transfer.backup.take import BackupError

    try:
        verified = verify_backup(source, passphrase_file=passphrase_file, echo=_echo)
        rebuild_home(
            verified,
            home,
            database_url=database_url,
            store=store,
            keep_passphrase=keep_passphrase,
            echo=_echo,
        )
    except BackupCheckFailed as e:
        raise UserError(f"备份校验未通过，拒绝恢复 [{e.check}]：{e.detail}") from None
    except BackupError as e:
        raise UserError(f"无法恢复：{e}") from None
    except OSError as e:
        raise UserError(f"无法恢复：{e.filename or ''} {e.strerror or e}") from None
    try:
        proof = prove_restored(home, verified.manifest, echo=_echo)
    except (NotaryError, OSError) as e:
        raise UserError(
            f"部署已重建于 {home}，但未能对照链完成自证（{type(e).__name__}: {e}）："
            f"请在链可用后运行 notary audit --home {home} --out 报告目录"
        ) from None
    out.print(f"已恢复到 {home.resolve()}：日志条目 {proof.log_size} 条")
    if proof.checkpoint_size is not None and not proof.problems:
        out.print(f"备份检查点（树大小 {proof.checkpoint_size}）的日志根与链上锚定一致")
    if proof.reanchored:
        out.print(f"已重新锚定备份时尚未上链的检查点：树大小 {proof.reanchored}")
    for p in proof.problems:
        out.print(f"问题：{p}")
    if proof.missing:
        first, last = proof.missing
        out.print(
            f"缺失：链上锚定的日志已有 {proof.chain_size} 条，本备份只有 {proof.log_size} 条；"
            f"序号 {first}–{last} 的 {proof.missing_count} 条已确证存在但不在备份中。"
            f"已记入告警；在补回这些条目之前请勿启动服务。报告：{home / REPORT}"
        )
        out.print(
            f"为防误启动，部署描述已改名为 {HELD_DESCRIPTOR}；确认处置后改回 {DESCRIPTOR} 方可启动"
        )
        raise typer.Exit(MISSING_EXIT)
    if proof.problems:
        raise typer.Exit(1)
    _echo("四性检测：逐件重算内容块、SM3，核验回执与链上锚定……")
    audit(home=home, out_dir=home / "restore-audit", volume=None, unit=None, rpc=None)
    out.print(f"恢复完成并已自证；可启动服务：notary serve --home {home}")
