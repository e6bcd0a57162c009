"""The whole-log audit's check of the stored Merkle tree, in one pass over the log.

The material audit checks each material's inclusion proof — assembled from the stored
``log_nodes`` — against its smallest anchored checkpoint. Over a whole log that is
~20 node reads and ~20 SM3 per material, for proofs that mostly share their nodes.
:func:`check_stored_tree` instead reads every entry and every stored node once, in
index order, and establishes two facts:

- ``roots``: the Merkle root (RFC 9162 ``MTH``) of the first ``size`` stored entries
  at every anchored checkpoint size, computed from the entries alone (a frontier of
  perfect subtrees, ~2 SM3 per leaf);
- ``first_damage``: the first leaf position covered by a stored node that is not what
  the entries make it: a level-0 node that is not ``SM3(0x00 ‖ entry)``, a node above
  that is not ``SM3(0x01 ‖ left ‖ right)`` of its two stored children, or a missing
  entry or node (``None``: the stored tree is exactly the entries' tree).

Then for a leaf ``i`` and an anchored checkpoint of size ``s`` with root ``r``
(:meth:`TreeCheck.proven`): if ``s <= first_damage`` every stored node within the first
``s`` leaves is the ``MTH`` of its range (induction on the level), so the stored proof
of ``i`` is the true audit path and folds to ``MTH(entries[0:s])``; if that is ``r``,
the proof verifies against the checkpoint — the very answer the per-leaf check gives,
for the leaf hash of the same stored entry bytes (``decode_entry`` requires them to
be the canonical encoding the per-leaf check hashes). Where either condition fails,
the caller checks the leaf's own stored proof as before, so a damaged entry, node or
root is still found, named and reported per material exactly as without this pass.
Run it in the same snapshot as the material reads (REPEATABLE READ on PostgreSQL).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from notary.checkpoint import Checkpoint
from notary.crypto import sm3
from notary.log.merkle import fold_subtrees, prefixed

# Rows per round trip of a streamed query.
_FETCH = 8192
_names = itertools.count()


@dataclass
class TreeCheck:
    roots: dict[int, bytes] = field(default_factory=dict)
    first_damage: int | None = None
    leaves: int = 0  # entries read, in order up to the first missing one
    nodes: int = 0  # stored nodes checked

    def proven(self, leaf: int, checkpoint: Checkpoint) -> bool:
        """Whether ``leaf``'s stored inclusion proof verifies against ``checkpoint``,
        known without assembling it (the module docstring says why)."""
        size = checkpoint.tree_size
        return (
            0 <= leaf < size
            and (self.first_damage is None or size <= self.first_damage)
            and self.roots.get(size) == checkpoint.root
        )

    def _damaged(self, position: int) -> None:
        if self.first_damage is None or position < self.first_damage:
            self.first_damage = position


def _stream(session: Any, sql: str, params: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` (``%s`` placeholders) through the session's own DBAPI connection
    (its transaction, its snapshot), streamed: a server-side cursor on PostgreSQL."""
    conn = session.connection().connection.driver_connection
    if session.get_bind().dialect.name == "postgresql":
        with conn.cursor(name=f"tree_check_{next(_names)}") as cur:
            cur.itersize = _FETCH
            cur.execute(sql, params)
            yield from cur
    else:
        cur = conn.cursor()
        try:
            cur.execute(sql.replace("%s", "?"), params)
            while rows := cur.fetchmany(_FETCH):
                yield from rows
        finally:
            cur.close()


@dataclass
class TreePart:
    """What one range of leaves ``[start, stop)`` (``start`` a multiple of the part
    size, a power of two) says: the first damaged position in it, the entries' perfect
    subtrees from ``start`` to each wanted size inside it, and its whole ``MTH`` when
    the range is a complete perfect subtree."""

    start: int
    stop: int
    read: int = 0  # entries read (fewer than stop - start: one is missing)
    damage: int | None = None
    frontiers: dict[int, list[bytes]] = field(default_factory=dict)
    whole: bytes | None = None
    nodes: int = 0


def check_part(
    session: Any, start: int, stop: int, wanted: Iterable[int], levels: int | None = None
) -> TreePart:
    """Leaves ``[start, stop)``: every entry hashed against its stored level-0 node, every
    stored node inside the range (up to ``levels``, all if None) against its two stored
    children, and the entries' frontier at each wanted size ``start < s < stop`` (and
    ``s == stop``: the range's own root)."""
    part = TreePart(start, stop)
    sizes = sorted(s for s in wanted if start < s <= stop)
    leaf, node = prefixed(sm3)

    def damaged(position: int) -> None:
        if part.damage is None or position < part.damage:
            part.damage = position

    def level0() -> Iterator[bytes | None]:
        """Entries and level-0 nodes in index order: leaf hashes checked, the frontier
        kept at each wanted size; yields the stored level-0 hashes."""
        stack: list[bytes] = []
        at = start  # next expected index
        nxt = 0  # next wanted size's position in ``sizes``
        # Two index-order streams merged here, not a join: a join's plan hangs on the
        # planner's statistics (a freshly filled table got a quadratic nested loop).
        rows = _stream(
            session,
            "SELECT idx, entry FROM log_leaves WHERE idx >= %s AND idx < %s ORDER BY idx",
            (start, stop),
        )
        nodes = level(0)
        for idx, entry in rows:
            if idx != at:  # a missing entry: no frontier from here on
                break
            stored = next(nodes)[1]
            h = leaf(bytes(entry))
            if stored is None or bytes(stored) != h:
                damaged(idx)
            yield None if stored is None else bytes(stored)
            n = idx - start
            while n & 1:
                h = node(stack.pop() + h)
                n >>= 1
            stack.append(h)
            at = idx + 1
            while nxt < len(sizes) and sizes[nxt] == at:
                part.frontiers[at] = list(stack)
                nxt += 1
        part.read = at - start
        if at < stop:
            damaged(at)
        elif len(stack) == 1 and (stop - start) & (stop - start - 1) == 0:
            part.whole = stack[0]

    def level(k: int) -> Iterator[tuple[int, bytes | None]]:
        first, count = start >> k, (stop >> k) - (start >> k)
        rows = _stream(
            session,
            "SELECT idx, hash FROM log_nodes WHERE level = %s AND idx >= %s AND idx < %s "
            "ORDER BY idx",
            (k, first, first + count),
        )
        at = first
        for idx, stored in rows:
            while at < idx:  # missing nodes
                yield at, None
                at += 1
            yield idx, bytes(stored)
            at = idx + 1
        while at < first + count:
            yield at, None
            at += 1

    def parents(k: int, children: Iterator[bytes | None]) -> Iterator[bytes | None]:
        """Level ``k``'s stored nodes, each checked against its two stored children."""
        for j, parent in level(k):
            left, right = next(children, None), next(children, None)
            if parent is None or left is None or right is None or node(left + right) != parent:
                damaged(j << k)
            part.nodes += 1
            yield parent

    # One lazy stream per level, each consuming the one below: O(levels) memory.
    chain: list[Iterator[bytes | None]] = [level0()]
    k = 1
    while (stop >> k) > (start >> k) and (levels is None or k <= levels):
        chain.append(parents(k, chain[-1]))
        k += 1
    for stream in reversed(chain):  # top first; then what each level left unpaired
        for _ in stream:
            pass
    return part


def part_bounds(top: int, bits: int | None) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of ``2**bits`` leaves covering ``[0, top)`` (one range
    if ``bits`` is None)."""
    if bits is None:
        return [(0, top)]
    size = 1 << bits
    return [(a, min(a + size, top)) for a in range(0, top, size)]


def combine(
    session: Any, parts: list[TreePart], wanted: Iterable[int], bits: int | None
) -> TreeCheck:
    """The parts' findings as one ``TreeCheck``: damage, the roots at the wanted sizes
    (the complete parts' roots as the perfect subtrees left of a size, then the
    frontier inside its part), and the stored nodes above the parts' level checked
    against their stored children here."""
    sizes = sorted({s for s in wanted if s > 0})
    check = TreeCheck()
    if not sizes:
        return check
    top = sizes[-1]
    node = prefixed(sm3)[1]
    gap = False  # a missing entry ends the reading, as it ends the one pass's
    for part in parts:
        if part.damage is not None:
            check._damaged(part.damage)
        if not gap:
            check.leaves += part.read
            gap = part.read < part.stop - part.start
        check.nodes += part.nodes
    left: list[bytes] = []  # the complete parts' frontier, at level ``bits`` and above
    for done, part in enumerate(parts):  # ``done``: complete parts folded into ``left``
        for s in (s for s in sizes if part.start < s <= part.stop):
            if s in part.frontiers:
                check.roots[s] = fold_subtrees(sm3, left + part.frontiers[s])
        if part.whole is None:
            break  # the last part, or a part with a missing entry: no roots beyond
        h, n = part.whole, done
        while n & 1:
            h = node(left.pop() + h)
            n >>= 1
        left.append(h)
    if bits is not None and top >> (bits + 1):
        _check_above(session, top, bits, check)
    return check


def _check_above(session: Any, top: int, bits: int, check: TreeCheck) -> None:
    """The stored nodes above level ``bits`` against their stored children."""
    node = prefixed(sm3)[1]

    def level(k: int) -> Iterator[tuple[int, bytes | None]]:
        count = top >> k
        rows = _stream(
            session,
            "SELECT idx, hash FROM log_nodes WHERE level = %s AND idx < %s ORDER BY idx",
            (k, count),
        )
        at = 0
        for idx, stored in rows:
            while at < idx:
                yield at, None
                at += 1
            yield idx, bytes(stored)
            at = idx + 1
        while at < count:
            yield at, None
            at += 1

    def parents(k: int, children: Iterator[bytes | None]) -> Iterator[bytes | None]:
        for j, parent in level(k):
            left, right = next(children, None), next(children, None)
            if parent is None or left is None or right is None or node(left + right) != parent:
                check._damaged(j << k)
            check.nodes += 1
            yield parent

    chain: list[Iterator[bytes | None]] = [(h for _, h in level(bits))]
    k = bits + 1
    while top >> k:
        chain.append(parents(k, chain[-1]))
        k += 1
    for stream in reversed(chain):
        for _ in stream:
            pass


def check_stored_tree(session: Any, sizes: Iterable[int], bits: int | None = None) -> TreeCheck:
    """The stored tree checked against the stored entries up to the largest of
    ``sizes`` (the anchored checkpoint sizes), with the entries' root at each size; in
    parts of ``2**bits`` leaves (one part if None), as the parallel audit's workers
    check them (``check_part``), combined here (``combine``)."""
    wanted = sorted({s for s in sizes if s > 0})
    if not wanted:
        return TreeCheck()
    parts = [
        check_part(session, a, b, wanted, levels=bits) for a, b in part_bounds(wanted[-1], bits)
    ]
    return combine(session, parts, wanted, bits)
