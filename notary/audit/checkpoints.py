"""The log monitor: every pair of anchored checkpoints is consistent (the log was
never rewritten); for an audit of some volumes, the checkpoints their evidence cites
are consistent with the newest one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import pairwise

from notary.anchoring import covering_size
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
    against_newest: bool = False,
) -> Report:
    """The log monitor: every anchored checkpoint is signed, on chain with its root, and
    consistent with the next one (RFC 9162 §2.1.4), so the log was never rewritten.
    ``against_newest``: each is proved consistent with the newest one instead (what an
    audit of some volumes needs of the checkpoints ``cited_checkpoints`` picks)."""
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
    pairs = [(a, ordered[-1]) for a in ordered[:-1]] if against_newest else list(pairwise(ordered))
    for a, b in pairs:
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


def cited_checkpoints(
    checkpoints: list[SignedCheckpoint], leaf_indexes: Iterable[int]
) -> list[SignedCheckpoint]:
    """The anchored checkpoints an audit of some volumes must monitor: the smallest one
    covering each of its leaves (the one its evidence cites, ``covering_size``) and the
    newest. Each proved consistent with the newest shows the volumes' entries are still
    in the log as it stands, at a cost that does not grow with the log; whether the
    rest of the log was ever rewritten is the whole-log audit's monitor's question."""
    if not checkpoints:
        return []
    by_size = {c.checkpoint.tree_size: c for c in checkpoints}
    sizes = sorted(by_size)
    wanted = {sizes[-1]}
    for leaf in leaf_indexes:
        size = covering_size(sizes, leaf)
        if size is not None:
            wanted.add(size)
    return [by_size[size] for size in sorted(wanted)]
