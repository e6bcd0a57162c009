"""A writer process for the kill -9 tests: sends transactions until it is killed.

Usage: ``python -m tests.notary.chain.node._writer CHAIN_DIR CONTRACT REPORT``

After each send returns (the block is committed), it appends
``<nonce> <tx hash>`` to REPORT. Even nonces store ``nonce + 1`` in the test
contract, odd ones are value transfers, so that both account state and
contract storage change under the kill.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hexbytes import HexBytes

from notary.chain.node.embedded import EmbeddedChain
from tests._support.chain_accounts import FUNDING, TEST_CHAIN_ID, Sender, deployment_account
from tests.notary.chain.node._contract import word

RECIPIENT = "0x" + "42" * 20


def send_next(sender: Sender, contract: str) -> tuple[int, HexBytes]:
    """The next transaction of the scheme: even nonces store, odd ones transfer."""
    nonce = sender.w3.eth.get_transaction_count(sender.account.address)
    if nonce % 2 == 0:
        return nonce, sender.send(to=contract, data=word(nonce + 1))
    return nonce, sender.send(to=RECIPIENT, value=1, gas=21_000)


def main(chain_dir: Path, contract: str, report: Path) -> None:
    account = deployment_account()
    with (
        EmbeddedChain.open(chain_dir, TEST_CHAIN_ID, {account.address: FUNDING}) as chain,
        report.open("a", buffering=1) as out,
    ):
        sender = Sender(chain.w3, account)
        while True:
            nonce, tx_hash = send_next(sender, contract)
            # Line-buffered: in the kernel's page cache once write() returns,
            # which survives the kill of this process.
            out.write(f"{nonce} {tx_hash.to_0x_hex()}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
