"""Two archive centres in process, for the transfer service tests (tests/transfer/between_centres,
tests/transfer/recall: each registers these fixtures in its conftest.py).

One real ``anvil`` and one real js-ipfs node per registering directory (package scope:
they stop, with both apps and their anchoring workers, before other directories run).
Centre A (SQLite) and centre B (PostgreSQL) each have their own home, database and
log, share the contract (both centre accounts registered by one admin) and use the
IPFS node as their content store.
"""

from __future__ import annotations

import secrets
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from notary._internal.net import free_port
from notary.chain import ChainClient
from notary.chain.anvil import AnvilProcess, dev_private_keys
from notary.chain.models import Role as ChainRole
from notary.chain.rpc import connect
from notary.deployment import Deployment, init_deployment, unit_chain_id
from notary.store.jsipfs import JsIpfsNode
from tests._support.pg import fresh_pg_database
from transfer.db.models import Unit, UnitKind
from transfer.db.session import write_sessionmaker
from transfer.roles import Role
from transfer.security import issue_api_key
from transfer.services.federation import Fetcher, PeerUnreachable
from transfer.services.transfer_units import give_chain_account
from transfer.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from transfer.api import create_app


@dataclass
class Centre:
    name: str
    deployment: Deployment
    client: TestClient
    operator: dict[str, str]  # headers of the hosted unit's operator
    admin: dict[str, str]
    unit_code: str
    other: dict[str, str]  # operator of a second hosted unit, party to nothing

    @property
    def account(self) -> str:
        return self.deployment.descriptor.chain_account

    @property
    def unit_account(self) -> str:
        """The chain account of the hosted unit that sends and receives here."""
        return self.unit_chain.account

    @property
    def unit_chain(self) -> ChainClient:
        """The contract as that unit's account sees it (and signs for it)."""
        path = self.deployment.unit_key_path(self.unit_code).with_suffix(".chain")
        return self.chain.with_key(bytes.fromhex(path.read_text("ascii").strip()))

    @property
    def chain(self) -> ChainClient:
        return self.deployment.chain

    def post(self, path: str, **kw: Any) -> Any:
        headers = kw.pop("headers", self.operator)
        return self.client.post(path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        headers = kw.pop("headers", self.operator)
        return self.client.get(path, headers=headers, **kw)


@pytest.fixture(scope="package")
def anvil() -> Iterator[AnvilProcess]:
    node = AnvilProcess()
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="package")
def ipfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfsNode]:
    node = JsIpfsNode(tmp_path_factory.mktemp("ipfs") / "repo", api_port=free_port())
    node.start()
    yield node
    node.stop()


def _join(
    home: Path,
    anvil: AnvilProcess,
    admin_key: bytes,
    contract: str,
    centre_key: bytes,
    code: str,
    ipfs_url: str,
) -> Deployment:
    """Join an existing contract the way `notary init --join` does: the centre makes its
    keys, then the network admin registers its account with its log key."""
    dep = init_deployment(
        home,
        origin=f"{code.lower()}.example/log",
        centre_code=code,
        chain=anvil.url,
        chain_key=centre_key,
        contract=contract,
        store=ipfs_url,
        joining=True,
    )
    admin = ChainClient(connect(anvil.url), contract, admin_key)
    admin.add_member(
        dep.descriptor.chain_account,
        ChainRole.ARCHIVE_CENTRE,
        dep.log_key.public_key.fingerprint(),
        unit_chain_id(code),
    )
    return dep


def _cast(
    app_client: TestClient, dep: Deployment, code: str, admin_key: bytes
) -> tuple[dict[str, str], ...]:
    engine = app_client.app.state.notary.engine  # type: ignore[attr-defined]
    ctx = app_client.app.state.notary.notary  # type: ignore[attr-defined]
    with write_sessionmaker(engine)() as s:
        org = Unit(code=f"{code}-ORG", name="组织部", kind=UnitKind.ADMIN)
        unit = Unit(code=code, name=f"{code} 档案中心", kind=UnitKind.ARCHIVE_CENTRE)
        other = Unit(code=f"{code}-X", name="无关单位", kind=UnitKind.UNIT)
        s.add_all([org, unit, other])
        s.flush()
        for u in (unit, other):
            key = ctx.ensure_unit_key(u.code)
            u.public_key_hex = key.raw.hex()
            u.key_fingerprint = key.fingerprint().hex()
            give_chain_account(s, dep, u, admin_key=admin_key)
        _, admin = issue_api_key(s, org, Role.ADMIN)
        _, op = issue_api_key(s, unit, Role.OPERATOR)
        _, op2 = issue_api_key(s, other, Role.OPERATOR)
        s.commit()
    return tuple({"Authorization": f"Bearer {k}"} for k in (op, admin, op2))


@pytest.fixture(scope="package")
def centres(
    tmp_path_factory: pytest.TempPathFactory, anvil: AnvilProcess, ipfs: JsIpfsNode
) -> Iterator[tuple[Centre, Centre]]:
    admin_key, key_a, key_b = dev_private_keys(3)
    home_a = tmp_path_factory.mktemp("centre-a")
    home_b = tmp_path_factory.mktemp("centre-b")
    dep_a = init_deployment(
        home_a / "home",
        origin="a.example/log",
        centre_code="CA",
        chain=anvil.url,
        chain_key=key_a,
        admin_key=admin_key,
        store=ipfs.api_url,
    )
    dep_b = _join(
        home_b / "home", anvil, admin_key, dep_a.descriptor.contract, key_b, "CB", ipfs.api_url
    )
    with fresh_pg_database("transfer") as pg_url:
        settings_a = Settings(
            home=home_a / "home",
            database_url=f"sqlite:///{home_a / 'a.db'}",
            blinding_secret=SecretStr("secret-of-centre-a-" + secrets.token_hex(8)),
            checkpoint_interval_s=0.2,
        )
        settings_b = Settings(
            home=home_b / "home",
            database_url=pg_url,
            blinding_secret=SecretStr("secret-of-centre-b-" + secrets.token_hex(8)),
            checkpoint_interval_s=0.2,
        )
        with (
            TestClient(create_app(settings_a, deployment=dep_a)) as ca,
            TestClient(create_app(settings_b, deployment=dep_b)) as cb,
        ):
            op_a, admin_a, x_a = _cast(ca, dep_a, "UA", admin_key)
            op_b, admin_b, x_b = _cast(cb, dep_b, "UB", admin_key)
            a = Centre("A", dep_a, ca, op_a, admin_a, "UA", x_a)
            b = Centre("B", dep_b, cb, op_b, admin_b, "UB", x_b)
            fetch = _fetcher({"http://centre-a": ca, "http://centre-b": cb})
            for c in (ca, cb):
                c.app.state.notary.peer_fetcher = fetch  # type: ignore[attr-defined]
            _peer(a, "CB", "http://centre-b")
            _peer(b, "CA", "http://centre-a")
            yield a, b
    dep_a.close()
    dep_b.close()


def _fetcher(services: dict[str, TestClient]) -> Fetcher:
    """Peer centres reached in-process: the same requests, without sockets."""

    def fetch(method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
        base = next(b for b in services if url.startswith(b))
        r = services[base].request(method, url.removeprefix(base), json=body)
        if not r.is_success:
            raise PeerUnreachable(f"{url} 返回 {r.status_code}：{r.text[:300]}")
        data: dict[str, Any] = r.json()
        return data

    return fetch


def _peer(here: Centre, code: str, url: str) -> None:
    r = here.post("/v1/transfers/peers", headers=here.admin, json={"code": code, "url": url})
    assert r.status_code == 201, r.text


def new_id() -> str:
    return uuid.uuid4().hex[:12]
