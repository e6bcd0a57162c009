"""The anvil launcher: loopback only, state file survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from notary.chain import ChainClient, Role, account_address, connect
from notary.chain.anvil import AnvilProcess, dev_private_keys
from notary.crypto import sm3

pytestmark = pytest.mark.node


def test_command_binds_loopback_and_prunes_history_with_a_state_file(tmp_path: Path) -> None:
    cmd = AnvilProcess(port=8545, state_file=tmp_path / "s.json").command()
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert "--prune-history" in cmd and str(tmp_path / "s.json") in cmd
    assert "--prune-history" not in AnvilProcess(port=8545).command()


def test_anchors_survive_a_restart_with_a_state_file(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    admin_key, centre_key = dev_private_keys(2)
    log = sm3(b"log")
    with AnvilProcess(state_file=state) as node:
        w3 = connect(node.url)
        admin = ChainClient.deploy(w3, admin_key, key_fingerprint=sm3(b"a"), unit_id=sm3(b"u"))
        admin.add_member(account_address(centre_key), Role.ARCHIVE_CENTRE, sm3(b"c"), sm3(b"cu"))
        ref = ChainClient(w3, admin.address, centre_key).anchor_checkpoint(log, 1, sm3(b"r1"))
    assert state.stat().st_size > 0

    with AnvilProcess(state_file=state) as node:
        centre = ChainClient(connect(node.url), admin.address, centre_key)
        assert centre.anchor_ref(log, 1) == ref
        assert centre.anchor_checkpoint(log, 2, sm3(b"r2")).block_number > ref.block_number
