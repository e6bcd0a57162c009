"""Chain test fixtures: every contract test runs on two backends.

- ``eth-tester``: in-memory py-evm;
- ``anvil``: one real node process per session (127.0.0.1, free port).
Per backend, one ArchiveNotary with a cast of members is deployed once per session;
every test starts from a snapshot of that state and the chain is reverted after it,
so tests are isolated without paying ~6 transactions of setup each. The world they
build is tests/notary/chain/_world.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notary.chain.anvil import AnvilNotFound, AnvilProcess
from tests.notary.chain._world import Cast, Chain, anvil_chain, deploy_cast, eth_tester_chain

BACKENDS = ["eth-tester", pytest.param("anvil", marks=pytest.mark.node)]


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[AnvilProcess]:
    try:
        node = AnvilProcess().start()
    except AnvilNotFound as exc:
        pytest.skip(str(exc))
    try:
        yield node
    finally:
        node.stop()


_SESSION_CHAINS: dict[str, Chain] = {}


@pytest.fixture(params=BACKENDS)
def chain(request: pytest.FixtureRequest) -> Iterator[Chain]:
    """A chain with the session's cast deployed; reverted to that state after the test."""
    name: str = request.param
    if name not in _SESSION_CHAINS:
        c = (
            eth_tester_chain()
            if name == "eth-tester"
            else anvil_chain(request.getfixturevalue("anvil_node"))
        )
        c.cast = deploy_cast(c)
        _SESSION_CHAINS[name] = c
    c = _SESSION_CHAINS[name]
    snap = c.snapshot()
    try:
        yield c
    finally:
        c.set_automine(True)  # shared between tests: never leave it paused
        c.revert(snap)


@pytest.fixture
def cast(chain: Chain) -> Cast:
    assert chain.cast is not None
    return chain.cast
