"""The application factory.

``create_app(settings)`` connects to the database (migrating it when
``settings.migrate_on_start``), loads the blinding secret and returns the app with
every route mounted. Everything the routes use lives in one :class:`AppState`
(``app.state.notary``); the parts built elsewhere (Merkle log, content store, chain,
anchoring worker) are plugged in through ``state`` fields, ``health_checks`` and
``lifespan_hooks`` — context managers entered at startup and exited at shutdown.

    uvicorn --factory transfer.api.app:app_from_env   # settings from NOTARY_* variables
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager, contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import anyio
from fastapi import FastAPI
from sqlalchemy import Engine, inspect, select

from notary._internal.ratelimit import RateLimiter
from transfer.api.bodylimit import BodyLimit
from transfer.api.docs import docs_router
from transfer.api.errors import install_error_handlers
from transfer.api.metrics import Metrics, MetricsMiddleware
from transfer.api.principals import PrincipalCache
from transfer.api.ratelimit import PublicRateLimit
from transfer.api.routes import (
    audit,
    federation,
    forms,
    health,
    ingest,
    log,
    materials,
    metrics,
    read_grants,
    transfers,
    units,
    verify,
    volumes,
)
from transfer.api.state import AppState
from transfer.db.migrate import head_revision, upgrade
from transfer.db.models import Volume
from transfer.db.session import make_engine, read_sessionmaker, write_sessionmaker
from transfer.security import blinding_secret
from transfer.services.context import NotaryContext
from transfer.services.health import DatabaseCheck, HealthCheck, ProcessCheck
from transfer.services.reads import new_read_log
from transfer.settings import Settings

if TYPE_CHECKING:
    from notary.deployment import Deployment

logger = logging.getLogger(__name__)

LifespanHook = Callable[[AppState], AbstractContextManager[object]]

OPENAPI_TAGS = [
    {"name": "units", "description": "Units (单位) and their API keys."},
    {"name": "volumes", "description": "Volumes (卷): one cadre's archive, 正本 or 副本."},
    {"name": "materials", "description": "Materials (材料): metadata and version history."},
    {
        "name": "read grants",
        "description": "在线阅档: 查阅申请 → 审批 → a time-limited read grant (分级授权).",
    },
    {"name": "verify", "description": "Verification for archive systems: by file, SM3 or receipt."},
    {
        "name": "log",
        "description": "The Merkle log: checkpoints, inclusion and consistency proofs.",
    },
    {"name": "audit", "description": "Alerts and the read log (利用登记)."},
    {"name": "ops", "description": "Health and metrics."},
]


def _version() -> str:
    try:
        return version("archive-notary")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def _has_volumes(engine: Engine) -> bool:
    if not inspect(engine).has_table("volumes"):
        return False
    with engine.connect() as conn:
        return conn.execute(select(Volume.id).limit(1)).first() is not None


def _load_blinding_secret(settings: Settings, engine: Engine) -> bytes:
    try:
        return blinding_secret(settings)
    except FileNotFoundError:
        # A new secret for a database that already holds blinded ids would make
        # every one of them unmatchable; only a deployment without volumes gets one.
        if _has_volumes(engine):
            raise RuntimeError(
                f"盲化密钥 {settings.secrets_dir / 'blinding.key'} 缺失，但数据库中已有案卷："
                "请从备份恢复该文件（不能重新生成）。"
            ) from None
        return blinding_secret(settings, create=True)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    health_checks: Sequence[HealthCheck] = (),
    lifespan_hooks: Sequence[LifespanHook] = (),
    deployment: Deployment | None = None,
) -> FastAPI:
    """Build the service. ``engine``: share one (tests, several apps); the app then
    leaves disposing it to the caller. ``deployment``: an opened deployment to use
    (and leave open); by default the one at ``settings.home`` is opened, if any."""
    settings = settings if settings is not None else Settings()
    owns_engine = engine is None
    if engine is None:
        if settings.is_sqlite and not settings.database_url:
            settings.home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(
            settings.database_url_resolved,
            sqlite_synchronous=settings.sqlite_synchronous,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )
    if settings.migrate_on_start:
        upgrade(engine)

    write_sessions = write_sessionmaker(engine)
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=read_sessionmaker(engine),
        write_sessions=write_sessions,
        metrics=Metrics(),
        blinding_secret=_load_blinding_secret(settings, engine),
        principals=PrincipalCache(settings.principal_cache_ttl_s),
        content_reads=anyio.CapacityLimiter(settings.content_reads_at_once),
        read_log=new_read_log(write_sessions),
        health_checks=[
            DatabaseCheck(engine, head_revision()),
            ProcessCheck(settings.background_duties),
            *health_checks,
        ],
        owns_engine=owns_engine,
    )

    hooks = list(lifespan_hooks)
    ctx = _open_notary(settings, deployment)
    if ctx is not None:
        _wire_notary(state, ctx)
        hooks.insert(0, _notary_hook)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            with ExitStack() as stack:
                for hook in hooks:
                    stack.enter_context(hook(state))
                yield
        finally:
            if state.owns_engine:
                state.engine.dispose()

    app = FastAPI(
        title="Archive Notary",
        summary="Provable custody of cadre personnel archives (干部人事档案).",
        version=_version(),
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
        # No OpenTelemetry here (metrics are Prometheus, /metrics): FastAPI otherwise
        # looks up the global providers on every request (~4 % of a verify call).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # FastAPI's own pages load their scripts from a public CDN: /docs is served
        # from the swagger-ui-bundle package instead (transfer/api/docs.py), no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    app.state.notary = state
    install_error_handlers(app)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.body_max_bytes,
        idle_timeout_s=settings.body_idle_timeout_s,
        total_timeout_s=settings.body_total_timeout_s,
        min_bytes_per_s=settings.body_min_bytes_per_s,
    )
    # Outside the body gate: a flood of peer messages is refused before any body is read.
    app.add_middleware(
        PublicRateLimit,
        limiter=RateLimiter(
            settings.public_rate_per_s,
            settings.public_rate_burst,
            max_clients=settings.rate_limit_clients,
        ),
    )
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)

    # Routes are matched in this order: the verify API, the hot path of archive
    # systems, first (matching every other router first was ~10 % of its CPU).
    for module in (
        verify,
        health,
        units,
        volumes,
        ingest,
        materials,
        read_grants,
        transfers,
        federation,
        log,
        audit,
        forms,
        metrics,
    ):
        app.include_router(module.router)
    app.include_router(docs_router())
    return app


def _open_notary(settings: Settings, deployment: Deployment | None) -> NotaryContext | None:
    from notary.deployment import DESCRIPTOR, open_deployment

    owns = deployment is None
    if deployment is None:
        if not (settings.home / DESCRIPTOR).exists():
            logger.warning(
                "%s 不是部署目录（请先运行 notary init）：仅提供管理接口，上传与锚定不可用",
                settings.home,
            )
            return None
        deployment = open_deployment(
            settings.home, store=settings.store, writer=_chain_writer(settings)
        )
    if settings.replicas:
        from transfer.services.replicas import with_replicas

        deployment.store = with_replicas(deployment.store, settings)
    # The deployment's own log, unless the settings name one explicitly.
    origin = settings.origin if "origin" in settings.model_fields_set else deployment.origin
    return NotaryContext(deployment, origin=origin, owns_deployment=owns)


def _chain_writer(settings: Settings) -> tuple[str, str] | None:
    """Where a process without background duties reaches an embedded chain: the
    supervisor's private endpoint (settings.chain_writer_port)."""
    token = settings.chain_writer_token
    if settings.background_duties or not settings.chain_writer_port or token is None:
        return None
    from notary.chain.node.rpcserver import LOOPBACK

    return f"http://{LOOPBACK}:{settings.chain_writer_port}/", token.get_secret_value()


def _wire_notary(state: AppState, ctx: NotaryContext) -> None:
    from transfer.api.batching import Batcher
    from transfer.services.anchoring import AnchoringWorker
    from transfer.services.health import AnchoringCheck, ChainCheck, StoreCheck
    from transfer.services.metrics import AnchoringCollector
    from transfer.services.verify import verify_sm3_many

    settings = state.settings
    state.notary = ctx
    state.sm3_lookups = Batcher(
        lambda digests: verify_sm3_many(state, ctx, digests),
        inline=state.engine.dialect.name == "sqlite",
    )
    state.log = ctx
    state.store = ctx.store
    state.chain = ctx.deployment.chain
    if settings.anchoring_enabled and settings.background_duties:
        state.anchoring = AnchoringWorker(
            state.engine,
            state.sessions,
            state.write_sessions,
            signer=ctx.deployment.log_key,
            origin=ctx.origin,
            chain=ctx.deployment.chain,
            interval_s=settings.checkpoint_interval_s,
            max_entries=settings.checkpoint_max_entries,
        )
    state.health_checks += [
        StoreCheck(ctx.store),
        ChainCheck(ctx.deployment.chain, ctx.log_id),
        AnchoringCheck(state.sessions, state.anchoring, settings.checkpoint_interval_s),
    ]
    state.metrics.registry.register(AnchoringCollector(state.sessions))
    from notary.store.replicated import ReplicatedStore

    if isinstance(ctx.store, ReplicatedStore):
        from transfer.services.replicas import ReplicasCheck

        state.health_checks.append(ReplicasCheck(ctx.store))


@contextmanager
def _notary_hook(state: AppState) -> Iterator[None]:
    """Runs the anchoring worker, the transfer outbox (chain steps a crash left undone)
    and the embedded chain's JSON-RPC endpoints, when configured and this process has
    the background duties, while the app serves; closes an owned deployment after."""
    from transfer.services.transfer_outbox import TransferOutbox

    try:
        with ExitStack() as stack:
            if state.settings.background_duties:
                stack.enter_context(_chain_endpoints(state))
                if state.anchoring is not None:
                    stack.enter_context(state.anchoring)
                if state.notary is not None:
                    stack.enter_context(TransferOutbox(state, state.notary))
            # Served just above, or by the supervisor of ``notary serve --workers N``.
            state.chain_rpc_url = _chain_rpc_url(state)
            yield
    finally:
        state.chain_rpc_url = None
        if state.notary is not None and state.notary.owns_deployment:
            state.notary.close()


@contextmanager
def _chain_endpoints(state: AppState) -> Iterator[None]:
    """The embedded chain's JSON-RPC endpoints, each when configured: the read-only one
    (settings.chain_rpc_port) — the embedded chain has no node of its own, and without
    it a third party could not check a receipt's anchor (docs/receipt-format.md §6) —
    and the private one of this deployment's other worker processes
    (settings.chain_writer_port; ``notary serve --workers N``)."""
    embedded = None if state.notary is None else state.notary.deployment.embedded
    if embedded is None:
        yield
        return
    from notary.chain.node.rpcserver import ChainWriterRpcServer, ReadOnlyRpcServer

    settings = state.settings
    with ExitStack() as stack:
        if settings.chain_rpc_port:
            limiter = RateLimiter(
                settings.chain_rpc_rate_per_s,
                settings.chain_rpc_rate_burst,
                max_clients=settings.rate_limit_clients,
            )
            server = stack.enter_context(
                ReadOnlyRpcServer(embedded, settings.chain_rpc_port, limiter=limiter)
            )
            logger.info("链只读 JSON-RPC：%s", server.url)
        token = settings.chain_writer_token
        if settings.chain_writer_port and token is not None:
            stack.enter_context(
                ChainWriterRpcServer(embedded, token.get_secret_value(), settings.chain_writer_port)
            )
        yield


def _chain_rpc_url(state: AppState) -> str | None:
    """The embedded chain's read-only endpoint (settings.chain_rpc_port), for ``GET
    /v1/chain`` to name: the same in every process of the deployment."""
    from notary.chain.node.rpcserver import LOOPBACK
    from notary.deployment import EMBEDDED

    port = state.settings.chain_rpc_port
    if state.notary is None or not port:
        return None
    if state.notary.deployment.descriptor.chain_kind != EMBEDDED:
        return None
    return f"http://{LOOPBACK}:{port}/"


def app_from_env() -> FastAPI:
    return create_app(Settings())
