"""The one place that decides whether an evidence receipt is trusted.

Like sigstore's ``Verifier`` and python-tuf's ``Updater``, a :class:`ReceiptVerifier`
is built once from a :class:`TrustPolicy` and then asked about receipts; every caller
(the verified read, the verify API, the transfer verifier, the audit, the SDK and the
CLI) goes through it instead of assembling the checks of docs/receipt-format.md §6 by
hand and choosing keys on its own.

A receipt's log key is trusted in one of two ways:

- **pinned**: the policy names the log keys (a deployment checking its own receipts);
- **the chain's member registry**: no key is named, the anchor check binds the key —
  the account that anchored the checkpoint is the member holding the signing key's
  fingerprint and was an active archive centre at that block
  (:func:`notary.anchoring.verify_anchor`). Optionally the policy names the anchoring
  accounts it accepts (a peer centre's account, itself checked on chain when the peer
  was added), so that a receipt of another member's log does not pass for the peer's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from notary.anchoring import AnchorCheck, AnchorReader, verify_anchor
from notary.checkpoint import SignedCheckpoint
from notary.crypto import SM2PublicKey
from notary.errors import NotAnchored, UntrustedKey
from notary.receipts import EvidenceReceipt, OfflineResult, verify_offline


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    # The log keys trusted outright; None: the chain's member registry binds the key,
    # which needs the anchor to be checked.
    log_keys: tuple[SM2PublicKey, ...] | None = None
    # The anchor must be present and check out on chain (else a receipt may be pending).
    require_anchor: bool = True
    # Accounts whose anchors are accepted; None: any active archive centre's.
    anchorers: frozenset[str] | None = None

    @classmethod
    def pinned(cls, *keys: SM2PublicKey, require_anchor: bool = True) -> TrustPolicy:
        return cls(log_keys=tuple(keys), require_anchor=require_anchor)

    @classmethod
    def registry(cls, *anchorers: str) -> TrustPolicy:
        """The chain decides; with ``anchorers``, only those accounts' anchors."""
        accounts = frozenset(anchorers) if anchorers else None
        return cls(log_keys=None, require_anchor=True, anchorers=accounts)


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    offline: OfflineResult
    anchor: AnchorCheck | None  # None: not anchored yet (allowed by the policy)

    @property
    def trusted_by(self) -> str:
        """``pinned``, ``chain`` or ``none`` (offline only, key unbound: pending)."""
        if self.offline.key_pinned:
            return "pinned"
        return "chain" if self.anchor is not None else "none"


class VerificationMemo:
    """A bounded, per-process memo of verdicts that cannot change (docs/service.md,
    "The verification memo"): a checkpoint signature that verified under a key, and an
    anchor that checked out on a given chain. Only passes are remembered, keyed by
    everything the verdict was computed from, so a changed input — a tampered entry,
    proof, checkpoint or signature, another key, another chain — is a miss and is
    verified afresh. What is never memoised: the content (CID, SM4-GCM tag, SM3), the
    entry ↔ material match and the inclusion proof (a few dozen SM3 of 65 bytes,
    cheaper than a key over them), and the pinned-key check.

    The on-chain verdict is immutable because the contract writes an anchor once per
    (log, tree size) and never rewrites a member's key fingerprint or past status
    history, and because QBFT finality means a block once answered is never reorganised.
    A chain that *can* reorganise (a development node, proof-of-work) must not be
    given a memo."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max = max_entries
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        # Verifications actually run (misses) and answered from the memo (hits): what
        # the tests and the benchmark read to see that a read verifies once.
        self.signatures_checked = 0
        self.anchors_checked = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return value

    def _put(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def passes(self) -> list[tuple[tuple[Any, ...], Any]]:
        """The verdicts held (all passes), to hand to another process's memo."""
        with self._lock:
            return list(self._items.items())

    def add_passes(self, passes: list[tuple[tuple[Any, ...], Any]]) -> None:
        """Verdicts another memo reached (``passes``), for the same chain and keys."""
        for key, value in passes:
            self._put(key, value)

    def check_signature(self, cp: SignedCheckpoint, key: SM2PublicKey) -> None:
        """``cp.verify(key)``, once per (checkpoint, signature, key). The signed bytes
        are a function of the checkpoint's fields alone (``Checkpoint.signed_bytes``),
        so the frozen ``Checkpoint`` value stands for them in the key: equal fields,
        equal bytes, without encoding them again for every receipt."""
        memo_key = ("sig", cp.checkpoint, cp.signature, key.raw)
        if self._get(memo_key) is not None:
            return
        cp.verify(key)
        with self._lock:
            self.signatures_checked += 1
        self._put(memo_key, True)

    def check_anchor(self, receipt: EvidenceReceipt, chain: AnchorReader) -> AnchorCheck:
        """``verify_anchor(receipt, chain)``, once per (chain, anchor reference,
        checkpoint). A reader that cannot name its genesis block is not memoised."""
        genesis = getattr(chain, "genesis_hash", None)
        ref = receipt.anchor
        if genesis is None or ref is None:
            return verify_anchor(receipt, chain)
        cp = receipt.checkpoint.checkpoint
        memo_key = (  # cp.origin, not cp.log_id: the same (log_id is its SM3), no hashing
            "anchor", genesis, chain.chain_id, chain.address.lower(),
            ref.chain_id, ref.contract.lower(), ref.tx_hash, ref.block_number,
            cp.origin, cp.tree_size, cp.root, cp.key_id,
        )  # fmt: skip
        found = self._get(memo_key)
        if found is not None:
            return found
        check = verify_anchor(receipt, chain)
        with self._lock:
            self.anchors_checked += 1
        self._put(memo_key, check)
        return check


class ReceiptVerifier:
    def __init__(
        self,
        policy: TrustPolicy,
        chain: AnchorReader | None = None,
        memo: VerificationMemo | None = None,
    ) -> None:
        if policy.log_keys is None and policy.require_anchor and chain is None:
            raise ValueError("trusting the chain's registry needs a chain reader")
        if policy.anchorers is not None and chain is None:
            raise ValueError("accepting only some anchorers needs a chain reader")
        self.policy = policy
        self.chain = chain
        self.memo = memo

    def check_offline(
        self,
        receipt: EvidenceReceipt,
        *,
        material_sm3: bytes | None = None,
        check_inclusion: bool = True,
    ) -> OfflineResult:
        """Entry, inclusion, checkpoint signature — and the key, if the policy pins it.
        ``check_inclusion``: see ``verify_offline`` (the whole-log audit alone)."""
        keys = self.policy.log_keys
        return verify_offline(
            receipt,
            material_sm3=material_sm3,
            trusted_log_keys=None if keys is None else list(keys),
            check_signature=None if self.memo is None else self.memo.check_signature,
            check_inclusion=check_inclusion,
        )

    def check_anchor(self, receipt: EvidenceReceipt) -> AnchorCheck:
        """The on-chain half; raises :class:`NotAnchored` for a receipt without anchor."""
        if self.chain is None:
            raise NotAnchored("no chain to check the anchor against")
        if self.memo is None:
            check = verify_anchor(receipt, self.chain)
        else:
            check = self.memo.check_anchor(receipt, self.chain)
        allowed = self.policy.anchorers
        if allowed is not None and check.anchored_by.lower() not in {a.lower() for a in allowed}:
            raise UntrustedKey(
                f"the checkpoint was anchored by {check.anchored_by}, "
                "not by the centre whose receipts are expected here"
            )
        return check

    def verify(
        self, receipt: EvidenceReceipt, *, material_sm3: bytes | None = None
    ) -> VerifiedReceipt:
        """Every check the policy asks for, in the order of docs/receipt-format.md §6."""
        offline = self.check_offline(receipt, material_sm3=material_sm3)
        anchor = None
        if receipt.anchor is not None and self.chain is not None:
            anchor = self.check_anchor(receipt)
        elif self.policy.require_anchor:
            raise NotAnchored(
                "the receipt has no anchor yet (anchoring pending)"
                if receipt.anchor is None
                else "the anchor cannot be checked without a chain"
            )
        return VerifiedReceipt(offline, anchor)


__all__ = ["ReceiptVerifier", "TrustPolicy", "VerificationMemo", "VerifiedReceipt"]
