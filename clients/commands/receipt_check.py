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
        raise UserError(f"cannot read receipt {receipt}: {e.strerror or e}") from None
    pinned = [SM2PublicKey.from_pem(log_key.read_bytes())] if log_key else None
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
    typer.echo(f"离线核验通过：日志条目 {result.leaf_index} 在检查点 {result.tree_size} 中")
    typer.echo(f"    根哈希 {result.root.hex()}")
    pin = "已固定" if result.key_pinned else "未固定（由链上锚定核验绑定到档案中心）"
    typer.echo(f"    日志公钥 {result.key_fingerprint.hex()[:16]}…，{pin}")
    if material is not None:
        typer.echo(f"    材料 SM3 {material.hex()} 与条目一致")
    if anchor is not None:
        typer.echo(
            f"链上锚定核验通过：区块 {anchor['block_number']}，交易 {anchor['tx_hash']}"
            f"，锚定者 {anchor['anchored_by']}"
        )
    else:
        typer.echo("链上锚定未核验：回执尚不能视为完全有效（请加 --rpc URL 核验链上锚定）")
