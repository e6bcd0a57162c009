"""Opening a chain directory: pinned settings, one writer, consistency checks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from notary.chain.errors import ChainError
from notary.chain.node._kvstore import SqliteStore
from notary.chain.node.embedded import (
    ChainLockedError,
    ChainSettingsMismatchError,
    ChainStoreCorruptError,
    EmbeddedChain,
)
from tests._support.chain_accounts import TEST_CHAIN_ID, deployment_account

REPO = Path(__file__).resolve().parents[4]


def test_second_open_in_this_process_is_refused(chain_dir: Path, alloc: dict[str, int]) -> None:
    with (
        EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc),
        pytest.raises(ChainLockedError) as raised,
    ):
        EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc)
    assert isinstance(raised.value, ChainError)
    # Released on close: the next open succeeds.
    EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc).close()


@pytest.mark.slow
def test_second_open_in_another_process_is_refused(chain_dir: Path, alloc: dict[str, int]) -> None:
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from notary.chain.node.embedded import ChainLockedError, EmbeddedChain
        try:
            EmbeddedChain.open(Path({str(chain_dir)!r}), {TEST_CHAIN_ID}, {alloc!r})
        except ChainLockedError as exc:
            print("locked:", exc)
        else:
            print("opened")
        """
    )
    with EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc):
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    assert result.stdout.startswith("locked:"), result.stdout + result.stderr
    # The message names the holder, so an operator can find it.
    import os

    assert f"pid {os.getpid()}" in result.stdout


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("chain_id", {"chain_id": TEST_CHAIN_ID + 1}),
        ("gas_limit", {"gas_limit": 12_345_678}),
        ("genesis_alloc", {"genesis_alloc": {deployment_account("other").address: 1}}),
    ],
)
def test_reopen_with_different_settings_is_refused(
    chain_dir: Path, alloc: dict[str, int], field: str, kwargs: dict[str, object]
) -> None:
    EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc).close()
    arguments: dict[str, object] = {"chain_id": TEST_CHAIN_ID, "genesis_alloc": alloc, **kwargs}
    with pytest.raises(ChainSettingsMismatchError) as raised:
        EmbeddedChain.open(chain_dir, **arguments)  # type: ignore[arg-type]
    assert raised.value.field == field
    # A refused open leaves the directory unlocked and intact.
    with EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc) as chain:
        assert chain.head_number() == 0


def test_reopen_without_alloc_accepts_the_stored_one(
    chain_dir: Path, alloc: dict[str, int]
) -> None:
    EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc).close()
    with EmbeddedChain.open(chain_dir, TEST_CHAIN_ID) as chain:
        assert chain.w3.eth.get_balance(next(iter(alloc))) == next(iter(alloc.values()))


def test_alloc_addresses_compare_case_insensitively(chain_dir: Path, alloc: dict[str, int]) -> None:
    EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc).close()
    lowered = {address.lower(): balance for address, balance in alloc.items()}
    EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, lowered).close()


def test_foreign_data_without_settings_is_refused(chain_dir: Path) -> None:
    chain_dir.mkdir()
    store = SqliteStore(chain_dir / "chain.sqlite")
    store.put(b"some key", b"some value")
    store.close()
    with pytest.raises(ChainStoreCorruptError):
        EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, {})


def test_negative_balance_is_refused(chain_dir: Path) -> None:
    with pytest.raises(ValueError):
        EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, {deployment_account().address: -1})
