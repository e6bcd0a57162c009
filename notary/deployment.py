"""A deployment's home directory: its keys, its chain, its content store.

``init_deployment`` prepares a home once; ``open_deployment`` opens it for the service
and the CLI. Layout (everything under one directory, so one directory is a whole
embedded deployment)::

    deployment.json     origin, chain (kind, chain id, contract), key fingerprints
    keys/passphrase     protects the PEM keys below, unless NOTARY_KEY_PASSPHRASE is set
    keys/log.pem        SM2 key that signs checkpoints (encrypted PKCS#8)
    keys/chain.key      the centre's chain account (secp256k1) that anchors, mode 0600
    keys/admin.key      the chain admin account (embedded chain only)
    keys/units/*.pem    SM2 envelope keys of the units this deployment hosts
    chain/              the durable embedded chain (when chain kind is "embedded")
    blocks/             the local blockstore (when the store is local)

Secrets are written with mode 0600 in a 0700 directory. In production the log key
belongs in a certified module behind :class:`notary.crypto.Signer`, and the
passphrase comes from the environment, not from a file beside the keys.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notary._internal import keyfiles
from notary._internal.keyfiles import write_secret
from notary.chain import ChainClient, Role, account_address
from notary.chain.node.embedded import DEFAULT_CHAIN_ID, EmbeddedChain
from notary.chain.rpc import connect
from notary.checkpoint import log_id_for
from notary.crypto import SM2PrivateKey, SM2PublicKey
from notary.errors import NotaryError
from notary.network import unit_chain_id
from notary.store import ContentStore, KuboStore, LocalStore

DESCRIPTOR = "deployment.json"
EMBEDDED = "embedded"
_GENESIS_BALANCE = 10**24  # wei: gas for the deployment's own transactions, forever


class DeploymentError(NotaryError):
    """The home directory is missing, incomplete or inconsistent."""


@dataclass(frozen=True)
class Descriptor:
    origin: str
    centre_code: str
    chain_kind: str  # "embedded" or "rpc"
    chain_id: int
    contract: str
    rpc_url: str | None
    log_key_fingerprint: str
    chain_account: str
    created_ms: int

    @property
    def log_id(self) -> bytes:
        return log_id_for(self.origin)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def load(cls, home: Path) -> Descriptor:
        path = home / DESCRIPTOR
        try:
            return cls(**json.loads(path.read_text("utf-8")))
        except FileNotFoundError:
            raise DeploymentError(f"{home} is not a deployment home (run notary init)") from None
        except (TypeError, ValueError) as e:
            raise DeploymentError(f"{path} is malformed: {e}") from None


@dataclass
class Deployment:
    """An opened home: keys loaded, chain and store connected. Close it when done."""

    home: Path
    descriptor: Descriptor
    log_key: SM2PrivateKey
    chain_key: bytes
    chain: ChainClient
    store: ContentStore
    embedded: EmbeddedChain | None = None
    _passphrase: bytes = field(default=b"", repr=False)

    @property
    def origin(self) -> str:
        return self.descriptor.origin

    def unit_key_path(self, code: str) -> Path:
        if not code or "/" in code or code.startswith("."):
            raise DeploymentError(f"invalid unit code {code!r}")
        return self.home / "keys" / "units" / f"{code}.pem"

    def create_unit_key(self, code: str) -> SM2PublicKey:
        """Generate the envelope key of a unit this deployment hosts."""
        key = SM2PrivateKey.generate()
        try:
            write_secret(self.unit_key_path(code), key.to_pem(self._passphrase))
        except FileExistsError:
            raise DeploymentError(f"unit {code} already has an envelope key") from None
        return key.public_key

    def unit_key(self, code: str) -> SM2PrivateKey:
        try:
            pem = self.unit_key_path(code).read_bytes()
        except FileNotFoundError:
            raise DeploymentError(f"no envelope key for unit {code} in this deployment") from None
        return SM2PrivateKey.from_pem(pem, self._passphrase)

    def close(self) -> None:
        self.store.close()
        if self.embedded is not None:
            self.embedded.close()
            self.embedded = None

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _passphrase(home: Path, *, create: bool) -> bytes:
    found = keyfiles.passphrase(home, create=create)
    if found is None:
        path = keyfiles.passphrase_path(home)
        raise DeploymentError(f"{path} is missing and NOTARY_KEY_PASSPHRASE is not set")
    return found


def _open_store(home: Path, store: str) -> ContentStore:
    if store == "local":
        return LocalStore(home / "blocks")
    return KuboStore(store)


def init_deployment(
    home: Path,
    *,
    origin: str,
    centre_code: str,
    chain: str = EMBEDDED,
    chain_id: int = DEFAULT_CHAIN_ID,
    chain_key: bytes | None = None,
    admin_key: bytes | None = None,
    contract: str | None = None,
    store: str = "local",
    joining: bool = False,
) -> Deployment:
    """Create a deployment home: keys, chain and the centre's membership.

    Embedded: a fresh chain whose admin is this deployment; the contract is deployed
    and the centre's account registered as archive centre. Over JSON-RPC: either join
    an existing ``contract`` (the network admin registered ``chain_key``'s account with
    this log key beforehand: see chain-dev/README.md) or deploy one with ``admin_key``.
    ``joining``: the centre's keys are new and the network admin admits them later
    (``notary network admit`` on the join request), so membership is not checked here.
    """
    home = Path(home)
    if (home / DESCRIPTOR).exists():
        raise DeploymentError(f"{home} is already a deployment home")
    home.mkdir(parents=True, exist_ok=True)
    passphrase = _passphrase(home, create=True)
    log_key = SM2PrivateKey.generate()
    write_secret(home / "keys" / "log.pem", log_key.to_pem(passphrase))
    chain_key = chain_key or secrets.token_bytes(32)
    write_secret(home / "keys" / "chain.key", chain_key.hex().encode("ascii"))
    account = account_address(chain_key)
    embedded: EmbeddedChain | None = None
    if chain == EMBEDDED:
        # The embedded chain is this deployment's own network, so it is also its admin.
        admin_key = admin_key or secrets.token_bytes(32)
        write_secret(home / "keys" / "admin.key", admin_key.hex().encode("ascii"))
        alloc: dict[str, int] = {
            account: _GENESIS_BALANCE,
            account_address(admin_key): _GENESIS_BALANCE,
        }
        embedded = EmbeddedChain.open(home / "chain", chain_id, alloc)
        w3 = embedded.w3
    else:
        w3 = connect(chain)
    try:
        fingerprint = log_key.public_key.fingerprint()
        if contract is None:
            if admin_key is None:
                raise DeploymentError("deploying a contract needs the network admin's key")
            # One account holds one role: the admin registers the centre's account,
            # bound to the log key that signs the checkpoints it will anchor.
            admin_sm2 = SM2PrivateKey.generate()
            write_secret(home / "keys" / "admin-sm2.pem", admin_sm2.to_pem(passphrase))
            admin = ChainClient.deploy(
                w3,
                admin_key,
                key_fingerprint=admin_sm2.public_key.fingerprint(),
                unit_id=unit_chain_id(f"{centre_code}/admin"),
            )
            admin.add_member(account, Role.ARCHIVE_CENTRE, fingerprint, unit_chain_id(centre_code))
            contract = admin.address
        client = ChainClient(w3, contract, chain_key)
        member = client.member(account)
        if member is None and joining:
            pass
        elif member is None or member.role != Role.ARCHIVE_CENTRE:
            raise DeploymentError(
                f"account {account} is not a member of contract {client.address}: "
                "ask the network admin to add it as an archive centre"
            )
        elif member.key_fingerprint != fingerprint:
            raise DeploymentError(
                f"account {account} is registered with another SM2 key than this log key"
            )
        descriptor = Descriptor(
            origin=origin,
            centre_code=centre_code,
            chain_kind=EMBEDDED if chain == EMBEDDED else "rpc",
            chain_id=client.chain_id,
            contract=client.address,
            rpc_url=None if chain == EMBEDDED else chain,
            log_key_fingerprint=fingerprint.hex(),
            chain_account=account,
            created_ms=int(time.time() * 1000),
        )
        (home / DESCRIPTOR).write_text(json.dumps(descriptor.to_json(), indent=2), "utf-8")
    finally:
        if embedded is not None:
            embedded.close()
    return open_deployment(home, store=store)


def open_deployment(
    home: Path,
    *,
    store: str = "local",
    rpc: str | None = None,
    writer: tuple[str, str] | None = None,
) -> Deployment:
    """Open ``home``. With ``rpc``, the chain is read through that JSON-RPC endpoint by a
    client that can send nothing — for an auditor beside a running service, which holds
    the embedded chain's only writer lock. With ``writer`` (url, token), the chain is
    used, sending too, through the running service's private endpoint
    (:class:`~notary.chain.node.rpcserver.ChainWriterRpcServer`) — for its extra worker
    processes."""
    home = Path(home)
    descriptor = Descriptor.load(home)
    passphrase = _passphrase(home, create=False)
    log_key = SM2PrivateKey.from_pem((home / "keys" / "log.pem").read_bytes(), passphrase)
    if log_key.public_key.fingerprint().hex() != descriptor.log_key_fingerprint:
        raise DeploymentError("keys/log.pem does not match deployment.json")
    chain_key = bytes.fromhex((home / "keys" / "chain.key").read_text("ascii").strip())
    embedded: EmbeddedChain | None = None
    if rpc is not None:
        w3 = connect(rpc)
    elif writer is not None:
        url, token = writer
        # The supervisor on this machine: a slow answer is its chain lock queued behind
        # the other workers' calls (300 verified reads at once), not an outage — and a
        # supervisor that is gone stops its workers anyway.
        w3 = connect(url, headers={"Authorization": f"Bearer {token}"}, request_timeout=120.0)
    elif descriptor.chain_kind == EMBEDDED:
        embedded = EmbeddedChain.open(home / "chain", descriptor.chain_id)
        w3 = embedded.w3
    else:
        assert descriptor.rpc_url is not None
        w3 = connect(descriptor.rpc_url)
    try:
        if rpc is not None:
            client = ChainClient.reader(w3, descriptor.contract)
        else:
            client = ChainClient(w3, descriptor.contract, chain_key)
        if client.chain_id != descriptor.chain_id:
            raise DeploymentError(
                f"the chain serves chain id {client.chain_id}, the deployment was made on "
                f"{descriptor.chain_id}"
            )
        content = _open_store(home, store)
    except BaseException:
        if embedded is not None:
            embedded.close()
        raise
    return Deployment(
        home=home,
        descriptor=descriptor,
        log_key=log_key,
        chain_key=chain_key,
        chain=client,
        store=content,
        embedded=embedded,
        _passphrase=passphrase,
    )


__all__ = [
    "Deployment",
    "DeploymentError",
    "Descriptor",
    "Role",
    "init_deployment",
    "open_deployment",
    "unit_chain_id",
]
