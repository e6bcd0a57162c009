"""Fixtures for the embedded chain tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from notary.chain.node.embedded import EmbeddedChain
from tests._support.chain_accounts import FUNDING, TEST_CHAIN_ID, Sender, deployment_account


@pytest.fixture
def account() -> LocalAccount:
    return deployment_account()


@pytest.fixture
def alloc(account: LocalAccount) -> dict[str, int]:
    return {account.address: FUNDING}


@pytest.fixture
def chain_dir(tmp_path: Path) -> Path:
    return tmp_path / "chain"


@pytest.fixture
def chain(chain_dir: Path, alloc: dict[str, int]) -> Iterator[EmbeddedChain]:
    with EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc) as opened:
        yield opened


@pytest.fixture
def sender(chain: EmbeddedChain, account: LocalAccount) -> Sender:
    return Sender(chain.w3, account)
