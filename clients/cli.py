"""The ``notary`` command line.

User errors print one line to stderr and exit non-zero; no traceback reaches a user.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from notary.canonical import CanonicalJSONError
from notary.crypto import sm3_file
from notary.errors import NotaryError

app = typer.Typer(
    name="notary",
    help="Archive Notary: SM3 evidence, anchoring and transfer of cadre personnel archives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


@app.command("hash")
def hash_files(
    files: Annotated[list[Path], typer.Argument(help="Files to hash (streamed).")],
) -> None:
    """Print `<sm3 hex>  <path>` for each file, like sha256sum."""
    failed = 0
    for f in files:
        try:
            digest = sm3_file(f)
        except IsADirectoryError:
            typer.echo(f"notary hash: {f}: is a directory", err=True)
            failed += 1
            continue
        except OSError as e:
            typer.echo(f"notary hash: {f}: {e.strerror or e}", err=True)
            failed += 1
            continue
        typer.echo(f"{digest.hex()}  {f}")
    if failed:
        raise typer.Exit(1)


@app.command("verify")
def verify(
    receipt: Annotated[Path, typer.Option("--receipt", help="Evidence receipt JSON file.")],
    file: Annotated[Path | None, typer.Option("--file", help="The material itself.")] = None,
    sm3_hex: Annotated[str | None, typer.Option("--sm3", help="The material's SM3 (hex).")] = None,
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="Chain JSON-RPC URL for the on-chain check.")
    ] = None,
    log_key: Annotated[
        Path | None, typer.Option("--log-key", help="Pin the log's SM2 public key (PEM).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Verify an evidence receipt without the service or its database."""
    from notary.canonical import parse_json
    from notary.crypto import SM2PublicKey
    from notary.receipts import parse_receipt, verify_offline

    try:
        doc = parse_json(receipt.read_bytes())
    except OSError as e:
        raise UserError(f"cannot read receipt {receipt}: {e.strerror or e}") from None
    parsed = parse_receipt(doc)
    material: bytes | None = None
    if file is not None and sm3_hex is not None:
        raise UserError("give --file or --sm3, not both")
    if file is not None:
        try:
            material = sm3_file(file)
        except OSError as e:
            raise UserError(f"cannot read {file}: {e.strerror or e}") from None
    elif sm3_hex is not None:
        try:
            material = bytes.fromhex(sm3_hex)
        except ValueError:
            raise UserError("--sm3 must be 64 hex digits") from None
        if len(material) != 32:
            raise UserError("--sm3 must be 64 hex digits")
    pinned = [SM2PublicKey.from_pem(log_key.read_bytes())] if log_key else None
    result = verify_offline(parsed, material_sm3=material, trusted_log_keys=pinned)
    report: dict[str, object] = {
        "valid": True,
        "entry": result.entry,
        "leaf_index": result.leaf_index,
        "tree_size": result.tree_size,
        "root": result.root.hex(),
        "log_key": result.key_fingerprint.hex(),
        "log_key_pinned": result.key_pinned,
        "material_checked": material is not None,
        "anchor": None,
    }
    if rpc is not None:
        from notary.anchoring import verify_anchor_rpc

        report["anchor"] = verify_anchor_rpc(parsed, rpc).to_json()
    elif parsed.anchor is not None:
        report["anchor"] = "not checked (give --rpc URL to check the chain)"
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    typer.echo(f"OK  entry {result.leaf_index} is in checkpoint {result.tree_size}")
    typer.echo(f"    root {result.root.hex()}")
    typer.echo(f"    log key {result.key_fingerprint.hex()[:16]}… pinned={result.key_pinned}")
    if material is not None:
        typer.echo(f"    material SM3 {material.hex()} matches the entry")
    typer.echo(f"    anchor: {report['anchor']}")


def main() -> None:
    try:
        app()
    except UserError as e:
        typer.echo(f"notary: {e}", err=True)
        sys.exit(2)
    except NotaryError as e:
        typer.echo(f"notary: {type(e).__name__}: {e}", err=True)
        sys.exit(1)
    except CanonicalJSONError as e:
        typer.echo(f"notary: malformed JSON: {e}", err=True)
        sys.exit(1)
