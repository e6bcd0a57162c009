"""The words staff read for transfer states and chain outcomes: one table for the CLI,
the same table in the console (clients/console/console.js ``STATE_ZH``) and in the
printed forms (transfer/services/forms.py); tests/console/test_vocabulary.py checks
that all three agree.

rejected is the receiver's act (拒收, custody stays with the sender); returned is the
end of the road for the sender (退回: taken back after a rejection, or recalled after a
deadline), from where it may be sent again as a new transfer.
"""

from __future__ import annotations

TRANSFER_STATE_ZH: dict[str, str] = {
    "created": "已创建",
    "packaged": "已打包",
    "dispatched": "已转出",
    "delivered": "已送达",
    "verified": "已检测",
    "received": "已签收",
    "rejected": "已拒收",
    "returned": "已退回",
}

# A dispatch's outcome as the contract records it (per volume on chain).
CHAIN_OUTCOME_ZH: dict[str, str] = {
    "pending": "待答复",
    "received": TRANSFER_STATE_ZH["received"],
    "rejected": TRANSFER_STATE_ZH["rejected"],
    "returned": TRANSFER_STATE_ZH["returned"],
    "recalled": "已撤回",
}


def state_zh(state: object) -> str:
    """The state in words; an unknown state as it is (never hidden)."""
    return TRANSFER_STATE_ZH.get(str(state), str(state))
