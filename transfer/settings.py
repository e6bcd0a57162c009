"""All configuration of a deployment, in one place.

Values come from (highest first) constructor arguments, ``NOTARY_*`` environment
variables, then the defaults below. Every path default lives under ``home`` (the
deployment directory that ``notary init --home DIR`` prepares), so one directory is
a whole embedded deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1 << 20

# What an upload may be (checked by content, not by extension). OFD is the Chinese
# fixed-layout format (GB/T 33190) most government documents are now issued in.
DEFAULT_MEDIA_TYPES = (
    "application/pdf",
    "image/tiff",
    "image/jpeg",
    "image/png",
    "application/ofd",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTARY_", env_file=None, extra="ignore", validate_default=True
    )

    home: Path = Path("./notary-home")
    # Empty means "SQLite at home/notary.db"; see ``database_url_resolved``.
    database_url: str = ""
    # FULL makes a commit survive power loss, not only a process crash (WAL + NORMAL
    # already survives kill -9). An acknowledged upload must never be lost, so FULL.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "FULL"
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    # Embedded deployments migrate on start; several instances sharing a PostgreSQL
    # may prefer one explicit ``notary migrate`` step (migrations take a lock anyway).
    migrate_on_start: bool = True

    # The log's origin string; log_id = SM3(origin) is what the contract indexes by.
    origin: str = "archive-notary.local/log"
    checkpoint_interval_s: float = Field(default=1.0, gt=0)
    checkpoint_max_entries: int = Field(default=1000, ge=1)
    # Run the anchoring worker in this process (several instances sharing a
    # PostgreSQL may all run it: an advisory lock lets exactly one anchor at a time).
    anchoring_enabled: bool = True
    # Refuse to return content whose registration is not yet anchored on chain. Off by
    # default: a material is readable (verified against its signed checkpoint) in the
    # second between its upload and its anchoring.
    read_requires_anchor: bool = False
    # Verified content reads (CPU-bound: decryption, SM3) running at once per process;
    # the rest wait their turn. More than the cores gains nothing and, with dozens of
    # threads holding the interpreter lock in turn, starves the event loop that serves
    # every other call (benches/results/load.md).
    content_reads_at_once: int = Field(default=4, ge=1, le=64)

    # "embedded" (durable in-process py-evm under home/chain) or a JSON-RPC URL.
    chain: str = "embedded"
    # "local" (blockstore under home/blocks) or a Kubo RPC API URL.
    store: str = "local"
    # Extra copies of the content: local blockstore directories (on other disks) or Kubo
    # RPC API URLs (other IPFS nodes); see transfer/services/replicas.py. As an
    # environment variable, a JSON list: NOTARY_REPLICAS='["/mnt/disk2/blocks"]'.
    replicas: tuple[str, ...] = ()
    # Stores (the primary counts as one) that must hold an upload before it is
    # acknowledged. The default 1 acknowledges on the primary alone.
    replica_acks: int = Field(default=1, ge=1)
    # Serve the embedded chain's read-only JSON-RPC on 127.0.0.1:<port> while the app
    # runs, so that third parties can verify receipts against the chain alone (the
    # embedded chain has no node of its own). 0 = off; ignored for a JSON-RPC chain.
    chain_rpc_port: int = Field(default=0, ge=0, le=65535)

    # False for a process that serves the API only: the anchoring worker, the transfer
    # outbox and the chain endpoints run elsewhere — in the supervisor of ``notary
    # serve --workers N`` (which sets this for its workers), or in another instance
    # sharing the PostgreSQL database.
    background_duties: bool = True
    # ``notary serve --workers N`` on an embedded chain: the supervisor serves the chain
    # to the workers on 127.0.0.1:<port> (they cannot open its directory: one writer),
    # answering only requests with the token. Set by serve, not by hand.
    chain_writer_port: int = Field(default=0, ge=0, le=65535)
    chain_writer_token: SecretStr | None = None

    # Key of HMAC-SM3 blinding of cadre identifiers. When unset it is read from (or
    # created in) home/secrets/blinding.key, see transfer.security.blinding_secret.
    blinding_secret: SecretStr | None = None

    # Seconds an authenticated API key is remembered in-process (transfer/api/principals.py).
    # Revocation and suspension through this process's API take effect at once; made
    # by another instance sharing the database (or by hand), within this many seconds.
    # 0 = look every key up on every call.
    principal_cache_ttl_s: float = Field(default=5.0, ge=0, le=300)

    upload_max_bytes: int = Field(default=512 * MiB, ge=1)
    # Every non-streamed body (JSON: receipts, volumes, units…) is read whole before a
    # route sees it; a receipt is a few KiB, so 1 MiB leaves a wide margin.
    body_max_bytes: int = Field(default=1 * MiB, ge=1)
    # A request body that sends nothing for this long is answered 408 (bodylimit.py).
    body_idle_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # A small (non-streamed) body must arrive whole within this many seconds (408):
    # a key holder dribbling a JSON body cannot hold a connection for long.
    body_total_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # A streamed body (upload, verify by file, import) must average at least this many
    # bytes per second once ``body_idle_timeout_s`` has passed (408): a slow upload
    # cannot hold a worker thread for hours one byte at a time.
    body_min_bytes_per_s: int = Field(default=8 * 1024, ge=1)

    # Per-client rate limits (token buckets, notary/_internal/ratelimit.py) on what
    # anyone may call without a key: the public API routes (/v1/check, /v1/federation…,
    # /v1/health, /v1/chain, /metrics) and the read-only chain JSON-RPC endpoint. A
    # refused request is a 429 with Retry-After. 0 = no limit. The client is the peer
    # address: behind a reverse proxy, limit there (SECURITY.md §7).
    public_rate_per_s: float = Field(default=20.0, ge=0)
    public_rate_burst: int = Field(default=100, ge=1)
    # An auditor verifying a whole volume makes a few calls per receipt, in a burst.
    chain_rpc_rate_per_s: float = Field(default=200.0, ge=0)
    chain_rpc_rate_burst: int = Field(default=2000, ge=1)
    # Buckets remembered at most (each a few hundred bytes): the limiter's memory bound.
    rate_limit_clients: int = Field(default=4096, ge=1, le=1_000_000)
    # A key asking for a main volume (正本) another unit holds: refused alike either way,
    # and at most this many such attempts per key and hour (SECURITY.md §7).
    main_volume_probes_per_hour: int = Field(default=10, ge=1)
    accepted_media_types: tuple[str, ...] = DEFAULT_MEDIA_TYPES

    # 干部档案转递 rules: the sender completes within two months, the receiver audits
    # within two months, the sender chases after one month without a receipt.
    transfer_sender_deadline_days: int = Field(default=60, ge=1)
    transfer_receiver_audit_days: int = Field(default=60, ge=1)
    transfer_overdue_days: int = Field(default=30, ge=1)

    # Every time shown to staff (console, CLI, printed forms, reports) is in this IANA
    # zone and labelled with it (北京时间, or its UTC offset); the service stores UTC.
    timezone: str = "Asia/Shanghai"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Seconds an idle keep-alive connection stays open (uvicorn's ``timeout_keep_alive``,
    # whose own default is 5). A reader idle between pages longer than this finds the
    # connection closed, and one sending just as the server closes it loses that request
    # (benches/results/reads.md: 14 of 1,800 at one read per 10 s). Well above a
    # reader's gap, as common reverse proxies (75 s); an idle connection costs a few KiB.
    keep_alive_s: int = Field(default=75, ge=1, le=3600)
    # The address people reach this service at, for the QR codes on printed forms
    # (docs/qr-format.md); empty means the address the printing request came to.
    public_url: str = Field(default="", pattern=r"^(https?://[^\s#?]+)?$")

    @field_validator("database_url")
    @classmethod
    def _psycopg3(cls, value: str) -> str:
        # psycopg 3 is the only PostgreSQL driver installed; a plain postgresql:// URL
        # would make SQLAlchemy look for psycopg2.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from transfer.workflow.times import zone

        zone(value)  # ValueError names the problem
        return value

    @field_validator("chain")
    @classmethod
    def _chain_backend(cls, value: str) -> str:
        if value != "embedded" and not value.startswith(("http://", "https://")):
            raise ValueError("chain must be 'embedded' or an http(s) JSON-RPC URL")
        return value

    @field_validator("store")
    @classmethod
    def _store_backend(cls, value: str) -> str:
        if value != "local" and not value.startswith(("http://", "https://")):
            raise ValueError("store must be 'local' or an http(s) Kubo RPC API URL")
        return value

    @model_validator(mode="after")
    def _replica_quorum(self) -> Settings:
        if self.replica_acks > 1 + len(self.replicas):
            raise ValueError("replica_acks cannot exceed the primary plus the replicas named")
        return self

    @model_validator(mode="after")
    def _deadlines(self) -> Settings:
        if self.transfer_overdue_days > self.transfer_sender_deadline_days:
            raise ValueError("transfer_overdue_days must not exceed the sender deadline")
        return self

    @property
    def database_url_resolved(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'notary.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url_resolved.startswith("sqlite")

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"
