"""The append-only Merkle log of the notary: RFC 9162 §2.1 tree hashing with SM3.

``merkle`` holds the pure functions (hashing, proof generation and verification),
``storage`` the node storage interface, ``tree`` the log over a storage.
"""

from notary.errors import ConsistencyError, InclusionError, ProofError
from notary.log.merkle import (
    HashFn,
    empty_root,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from notary.log.storage import MemoryTreeStorage, StorageError, TreeStorage
from notary.log.tree import MerkleLog

__all__ = [
    "ConsistencyError",
    "HashFn",
    "InclusionError",
    "MemoryTreeStorage",
    "MerkleLog",
    "ProofError",
    "StorageError",
    "TreeStorage",
    "empty_root",
    "leaf_hash",
    "node_hash",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]
