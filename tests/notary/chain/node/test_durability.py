"""Durability: what a send returned for is on disk after a clean close and after kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from notary.chain.node.embedded import EmbeddedChain
from tests._support.chain_accounts import TEST_CHAIN_ID, Sender
from tests.notary.chain.node._contract import INIT, word
from tests.notary.chain.node._writer import send_next

REPO = Path(__file__).resolve().parents[4]
KILL_SEEDS = tuple(range(10))  # recorded: a failure names its seed


def _snapshot(chain: EmbeddedChain) -> list[tuple[object, ...]]:
    w3 = chain.w3
    return [
        (block["hash"], block["stateRoot"], block["receiptsRoot"], tuple(block["transactions"]))
        for block in (w3.eth.get_block(n) for n in range(w3.eth.block_number + 1))
    ]


def test_clean_close_and_reopen_keeps_blocks_receipts_and_state(
    chain_dir: Path, alloc: dict[str, int], account: LocalAccount
) -> None:
    with EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc) as chain:
        sender = Sender(chain.w3, account)
        contract = chain.w3.eth.get_transaction_receipt(sender.send(data=INIT))["contractAddress"]
        hashes = [sender.send(to=contract, data=word(n)) for n in range(1, 6)]
        hashes += [sender.send(to=contract, value=0, gas=21_000 + 100_000) for _ in range(2)]
        receipts = {h: dict(chain.w3.eth.get_transaction_receipt(h)) for h in hashes}
        blocks = _snapshot(chain)
        balance = chain.w3.eth.get_balance(account.address)

    with EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc) as chain:
        assert _snapshot(chain) == blocks
        assert {h: dict(chain.w3.eth.get_transaction_receipt(h)) for h in hashes} == receipts
        assert chain.w3.eth.get_balance(account.address) == balance
        assert chain.w3.eth.call({"to": contract}) == word(5)
        # The chain goes on from where it was.
        sender = Sender(chain.w3, account)
        receipt = chain.w3.eth.get_transaction_receipt(sender.send(to=contract, data=word(99)))
        assert receipt["blockNumber"] == len(blocks)
        assert chain.w3.eth.call({"to": contract}) == word(99)


def _read_report(report: Path) -> list[tuple[int, str]]:
    lines = report.read_text().splitlines() if report.exists() else []
    # A kill can cut the last line short: only whole lines were confirmed.
    return [(int(n), h) for n, h in (line.split() for line in lines if len(line.split()) == 2)]


def _run_writer_and_kill(chain_dir: Path, contract: str, report: Path, seed: int) -> None:
    rng = random.Random(seed)
    before = len(_read_report(report))
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.notary.chain.node._writer",
            str(chain_dir),
            contract,
            str(report),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        # Kill only once the writer is sending (not while it imports), then at
        # a random point of its send loop.
        while len(_read_report(report)) <= before:
            assert writer.poll() is None, writer.stderr.read().decode() if writer.stderr else ""
            assert time.monotonic() < deadline, "writer never confirmed a transaction"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.4))
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    assert writer.returncode == -signal.SIGKILL


@pytest.mark.timeout(120)
@pytest.mark.slow
def test_kill_9_never_loses_a_confirmed_transaction(
    chain_dir: Path, alloc: dict[str, int], account: LocalAccount, tmp_path: Path
) -> None:
    with EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc) as chain:
        sender = Sender(chain.w3, account)
        contract = chain.w3.eth.get_transaction_receipt(sender.send(data=INIT))["contractAddress"]
    report = tmp_path / "confirmed.txt"
    ahead = 0
    for seed in KILL_SEEDS:
        _run_writer_and_kill(chain_dir, contract, report, seed)
        confirmed = _read_report(report)
        with EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, alloc) as chain:
            w3 = chain.w3
            for nonce, tx_hash in confirmed:
                receipt = w3.eth.get_transaction_receipt(tx_hash)
                assert receipt["status"] == 1, f"seed {seed}: nonce {nonce} failed"
            last_block = w3.eth.get_transaction_receipt(confirmed[-1][1])["blockNumber"]
            head = w3.eth.get_block("latest")
            # The head may be one block ahead: committed, but the call never returned.
            assert last_block <= head["number"] <= last_block + 1, f"seed {seed}"
            # One transaction per block, none lost or duplicated.
            sent = w3.eth.get_transaction_count(account.address)
            assert head["number"] == sent, f"seed {seed}"
            # The head's state is complete: the executing state is the head's root.
            assert chain.backend.chain.get_vm().state.state_root == bytes(head["stateRoot"])
            # Storage agrees with the last transaction in the chain.
            last_set = max((n for n in range(1, sent) if n % 2 == 0), default=None)
            expected = word(last_set + 1) if last_set is not None else word(0)
            assert w3.eth.call({"to": contract}) == expected, f"seed {seed}"
            # And the chain accepts new transactions after the crash.
            next_nonce, next_hash = send_next(Sender(w3, account), contract)
            assert w3.eth.get_transaction_receipt(next_hash)["blockNumber"] == head["number"] + 1
            ahead += head["number"] - last_block
        with report.open("a") as out:
            out.write(f"{next_nonce} {next_hash.to_0x_hex()}\n")
    # Informational (shown with -rP): how often the head was one block ahead.
    print(f"{len(KILL_SEEDS)} kills, head one block ahead after {ahead}")
