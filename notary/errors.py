"""Verification failures. Each is a distinct type whose message names the failed check,
so an auditor (or an archive system calling the verify API) can tell *what* is wrong."""

from __future__ import annotations


class NotaryError(Exception):
    """The one root of every error the notary library raises on purpose (crypto, log
    storage, content store, chain, formats), so a caller can catch them in one place."""


class VerificationError(NotaryError):
    """Something presented as proof does not prove what it claims."""

    check: str = "verification"


class FormatError(VerificationError):
    """A document (receipt, checkpoint, entry) is malformed or of an unknown version."""

    check = "format"


class EntryMismatch(VerificationError):
    """The entry does not describe the presented material (SM3 or canonical bytes differ)."""

    check = "entry"


class ProofError(VerificationError):
    """A Merkle proof of RFC 9162 §2.1.3–2.1.4 does not verify."""

    check = "merkle-proof"


class InclusionError(ProofError):
    """The inclusion proof does not lead from the entry to the checkpoint's root
    (RFC 9162 §2.1.3.2)."""

    check = "inclusion"


class ConsistencyError(ProofError):
    """Two checkpoints of the same log are not consistent: the log was rewritten
    (RFC 9162 §2.1.4.2)."""

    check = "consistency"


class CheckpointSignatureError(VerificationError):
    """The checkpoint's SM2 signature does not verify for the log's key."""

    check = "checkpoint-signature"


class UntrustedKey(VerificationError):
    """The checkpoint was signed by a key the verifier does not trust for this log."""

    check = "log-key"


class NotAnchored(VerificationError):
    """No on-chain anchor exists (yet) for the checkpoint."""

    check = "anchor"


class AnchorMismatch(VerificationError):
    """The chain holds a different root, transaction or anchoring member than claimed."""

    check = "anchor"


class LogRowMissing(VerificationError):
    """A row a proof is assembled from (the entry, a stored tree node) is not in the log's
    storage: deleted or lost. The leaf's finding; its neighbours are still checked."""

    check = "log-missing"
