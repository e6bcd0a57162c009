"""ChainClient behaviour beyond the contract's rules: retries, crashes, outages, wiring."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import ExtraDataLengthError
from web3.providers.base import BaseProvider

from notary._internal.net import free_port
from notary.chain import (
    AnchorConflict,
    ChainClient,
    ChainUnavailable,
    ContractError,
    ContractNotFound,
    Role,
    TransactionTimeout,
    connect,
    ensure_poa_compat,
    load_artifact,
)
from notary.chain import errors as E
from notary.chain.anvil import AnvilProcess
from notary.chain.revert import ErrorDecoder
from notary.crypto import sm3
from tests.notary.chain._world import Cast, Chain

LOG = sm3(b"log:client")


def root(n: int) -> bytes:
    return sm3(b"root" + n.to_bytes(8, "big"))


def pending_nonce(chain: Chain, account: str) -> int:
    return chain.w3.eth.get_transaction_count(account, "pending")  # type: ignore[arg-type]


class TestIdempotentAnchoring:
    def test_anchoring_the_same_checkpoint_again_returns_the_first_anchor(self, cast: Cast) -> None:
        first = cast.centre.anchor_checkpoint(LOG, 3, root(3))
        nonce = pending_nonce(cast.chain, cast.centre.account)
        again = cast.centre.anchor_checkpoint(LOG, 3, root(3))
        assert again == first
        assert pending_nonce(cast.chain, cast.centre.account) == nonce  # nothing was sent

    def test_a_different_root_at_an_anchored_size_is_a_conflict(self, cast: Cast) -> None:
        cast.centre.anchor_checkpoint(LOG, 3, root(3))
        with pytest.raises(AnchorConflict) as info:
            cast.centre.anchor_checkpoint(LOG, 3, root(4))
        assert (info.value.anchored_root, info.value.wanted_root) == (root(3), root(4))

    def test_anchor_ref_finds_the_transaction_of_an_existing_anchor(self, cast: Cast) -> None:
        ref = cast.centre.anchor_checkpoint(LOG, 1, root(1))
        cast.centre.anchor_checkpoint(LOG, 2, root(2))
        assert cast.outsider.anchor_ref(LOG, 1) == ref
        assert cast.outsider.anchor_ref(LOG, 5) is None


def needs_mempool(chain: Chain) -> None:
    if chain.name == "eth-tester":
        pytest.skip(
            "eth-tester has no mempool: with automining off it accepts one queued tx per"
            " account and a second one of the same nonce replaces it"
        )


class TestCrashRecovery:
    def test_retry_after_a_receipt_timeout_reuses_the_mined_anchor(self, cast: Cast) -> None:
        """The writer dies (here: times out) after submitting; the tx lands later."""
        chain = cast.chain
        impatient = cast.client(cast.keys["centre"], receipt_timeout=0.05)
        start = pending_nonce(chain, impatient.account)
        chain.set_automine(False)
        with pytest.raises(TransactionTimeout) as info:
            impatient.anchor_checkpoint(LOG, 1, root(1))
        assert chain.w3.eth.get_transaction(info.value.tx_hash)  # type: ignore[arg-type]
        chain.mine()
        chain.set_automine(True)

        restarted = cast.client(cast.keys["centre"])  # a new process: no memory of the past
        ref = restarted.anchor_checkpoint(LOG, 1, root(1))
        assert ref.tx_hash == info.value.tx_hash
        assert pending_nonce(chain, impatient.account) == start + 1  # no duplicate sent

    def test_a_pending_transaction_is_counted_so_nonces_have_no_gap_or_duplicate(
        self, cast: Cast
    ) -> None:
        chain = cast.chain
        needs_mempool(chain)
        impatient = cast.client(cast.keys["centre"], receipt_timeout=0.05)
        start = pending_nonce(chain, impatient.account)
        chain.set_automine(False)
        with pytest.raises(TransactionTimeout) as first:
            impatient.anchor_checkpoint(LOG, 1, root(1))
        with pytest.raises(TransactionTimeout) as second:
            impatient.anchor_checkpoint(LOG, 2, root(2))
        chain.mine()
        chain.set_automine(True)
        for timed_out in (first.value, second.value):
            receipt = chain.w3.eth.get_transaction_receipt(timed_out.tx_hash)  # type: ignore[arg-type]
            assert receipt["status"] == 1
        nonces = [
            chain.w3.eth.get_transaction(t.tx_hash)["nonce"]  # type: ignore[arg-type]
            for t in (first.value, second.value)
        ]
        assert nonces == [start, start + 1]
        assert cast.centre.latest_anchor(LOG).tree_size == 2  # type: ignore[union-attr]

    def test_a_duplicate_that_lost_the_race_resolves_to_the_winner(self, cast: Cast) -> None:
        """Retrying while the first attempt is still pending sends a second tx that reverts."""
        chain = cast.chain
        needs_mempool(chain)
        impatient = cast.client(cast.keys["centre"], receipt_timeout=0.05)
        chain.set_automine(False)
        with pytest.raises(TransactionTimeout) as first:
            impatient.anchor_checkpoint(LOG, 1, root(1))
        with pytest.raises(TransactionTimeout):
            impatient.anchor_checkpoint(LOG, 1, root(1))  # not on chain yet: sent again
        chain.mine()
        chain.set_automine(True)
        ref = cast.centre.anchor_checkpoint(LOG, 1, root(1))
        assert ref.tx_hash == first.value.tx_hash


class TestWiring:
    def test_every_contract_error_has_its_exception_class(self) -> None:
        abi_errors = {i["name"] for i in load_artifact().abi if i["type"] == "error"}
        assert ErrorDecoder(load_artifact().abi).names == abi_errors
        assert set(ContractError.by_name) == abi_errors
        for name in abi_errors:
            cls = getattr(E, name)
            assert issubclass(cls, ContractError) and cls.__doc__

    def test_contract_errors_are_reverts_and_chain_errors(self) -> None:
        assert issubclass(E.TreeSizeNotIncreasing, E.TransactionReverted)
        assert issubclass(E.TransactionReverted, E.ChainError)

    def test_a_wrong_address_is_refused_at_construction(self, cast: Cast) -> None:
        with pytest.raises(ContractNotFound, match="no contract"):
            ChainClient(cast.chain.w3, cast.outsider.account, cast.keys["centre"])

    def test_malformed_arguments_fail_before_any_rpc(self, cast: Cast) -> None:
        with pytest.raises(ValueError, match="log_id must be 32 bytes"):
            cast.centre.anchor_checkpoint(b"short", 1, root(1))
        with pytest.raises(ValueError, match="tree_size"):
            cast.centre.anchor_checkpoint(LOG, -1, root(1))

    def test_gas_per_anchor(self, cast: Cast) -> None:
        """Recorded in the report: first anchor of a log also claims it for the unit."""
        w3 = cast.chain.w3
        first = cast.centre.anchor_checkpoint(LOG, 1, root(1))
        later = cast.centre.anchor_checkpoint(LOG, 2, root(2))
        gas_first = w3.eth.get_transaction_receipt(first.tx_hash)["gasUsed"]  # type: ignore[arg-type]
        gas_later = w3.eth.get_transaction_receipt(later.tx_hash)["gasUsed"]  # type: ignore[arg-type]
        print(f"\n[{cast.chain.name}] gas per anchor: first {gas_first}, next {gas_later}")
        # Regression guards: 2 new slots per anchor (+1 for the log's owner the first time).
        assert gas_later < gas_first < 125_000
        assert gas_later < 85_000


class TestUnavailable:
    def test_connecting_to_a_dead_endpoint_raises_chain_unavailable(self) -> None:
        with pytest.raises(ChainUnavailable, match="connecting to"):
            connect(f"http://127.0.0.1:{free_port()}", request_timeout=1)

    @pytest.mark.node
    def test_a_node_that_goes_away_raises_chain_unavailable(self) -> None:
        from notary.chain.anvil import dev_private_keys

        keys = dev_private_keys(1)
        with AnvilProcess() as node:
            w3 = connect(node.url, request_timeout=2)
            client = ChainClient.deploy(w3, keys[0], key_fingerprint=root(1), unit_id=root(2))
        with pytest.raises(ChainUnavailable):
            client.member(client.account)
        with pytest.raises(ChainUnavailable):
            client.add_member(client.account, Role.UNIT, root(3), root(4))


class _QbftLikeProvider(BaseProvider):
    """Answers like a QBFT node: 97-byte extraData (vanity, validators, seals)."""

    extra = "0x" + "ab" * 97

    def make_request(self, method: Any, params: Any) -> Any:
        if method == "eth_getBlockByNumber":
            block = {
                "number": "0x1",
                "hash": "0x" + "11" * 32,
                "parentHash": "0x" + "22" * 32,
                "extraData": self.extra,
                "timestamp": "0x5",
                "gasLimit": "0x1c9c380",
                "gasUsed": "0x0",
                "miner": "0x" + "00" * 20,
                "transactions": [],
            }
            return {"jsonrpc": "2.0", "id": 1, "result": block}
        if method == "eth_chainId":
            return {"jsonrpc": "2.0", "id": 1, "result": "0x539"}
        raise NotImplementedError(method)


class TestProofOfAuthority:
    def test_long_extra_data_gets_the_poa_middleware(self) -> None:
        w3 = Web3(_QbftLikeProvider())
        with pytest.raises(ExtraDataLengthError):
            w3.eth.get_block("latest")
        assert ensure_poa_compat(w3) is True
        block = w3.eth.get_block("latest")
        assert len(block["proofOfAuthorityData"]) == 97
        assert ensure_poa_compat(w3) is True  # idempotent

    def test_standard_headers_are_left_alone(self, chain: Chain) -> None:
        assert ensure_poa_compat(chain.w3) is False
