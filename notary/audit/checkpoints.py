"""The log monitor: every pair of anchored checkpoints is consistent (the log was
never rewritten)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from notary.audit.report import AUTHENTICITY, Problem, Report
from notary.checkpoint import SignedCheckpoint
from notary.crypto import SM2PublicKey, sm3
from notary.errors import ConsistencyError, ProofError, VerificationError
from notary.log.merkle import verify_consistency


def audit_checkpoints(
    checkpoints: list[SignedCheckpoint],
    consistency_proof: Callable[[int, int], list[bytes]],
    *,
    log_key: SM2PublicKey,
    chain_root: Callable[[SignedCheckpoint], bytes | None] | None,
    report: Report,
) -> Report:
    """The log monitor: every anchored checkpoint is signed, on chain with its root, and
    consistent with the next one (RFC 9162 §2.1.4), so the log was never rewritten."""
    ordered = sorted(checkpoints, key=lambda c: c.checkpoint.tree_size)
    for cp in ordered:
        size = cp.checkpoint.tree_size
        subject = f"checkpoint {size}"
        try:
            cp.verify(log_key)
        except VerificationError as e:
            report.problems.append(Problem(AUTHENTICITY, e.check, subject, str(e)))
        if chain_root is not None:
            on_chain = chain_root(cp)
            if on_chain is None:
                report.problems.append(Problem(AUTHENTICITY, "anchor", subject, "链上无此检查点"))
            elif on_chain != cp.checkpoint.root:
                report.problems.append(
                    Problem(
                        AUTHENTICITY, "anchor", subject, "链上根与检查点根不一致 (root differs)"
                    )
                )
        report.checkpoints_checked += 1
    for a, b in pairwise(ordered):
        s1, s2 = a.checkpoint.tree_size, b.checkpoint.tree_size
        try:
            verify_consistency(
                sm3, s1, s2, a.checkpoint.root, b.checkpoint.root, consistency_proof(s1, s2)
            )
        except (ProofError, ValueError, KeyError) as e:
            report.problems.append(
                Problem(
                    AUTHENTICITY,
                    ConsistencyError.check,
                    f"checkpoints {s1}→{s2}",
                    f"日志不一致 (log rewritten?): {e}",
                )
            )
    return report
