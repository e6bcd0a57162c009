"""``notary verify --receipt FILE``: the stand-alone verifier (no service, no database).

The receipt is read from the file's bytes by the one strict parser the service and
the SDK use (``notary.receipts.parse_receipt``), so a duplicate key, an unknown field
or a missing or null ``anchor`` is the same ``format`` failure here as in
``POST /v1/verify``. ``valid`` is true only when every step passed, the chain anchor
included (``--rpc``); without ``--rpc`` the offline steps are checked and reported in
``offline_checks``, and ``valid`` stays false: the anchor was not checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from clients.errors import UserError
from notary.errors import VerificationError

# The checks in the order a clerk reads them, and what each one means when it passed
# or failed. The check ids are those of POST /v1/verify (notary.errors).
LABELS = {
    "format": "格式",
    "log-key": "日志公钥",
    "entry": "材料",
    "checkpoint-signature": "检查点签名",
    "inclusion": "包含证明",
    "consistency": "日志一致性",
    "anchor": "链上锚定",
}
ORDER = ("format", "log-key", "entry", "checkpoint-signature", "inclusion", "anchor")
PASSED = {
    "format": "回执格式正确，可以读取。",
    "log-key": "日志公钥与 --log-key 给出的档案中心公钥一致。",
    "entry": "材料文件的 SM3 与回执登记的一致：正是登记的那份文件。",
    "checkpoint-signature": "检查点由档案中心的日志密钥签署，未被改动。",
    "inclusion": "登记条目包含在检查点覆盖的日志中。",
    "anchor": "检查点已锚定上链，链上记录与回执一致。",
}
NOT_CHECKED = {
    "log-key": "日志公钥未固定：由链上锚定核验把它绑定到档案中心（加 --rpc 链地址）。",
    "entry": ("未给出材料文件，没有核对材料本身（加 --file 文件 或 --sm3 摘要）。"),
    "anchor": "链上锚定未核验：回执还不能视为完全有效，请加 --rpc 链地址 再核验。",
}
FAILED = {
    "format": (
        "回执文件格式不对：不是本系统出具的证据回执，或文件已被改动。请向出具单位重新索取回执。"
    ),
    "log-key": "回执不是由给定的档案中心日志密钥签署的。请核对 --log-key 是否为该档案中心的公钥。",
    "entry": (
        "材料文件与回执登记的不是同一份文件（SM3 不一致）。"
        "请确认选对了文件；文件若被改动，请向保管单位核实。"
    ),
    "checkpoint-signature": "检查点签名无效：回执可能被改动。请向出具单位重新索取回执。",
    "inclusion": (
        "包含证明不成立：登记条目不在检查点覆盖的日志中，回执可能被改动。请向出具单位重新索取回执。"
    ),
    "consistency": "档案中心的日志前后不一致，可能被改写。请报告安全保密管理员。",
    "anchor": (
        "链上没有与回执一致的锚定记录。"
        "请核对 --rpc 是否为该档案中心所在的链，或稍后再试；仍不一致则回执不可信。"
    ),
    "verification": "回执核验未通过。请向出具单位重新索取回执。",
}


def failure_zh(check: str) -> str:
    """What a failed check means and what to do, in one sentence (stderr, console)."""
    return FAILED.get(check, FAILED["verification"])


def _line(mark: str, check: str, sentence: str) -> str:
    return f"  {mark} {LABELS.get(check, check)}：{sentence}"


def _print_failure(error: VerificationError, passed: dict[str, str] | None) -> None:
    """The checks as sentences up to the one that failed, then 详情 with the wording."""
    typer.echo("回执核验未通过")
    failed = error.check if error.check in ORDER else None
    for check in ORDER:
        if check == failed:
            typer.echo(_line("✗", check, failure_zh(check)))
        elif (passed and passed.get(check) == "passed") or (
            check == "format" and failed != "format"
        ):
            typer.echo(_line("✓", check, PASSED[check]))
        else:
            typer.echo(_line("·", check, "未检查（前面的检查未通过）"))
    if failed is None:
        typer.echo(f"  ✗ {failure_zh(error.check)}")
    typer.echo("详情（供技术人员）：")
    typer.echo(f"  检查项 {error.check}：{error}")


def verify_receipt_file(
    receipt: Path, material: bytes | None, rpc: str | None, log_key: Path | None, as_json: bool
) -> None:
    from notary.anchoring import rpc_reader
    from notary.crypto import SM2PublicKey
    from notary.receipts import parse_receipt
    from notary.verifier import ReceiptVerifier, TrustPolicy

    try:
        data = receipt.read_bytes()
    except OSError as e:
        raise UserError(f"无法读取回执文件 {receipt}：{e.strerror or e}") from None
    try:
        pinned = [SM2PublicKey.from_pem(log_key.read_bytes())] if log_key else None
    except OSError as e:
        raise UserError(f"无法读取日志公钥文件 {log_key}：{e.strerror or e}") from None
    passed: dict[str, str] | None = None
    try:
        parsed = parse_receipt(data)
        # Pinned with --log-key; otherwise the chain's member registry binds the key,
        # which only the anchor check (--rpc) establishes.
        receipts = ReceiptVerifier(
            TrustPolicy(log_keys=None if pinned is None else tuple(pinned), require_anchor=False),
            None if rpc is None else rpc_reader(parsed, rpc),
        )
        result = receipts.check_offline(parsed, material_sm3=material)
        passed = {
            "format": "passed",
            "log-key": "passed" if pinned else "not pinned",
            "entry": "passed" if material is not None else "skipped",
            "checkpoint-signature": "passed",
            "inclusion": "passed",
        }
        anchor: dict[str, Any] | None = None
        if rpc is not None:
            anchor = receipts.check_anchor(parsed).to_json()
    except VerificationError as e:
        if as_json:
            failure = {"valid": False, "check": e.check, "detail": str(e)}
            typer.echo(json.dumps(failure | {"offline_checks": passed}, ensure_ascii=False))
        else:
            _print_failure(e, passed)
        raise  # one line on stderr with the check id (clients/cli.py run)
    report: dict[str, object] = {
        "valid": anchor is not None,
        "offline_checks": passed,
        "anchor_checked": anchor is not None,
        "entry": result.entry,
        "leaf_index": result.leaf_index,
        "tree_size": result.tree_size,
        "root": result.root.hex(),
        "log_key": result.key_fingerprint.hex(),
        "log_key_pinned": result.key_pinned,
        "material_checked": material is not None,
        "anchor": anchor,
    }
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if anchor is not None:
        typer.echo("回执有效：各项核验均通过，链上锚定已核验")
    else:
        typer.echo("离线核验通过；链上锚定未核验，回执还不能视为完全有效")
    for check in ORDER:
        state = "passed" if check == "anchor" and anchor is not None else passed.get(check)
        if state == "passed":
            typer.echo(_line("✓", check, PASSED[check]))
        else:
            typer.echo(_line("?", check, NOT_CHECKED[check]))
    if anchor is None:
        typer.echo("下一步：加 --rpc 链地址 核验链上锚定（链地址向档案中心索取）")
    typer.echo("详情（供技术人员）：")
    typer.echo(f"  日志序号 {result.leaf_index}，检查点大小 {result.tree_size}")
    typer.echo(f"  根哈希 {result.root.hex()}")
    typer.echo(f"  日志公钥指纹 {result.key_fingerprint.hex()}")
    if material is not None:
        typer.echo(f"  材料 SM3 {material.hex()}")
    if anchor is not None:
        typer.echo(
            f"  区块 {anchor['block_number']}，交易 {anchor['tx_hash']}，"
            f"锚定账户 {anchor['anchored_by']}"
        )
