"""Fixtures of the store tests: one js-ipfs node per session, a client per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notary.store import KuboStore
from notary.store.jsipfs import JsIpfsNode


@pytest.fixture(scope="session")
def jsipfs() -> Iterator[JsIpfsNode]:
    """A private offline js-ipfs node, started once: it takes seconds to come up."""
    node = JsIpfsNode().start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def kubo(jsipfs: JsIpfsNode) -> Iterator[KuboStore]:
    with KuboStore(jsipfs.api_url, timeout=15.0, has_timeout=1.0) as store:
        yield store
