"""The chain tests' world: a chain under test (in-memory eth-tester or an anvil node)
and ArchiveNotary deployed on it with a cast of members, one client per actor. The
fixtures that hand them out (one deployment per backend per session, reverted after
each test) are in conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from notary.chain import ChainClient, Role, account_address
from notary.chain.anvil import AnvilProcess, dev_private_keys
from notary.crypto import sm3


@dataclass
class Chain:
    """A chain under test and what a test may do to it besides sending transactions."""

    name: str
    w3: Web3
    keys: list[bytes]
    advance_time: Callable[[int], None]
    set_automine: Callable[[bool], object]
    mine: Callable[[], object]
    snapshot: Callable[[], object]
    revert: Callable[[object], None]
    cast: Cast | None = None

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def eth_tester_chain() -> Chain:
    backend = PyEVMBackend()
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))

    def advance_time(seconds: int) -> None:
        tester.time_travel(int(w3.eth.get_block("latest")["timestamp"]) + seconds)

    def set_automine(on: bool) -> None:
        if on:
            tester.enable_auto_mine_transactions()
        else:
            tester.disable_auto_mine_transactions()

    return Chain(
        name="eth-tester",
        w3=w3,
        keys=[k.to_bytes() for k in backend.account_keys],
        advance_time=advance_time,
        set_automine=set_automine,
        mine=lambda: tester.mine_blocks(1),
        snapshot=tester.take_snapshot,
        revert=tester.revert_to_snapshot,
    )


def anvil_chain(node: AnvilProcess) -> Chain:
    w3 = Web3(Web3.HTTPProvider(node.url))

    def rpc(method: str, *params: object) -> object:
        resp = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        assert "error" not in resp, resp
        return resp["result"]

    def advance_time(seconds: int) -> None:
        rpc("evm_increaseTime", seconds)
        rpc("evm_mine")

    return Chain(
        name="anvil",
        w3=w3,
        keys=dev_private_keys(node.accounts),
        advance_time=advance_time,
        set_automine=lambda on: rpc("evm_setAutomine", on),
        mine=lambda: rpc("evm_mine"),
        snapshot=lambda: rpc("evm_snapshot"),
        revert=lambda snap: None if rpc("evm_revert", snap) else pytest.fail("evm_revert failed"),
    )


def fingerprint(name: str) -> bytes:
    """Stand-in for SM3(raw 64-byte SM2 public key) of a member."""
    return sm3(f"sm2-public-key:{name}".encode().ljust(64, b"\0"))


def unit_id(name: str) -> bytes:
    return sm3(f"unit:{name}".encode())


@dataclass
class Cast:
    """A deployed contract and one client per actor, each signing with its own key."""

    chain: Chain
    admin: ChainClient
    centre: ChainClient
    centre2: ChainClient
    unit: ChainClient
    unit2: ChainClient
    auditor: ChainClient
    outsider: ChainClient
    keys: dict[str, bytes] = field(default_factory=dict)

    def client(self, key: bytes, **options: object) -> ChainClient:
        return ChainClient(self.chain.w3, self.admin.address, key, **options)  # type: ignore[arg-type]


ROLES = {
    "centre": Role.ARCHIVE_CENTRE,
    "centre2": Role.ARCHIVE_CENTRE,
    "unit": Role.UNIT,
    "unit2": Role.UNIT,
    "auditor": Role.AUDITOR,
}


def deploy_cast(chain: Chain) -> Cast:
    names = ["admin", *ROLES, "outsider"]
    keys = dict(zip(names, chain.keys, strict=False))
    admin = ChainClient.deploy(
        chain.w3, keys["admin"], key_fingerprint=fingerprint("admin"), unit_id=unit_id("admin")
    )
    for name, role in ROLES.items():
        admin.add_member(account_address(keys[name]), role, fingerprint(name), unit_id(name))
    clients = {
        name: admin if name == "admin" else ChainClient(chain.w3, admin.address, keys[name])
        for name in names
    }
    return Cast(chain=chain, keys=keys, **clients)
