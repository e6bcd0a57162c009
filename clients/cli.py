"""The ``notary`` command line.

User errors print one line to stderr and exit non-zero; no traceback reaches a user.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException

from clients.chain_cmd import chain_app
from clients.commands._common import DEFAULT_URL, KeyOpt, RpcOpt, UrlOpt
from clients.commands.audit import audit
from clients.commands.backup import backup, restore
from clients.commands.ingest import ingest
from clients.commands.log import log_app
from clients.commands.network import network_app, peer_app
from clients.commands.provenance import provenance
from clients.commands.read import read
from clients.commands.read_grant import read_grant_app
from clients.commands.receipt import receipt_app
from clients.commands.receipt_print import receipt_print
from clients.commands.replicas import replicas_app
from clients.commands.transfer import transfer_app
from clients.commands.transfer_ops import COMMANDS as TRANSFER_OPS
from clients.commands.transfer_print import transfer_print
from clients.commands.volume import volume_app
from clients.errors import UserError
from clients.sdk.errors import (
    ClientVerificationError,
    NotaryAPIError,
    NotaryClientError,
    TransportError,
)
from clients.usage_zh import usage_zh
from clients.vocabulary import problem_detail_zh
from notary.canonical import CanonicalJSONError
from notary.crypto import sm3_file
from notary.errors import NotaryError, VerificationError
from notary.network import NetworkError
from transfer.services.errors import ServiceError

app = typer.Typer(
    name="notary",
    help="Archive Notary: SM3 evidence, anchoring and transfer of cadre personnel archives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


__all__ = ["UserError", "app", "main", "run"]


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
    target: Annotated[
        Path | None, typer.Argument(help="The material file (hashed here, never uploaded).")
    ] = None,
    receipt: Annotated[
        Path | None, typer.Option("--receipt", help="Evidence receipt JSON file (offline).")
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", help="The material itself.")] = None,
    sm3_hex: Annotated[str | None, typer.Option("--sm3", help="The material's SM3 (hex).")] = None,
    rpc: RpcOpt = None,
    log_key: Annotated[
        Path | None, typer.Option("--log-key", help="Pin the log's SM2 public key (PEM).")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Verify a material: `--receipt FILE` offline (no service, no database; the chain
    through --rpc), or FILE / --sm3 against the service (its receipts re-verified here)."""
    if target is not None and file is not None:
        raise UserError("give the file once (FILE or --file)")
    file = file or target
    if file is not None and sm3_hex is not None:
        raise UserError("give --file or --sm3, not both")
    material: bytes | None = None
    if file is not None:
        try:
            material = sm3_file(file)
        except IsADirectoryError:
            raise UserError(f"{file} is a directory") from None
        except OSError as e:
            raise UserError(f"cannot read {file}: {e.strerror or e}") from None
    elif sm3_hex is not None:
        material = _sm3_arg(sm3_hex)
    if receipt is not None:
        _verify_receipt_offline(receipt, material, rpc, log_key, as_json)
    elif material is not None:
        _verify_remote(material, url, key, rpc, as_json)
    else:
        raise UserError("give a FILE, --sm3 HEX or --receipt FILE")


def _sm3_arg(value: str) -> bytes:
    try:
        digest = bytes.fromhex(value)
    except ValueError:
        raise UserError("--sm3 must be 64 hex digits") from None
    if len(digest) != 32:
        raise UserError("--sm3 must be 64 hex digits")
    return digest


def _verify_remote(digest: bytes, url: str, key: str, rpc: str | None, as_json: bool) -> None:
    from clients.commands._common import client

    with client(url, key, rpc=rpc) as c:
        data = c.verify_sm3(digest.hex())
    # A failed chain check never gets here: the SDK raises (one line, exit 1).
    data["chain_checked"] = any(r.get("client_anchor") for r in data.get("registrations", []))
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif not data["found"]:
        typer.echo(f"未登记：SM3 {digest.hex()} 不在本部署的日志中")
    else:
        typer.echo(f"已登记：SM3 {digest.hex()}")
        for r in data["registrations"]:
            state = "已锚定" if r["anchored"] else "待锚定"
            checked = "，回执已在本地核验" if r.get("client_verified") else ""
            typer.echo(
                f"  材料 {r['material_id']} 第 {r['version']} 版，类号 {r['category']}，"
                f"单位 {r['unit']}，日志序号 {r['leaf_index']}，{state}{checked}"
            )
            typer.echo(f"    {_anchor_line(r, rpc)}")
    if not data["found"]:
        raise typer.Exit(1)


def _anchor_line(r: dict[str, Any], rpc: str | None) -> str:
    """What was checked of the registration's chain anchor, in words a clerk can act on."""
    a = r.get("client_anchor")
    if a:
        return (
            f"链上锚定已核验（通过）：链 {a['chain_id']} 区块 {a['block_number']}，"
            f"交易 {a['tx_hash']}，检查点根与链上一致"
        )
    if not r.get("client_verified"):
        return "链上锚定未核验：尚无检查点覆盖该登记，请稍后重试"
    if not r["anchored"]:
        return "链上锚定未核验：检查点尚未上链，请稍后重试"
    if rpc is None:
        return "链上锚定未核验：请以 --rpc 给出链 JSON-RPC 地址，在链上独立核验"
    return "链上锚定未核验"


def _verify_receipt_offline(
    receipt: Path, material: bytes | None, rpc: str | None, log_key: Path | None, as_json: bool
) -> None:
    from clients.commands.receipt_check import verify_receipt_file

    verify_receipt_file(receipt, material, rpc, log_key, as_json)


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
        str,
        typer.Option(
            "--chain",
            help="'embedded' (a chain of this deployment's own); with --join, the URL of "
            "this centre's own node of the network (default: the one in network.json).",
        ),
    ] = "embedded",
    join: Annotated[
        Path | None,
        typer.Option("--join", help="network.json from the network admin: join that shared chain."),
    ] = None,
    store: Annotated[str, typer.Option("--store", help="'local' or a Kubo RPC API URL.")] = "local",
    database_url: Annotated[
        str, typer.Option("--database-url", help="Default: SQLite in the home.")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Prepare a deployment home: keys, chain, store, database; print the admin keys once.
    With --join, also write the join request for the network admin."""
    from notary.network import NetworkDescriptor
    from transfer.services.setup import init_home, is_initialised

    if is_initialised(home):
        raise UserError(f"{home} 已是部署目录")
    network = None
    if join is not None:
        network = NetworkDescriptor.load(join)
        if chain != "embedded":  # this centre's own node of the network (its validator)
            network = dataclasses.replace(network, rpc_url=chain)
    elif chain != "embedded":
        raise UserError(
            "共享链上的档案中心须加入网络：由网络管理员运行 notary network create --chain URL，"
            "再以其网络描述文件运行 notary init --home DIR --join network.json"
        )
    try:
        result = init_home(
            home,
            origin=origin or f"{centre_code.lower()}.archive-notary/log",
            centre_code=centre_code,
            centre_name=centre_name,
            chain=chain,
            store=store,
            database_url=database_url,
            network=network,
        )
    except ValueError as e:
        raise UserError(str(e)) from None
    if as_json:
        out = {
            "home": str(home.resolve()),
            "centre_code": centre_code,
            "centre_account": result.centre_account,
            "unit_account": result.unit_account,
            "join_request": None if result.join_request is None else str(result.join_request),
            "keys": [{"unit": k.unit, "role": str(k.role), "key": k.key} for k in result.keys],
        }
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    typer.echo(f"部署已创建：{home.resolve()}")
    _print_keys([(k.unit, str(k.role), k.key) for k in result.keys])
    if result.join_request is not None:
        typer.echo(f"入网申请：{result.join_request}")
        typer.echo(
            "下一步：把入网申请交给网络管理员（组织部）运行 notary network admit，接纳后再启动服务"
        )
    typer.echo(f"启动服务：notary serve --home {home}")


def _require_admitted(home: Path) -> None:
    """A centre on a shared chain serves only once the network admin admitted it."""
    from notary.chain import ChainClient, Role
    from notary.chain.rpc import connect
    from notary.deployment import EMBEDDED, Descriptor

    d = Descriptor.load(home)
    if d.chain_kind == EMBEDDED or d.rpc_url is None:
        return
    try:
        member = ChainClient.reader(connect(d.rpc_url), d.contract).member(d.chain_account)
    except Exception as e:
        raise UserError(f"无法连接链节点 {d.rpc_url}：{e}") from None
    if member is None:
        request = home / "join-request.json"
        raise UserError(
            f"本中心尚未被网络接纳：请把 {request} 交给网络管理员运行 notary network admit"
        )
    if member.role != Role.ARCHIVE_CENTRE or not member.active:
        raise UserError(f"本中心的链上账户 {d.chain_account} 已被暂停或角色不符，不能提供服务")


@app.command("serve")
def serve(
    home: Annotated[Path, typer.Option("--home", help="Deployment directory.")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Processes serving the API on the port. Above 1, a supervisor process "
            "holds the embedded chain and runs the anchoring and the transfer outbox.",
        ),
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="One log line per request.")
    ] = True,
    worker_of: Annotated[int | None, typer.Option("--worker-of", hidden=True)] = None,
) -> None:
    """Run the service (uvicorn) on the deployment at --home."""
    import gc
    import os
    import secrets

    import uvicorn

    from notary._internal.net import free_port
    from notary.deployment import EMBEDDED, Descriptor
    from transfer.services.setup import is_initialised, settings_for
    from transfer.serving import (
        Workers,
        exit_with_parent,
        listening_socket,
        server_stack,
        supervise,
    )
    from transfer.webapp import create_full_app as create_app

    if not is_initialised(home):
        raise UserError(f"{home} 不是部署目录：请先运行 notary init --home {home}")
    from transfer.services.private_home import make_process_private, warnings_for

    for warning in warnings_for(home) if worker_of is None else []:
        typer.echo(warning, err=True)
    make_process_private()
    if worker_of is None:
        _require_admitted(home)
    shared = workers > 1 or worker_of is not None
    overrides: dict[str, Any] = {}
    if workers > 1 and Descriptor.load(home).chain_kind == EMBEDDED:
        # The workers use the embedded chain through the supervisor.
        overrides["chain_writer_port"] = free_port()
        overrides["chain_writer_token"] = secrets.token_urlsafe(32)
    settings = settings_for(home, host=host, port=port, **overrides)
    try:
        sock = listening_socket(host, port, shared=shared)
    except OSError as e:
        raise UserError(f"无法监听 {host}:{port}：{e}") from None
    port = sock.getsockname()[1]
    app_ = create_app(settings)
    # Everything loaded so far (the framework, py-evm's chain state) lives as long as the
    # process: out of the collector's sight, a full collection no longer walks it in
    # the middle of a request (tail latency under load, benches/results/load.md).
    gc.collect()
    gc.freeze()
    if workers > 1:
        # This process holds the chain and runs the background duties; the workers
        # bind the port themselves and serve the API.
        sock.close()
        env = {**os.environ, "NOTARY_BACKGROUND_DUTIES": "false"}
        if "chain_writer_port" in overrides:
            env["NOTARY_CHAIN_WRITER_PORT"] = str(overrides["chain_writer_port"])
            env["NOTARY_CHAIN_WRITER_TOKEN"] = overrides["chain_writer_token"]
        command = [
            sys.executable, "-m", "clients.cli", "serve", "--home", str(home),
            "--host", host, "--port", str(port), "--worker-of", str(os.getpid()),
            "--access-log" if access_log else "--no-access-log",
        ]  # fmt: skip
        typer.echo(f"API 文档：http://{host}:{port}/docs（{workers} 个服务进程）")
        supervise(app_, Workers(command, env, workers))
        return
    if worker_of is not None:
        exit_with_parent(worker_of)
    else:
        typer.echo(f"API 文档：http://{host}:{port}/docs")
    server = uvicorn.Server(
        uvicorn.Config(app_, log_level="info", access_log=access_log, **server_stack(settings))
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


unit_app = typer.Typer(help="Units hosted by this deployment.", no_args_is_help=True)
app.add_typer(unit_app, name="unit")


@unit_app.command("add")
def unit_add(
    home: Annotated[Path, typer.Option("--home")],
    code: Annotated[str, typer.Argument(help="Unit code (e.g. 统一社会信用代码).")],
    name: Annotated[str, typer.Argument(help="Unit name.")],
    kind: Annotated[str, typer.Option("--kind", help="unit, archive_centre or auditor.")] = "unit",
    handler: Annotated[
        str | None,
        typer.Option("--handler", help="经办人姓名：操作员密钥所属的经办人，记入其签署的文书。"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Register a hosted unit (with its SM2 envelope key) and print an operator key."""
    from notary.chain.node.embedded import ChainLockedError
    from notary.deployment import open_deployment
    from transfer.db.models import UnitKind
    from transfer.db.session import make_engine, write_sessionmaker
    from transfer.roles import Role
    from transfer.security import SETUP_LABEL
    from transfer.services.setup import (
        add_unit,
        checked_unit_fields,
        is_initialised,
        issue_console_key,
        settings_for,
    )
    from transfer.services.transfer_units import give_chain_account

    if not is_initialised(home):
        raise UserError(f"{home} 不是部署目录")
    try:
        code, name = checked_unit_fields(code, name)  # before any key is made
    except ValueError as e:
        raise UserError(str(e)) from None
    try:
        unit_kind = UnitKind(kind)
    except ValueError:
        raise UserError(f"--kind 须为 unit、archive_centre 或 auditor，而不是 {kind}") from None
    settings = settings_for(home)
    try:
        dep = open_deployment(home, store=settings.store)
    except ChainLockedError:
        raise UserError("服务正在运行（链已被占用）：请改用 API POST /v1/units 添加单位") from None
    engine = make_engine(settings.database_url_resolved)
    try:
        with dep:
            try:
                public_key = dep.create_unit_key(code).raw.hex()
            except NotaryError:
                public_key = dep.unit_key(code).public_key.raw.hex()
            with write_sessionmaker(engine)() as s:
                try:
                    unit = add_unit(s, code, name, unit_kind, public_key)
                except ValueError as e:
                    raise UserError(str(e)) from None
                label = (handler or "").strip() or SETUP_LABEL
                key = issue_console_key(s, unit, Role.OPERATOR, label)
                account = give_chain_account(s, dep, unit)
                s.commit()
    finally:
        engine.dispose()
    if as_json:
        out = {
            "code": code,
            "name": name,
            "chain_account": account.account,
            "admitted": account.admitted,
            "join_request": None if account.request is None else str(account.request),
            "operator_key": key,
        }
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    typer.echo(f"单位已登记：{code} {name}（SM2 信封密钥已生成）")
    typer.echo(f"链上账户：{account.account}（转递时以此账户移交保管权）")
    if account.request is not None:
        typer.echo(
            f"入网申请：{account.request}"
            "（请交网络管理员运行 notary network admit，接纳后方可转递）"
        )
    _print_keys([(code, "operator", key)])


@unit_app.command("list")
def unit_list(
    home: Annotated[Path, typer.Option("--home")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the units of the deployment."""
    from transfer.db.session import make_engine
    from transfer.services.setup import is_initialised, list_units, settings_for

    if not is_initialised(home):
        raise UserError(f"{home} 不是部署目录")
    engine = make_engine(settings_for(home).database_url_resolved)
    try:
        units = list_units(engine)
    finally:
        engine.dispose()
    if as_json:
        rows = [
            {"code": u.code, "name": u.name, "kind": str(u.kind), "status": str(u.status),
             "hosted_key": bool(u.public_key_hex), "key_fingerprint": u.key_fingerprint}
            for u in units
        ]  # fmt: skip
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
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


# --- against a running service (SDK), and the auditor's report -----------------------

app.command("ingest")(ingest)
app.command("provenance")(provenance)
transfer_app.command("print")(transfer_print)
app.add_typer(transfer_app, name="transfer")
for _name, _command in TRANSFER_OPS.items():
    transfer_app.command(_name)(_command)
receipt_app.command("print")(receipt_print)
app.add_typer(volume_app, name="volume")
app.add_typer(read_grant_app, name="read-grant")
app.add_typer(receipt_app, name="receipt")
app.command("read")(read)
app.add_typer(log_app, name="log")
app.command("audit")(audit)
app.add_typer(chain_app, name="chain")
app.add_typer(network_app, name="network")
app.add_typer(peer_app, name="peer")
app.command("backup")(backup)
app.command("restore")(restore)
app.add_typer(replicas_app, name="replicas")


def client_error_zh(e: NotaryClientError) -> str:
    """One line for an SDK error: what the service said, or why it was not reached."""
    if isinstance(e, ClientVerificationError):
        return f"客户端验证失败 [{e.check}]：{e.detail}"
    if isinstance(e, NotaryAPIError):
        where = {401: "API 密钥无效或已吊销", 403: "无权执行此操作", 404: "未找到"}.get(e.status)
        detail = problem_detail_zh(e.problem, e.detail or e.title)
        return f"服务返回 {e.status}{'（' + where + '）' if where else ''}：{detail}"
    if isinstance(e, TransportError):
        return f"无法连接服务：{e}"
    return str(e)


def notary_error_zh(e: NotaryError) -> str:
    """One line for a library error; a failed verification by its check id, as
    ``POST /v1/verify`` names it."""
    if isinstance(e, VerificationError):
        from clients.commands.receipt_check import failure_zh

        return f"回执核验未通过 [{e.check}]：{failure_zh(e.check)}"
    if isinstance(e, NetworkError):  # written for the operator, in Chinese
        return str(e)
    if isinstance(e, CanonicalJSONError):
        return f"JSON 格式有误：{e}"
    return f"处理失败（{type(e).__name__}）：{e}"


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; every error the user can act on is one line on stderr."""

    def fail(code: int, message: str) -> int:
        typer.echo(f"notary: {message}", err=True)
        return code

    try:
        code = app(args=argv, prog_name="notary", standalone_mode=False)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except TyperException as e:  # usage errors (typer's click): one line, not a box
        status = int(getattr(e, "exit_code", 2))
        message = usage_zh(e)
        if type(e).__name__ == "Abort":
            return fail(130, "已中断")
        return fail(status, message) if message.strip() else status
    except (UserError, ServiceError) as e:  # the user's to fix (a server-side refusal too)
        return fail(2, str(e))
    except NotaryClientError as e:  # the SDK's one root
        return fail(1, client_error_zh(e))
    except NotaryError as e:  # the library's one root
        return fail(1, notary_error_zh(e))
    except ModuleNotFoundError as e:
        if (e.name or "").partition(".")[0] in ("notary", "transfer", "clients"):
            raise
        # An install without the [server] extra: the SDK and the verifier only.
        return fail(2, f"此命令需要服务端组件（缺少 {e.name}）：请安装 archive-notary[server]")
    except KeyboardInterrupt:
        return fail(130, "已中断")
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
