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


# --- the service: init, serve, demo, unit -------------------------------------------


def _print_keys(keys: list[tuple[str, str, str]]) -> None:
    typer.echo("API 密钥（仅显示这一次，请立即妥善保存；库中只存其 SM3 摘要）：")
    for unit, role, key in keys:
        typer.echo(f"  {unit:<14} {role:<9} {key}")


@app.command("init")
def init(
    home: Annotated[Path, typer.Option("--home", help="Deployment directory to create.")],
    origin: Annotated[
        str | None, typer.Option("--origin", help="Log origin (default: from the centre code).")
    ] = None,
    centre_code: Annotated[str, typer.Option("--centre-code")] = "CENTRE",
    centre_name: Annotated[str, typer.Option("--centre-name")] = "档案中心",
    chain: Annotated[
        str, typer.Option("--chain", help="'embedded' or a chain JSON-RPC URL.")
    ] = "embedded",
    store: Annotated[str, typer.Option("--store", help="'local' or a Kubo RPC API URL.")] = "local",
    database_url: Annotated[
        str, typer.Option("--database-url", help="Default: SQLite in the home.")
    ] = "",
) -> None:
    """Prepare a deployment home: keys, chain, store, database; print the admin keys once."""
    from transfer.services.setup import init_home, is_initialised

    if is_initialised(home):
        raise UserError(f"{home} 已是部署目录")
    keys = init_home(
        home,
        origin=origin or f"{centre_code.lower()}.archive-notary/log",
        centre_code=centre_code,
        centre_name=centre_name,
        chain=chain,
        store=store,
        database_url=database_url,
    )
    typer.echo(f"部署已创建：{home.resolve()}")
    _print_keys([(k.unit, str(k.role), k.key) for k in keys])
    typer.echo(f"启动服务：notary serve --home {home}")


@app.command("serve")
def serve(
    home: Annotated[Path, typer.Option("--home", help="Deployment directory.")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
) -> None:
    """Run the service (uvicorn) on the deployment at --home."""
    import uvicorn

    from transfer.api import create_app
    from transfer.services.setup import is_initialised, settings_for

    if not is_initialised(home):
        raise UserError(f"{home} 不是部署目录：请先运行 notary init --home {home}")
    app_ = create_app(settings_for(home, host=host, port=port))
    typer.echo(f"API 文档：http://{host}:{port}/docs")
    uvicorn.run(app_, host=host, port=port, log_level="info")


unit_app = typer.Typer(help="Units hosted by this deployment.", no_args_is_help=True)
app.add_typer(unit_app, name="unit")


@unit_app.command("add")
def unit_add(
    home: Annotated[Path, typer.Option("--home")],
    code: Annotated[str, typer.Argument(help="Unit code (e.g. 统一社会信用代码).")],
    name: Annotated[str, typer.Argument(help="Unit name.")],
    kind: Annotated[str, typer.Option("--kind", help="unit, archive_centre or auditor.")] = "unit",
) -> None:
    """Register a hosted unit (with its SM2 envelope key) and print an operator key."""
    from notary.chain.embedded import ChainLockedError
    from notary.deployment import open_deployment
    from transfer.db.models import UnitKind
    from transfer.db.session import make_engine, write_sessionmaker
    from transfer.roles import Role
    from transfer.security import issue_api_key
    from transfer.services.setup import add_unit, is_initialised, settings_for

    if not is_initialised(home):
        raise UserError(f"{home} 不是部署目录")
    try:
        unit_kind = UnitKind(kind)
    except ValueError:
        raise UserError(f"--kind 须为 unit、archive_centre 或 auditor，而不是 {kind}") from None
    settings = settings_for(home)
    try:
        dep = open_deployment(home, store=settings.store)
    except ChainLockedError:
        raise UserError("服务正在运行（链已被占用）：请改用 API POST /v1/units 添加单位") from None
    with dep:
        try:
            public_key = dep.create_unit_key(code).raw.hex()
        except NotaryError:
            public_key = dep.unit_key(code).public_key.raw.hex()
    engine = make_engine(settings.database_url_resolved)
    try:
        with write_sessionmaker(engine)() as s:
            try:
                unit = add_unit(s, code, name, unit_kind, public_key)
            except ValueError as e:
                raise UserError(str(e)) from None
            _, key = issue_api_key(s, unit, Role.OPERATOR, "notary unit add")
            s.commit()
    finally:
        engine.dispose()
    typer.echo(f"单位已登记：{code} {name}（SM2 信封密钥已生成）")
    _print_keys([(code, "operator", key)])


@unit_app.command("list")
def unit_list(home: Annotated[Path, typer.Option("--home")]) -> None:
    """List the units of the deployment."""
    from transfer.db.session import make_engine
    from transfer.services.setup import list_units, settings_for

    engine = make_engine(settings_for(home).database_url_resolved)
    try:
        units = list_units(engine)
    finally:
        engine.dispose()
    for u in units:
        hosted = "托管密钥" if u.public_key_hex else "无密钥"
        typer.echo(f"{u.code:<16} {u.kind!s:<15} {u.status!s:<10} {hosted}  {u.name}")


@app.command("demo")
def demo(
    home: Annotated[Path, typer.Option("--home")] = Path("./demo-home"),
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 8000,
    exit_after_seed: Annotated[
        bool, typer.Option("--exit-after-seed", help="Stop once seeded and anchored.")
    ] = False,
) -> None:
    """Init (if needed), seed two units and a volume of sample materials, wait for one
    anchoring, print the API docs URL and demo keys, then serve until Ctrl-C."""
    from clients.demo_run import run_demo

    code = run_demo(home, port=port, exit_after_seed=exit_after_seed, echo=typer.echo)
    if code:
        raise typer.Exit(code)


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
