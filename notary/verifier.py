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

from dataclasses import dataclass

from notary.anchoring import AnchorCheck, AnchorReader, verify_anchor
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


class ReceiptVerifier:
    def __init__(self, policy: TrustPolicy, chain: AnchorReader | None = None) -> None:
        if policy.log_keys is None and policy.require_anchor and chain is None:
            raise ValueError("trusting the chain's registry needs a chain reader")
        if policy.anchorers is not None and chain is None:
            raise ValueError("accepting only some anchorers needs a chain reader")
        self.policy = policy
        self.chain = chain

    def check_offline(
        self, receipt: EvidenceReceipt, *, material_sm3: bytes | None = None
    ) -> OfflineResult:
        """Entry, inclusion, checkpoint signature — and the key, if the policy pins it."""
        keys = self.policy.log_keys
        return verify_offline(
            receipt,
            material_sm3=material_sm3,
            trusted_log_keys=None if keys is None else list(keys),
        )

    def check_anchor(self, receipt: EvidenceReceipt) -> AnchorCheck:
        """The on-chain half; raises :class:`NotAnchored` for a receipt without anchor."""
        if self.chain is None:
            raise NotAnchored("no chain to check the anchor against")
        check = verify_anchor(receipt, self.chain)
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


__all__ = ["ReceiptVerifier", "TrustPolicy", "VerifiedReceipt"]
