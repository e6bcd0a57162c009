"""The permissioned chain: the ArchiveNotary contract and a client for it over web3.py.

``ChainClient`` takes any ``Web3`` (an HTTP endpoint via :func:`connect`, an
in-process eth-tester, the durable embedded chain), signs locally, and raises the
typed errors of :mod:`notary.chain.errors`.
"""

import sys as _sys

from notary.chain.artifacts import ContractArtifact, load_artifact
from notary.chain.client import ChainClient, account_address, deploy
from notary.chain.errors import (
    AnchorConflict,
    ChainError,
    ChainUnavailable,
    ContractError,
    ContractNotFound,
    ContractPanic,
    TransactionRejected,
    TransactionReverted,
    TransactionTimeout,
)
from notary.chain.models import (
    Anchor,
    AnchorRecord,
    Custody,
    CustodyState,
    Member,
    MemberStatus,
    Outcome,
    Role,
    StatusChange,
    Transfer,
    TxRef,
)
from notary.chain.rpc import connect, ensure_poa_compat

# web3 imports py_ecc, which raises the interpreter's recursion limit to 100,000: a
# JSON body nested a few ten thousand deep then overflows the C stack (SIGSEGV, the
# whole service gone) instead of raising RecursionError. py-evm needs 1024 * 12
# frames for the EVM's call depth; no more is ever needed.
_sys.setrecursionlimit(1024 * 12)

__all__ = [
    "Anchor",
    "AnchorConflict",
    "AnchorRecord",
    "ChainClient",
    "ChainError",
    "ChainUnavailable",
    "ContractArtifact",
    "ContractError",
    "ContractNotFound",
    "ContractPanic",
    "Custody",
    "CustodyState",
    "Member",
    "MemberStatus",
    "Outcome",
    "Role",
    "StatusChange",
    "TransactionRejected",
    "TransactionReverted",
    "TransactionTimeout",
    "Transfer",
    "TxRef",
    "account_address",
    "connect",
    "deploy",
    "ensure_poa_compat",
    "load_artifact",
]
