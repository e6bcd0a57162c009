"""Concurrent verified reads log their 利用登记 entries in shared transactions
(``state.read_log``, transfer/services/group_commit.py), and each read is answered only
after its own entry has committed: one entry per read, in the order the reads were
queued, and a failed commit fails every read that waited on it, leaving no entry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from notary.crypto import sm3
from notary.entries import decode_entry
from tests._support import notary_api as n
from tests._support.api import Cast
from transfer.db.models import LogLeaf, ReadLogEntry
from transfer.services.group_commit import GroupCommit
from transfer.services.reads import LoggedRead, write_reads

READS = 8


@dataclass
class Gated:
    """The app's read log, rebuilt around ``write_reads`` so the test can hold the first
    commit until every other read is queued behind it, and see each batch."""

    app_state: Any
    fail: bool = False
    gate: threading.Event = field(default_factory=threading.Event)
    arrived: int = 0
    batches: list[list[tuple[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.group: GroupCommit[LoggedRead, int] = GroupCommit(
            self.app_state.write_sessions, self._write
        )

    def __call__(self, read: LoggedRead) -> int:
        with self.lock:
            self.arrived += 1
        return self.group(read)

    def _write(self, session: Session, reads: Sequence[LoggedRead]) -> list[int]:
        self.gate.wait(timeout=30)
        self.batches.append([(str(row.material_id), row.purpose) for row, _ in reads])
        if self.fail:

            def refuse(_: Session) -> None:
                raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

            event.listen(session, "before_commit", refuse)
        return write_reads(session, reads)


@pytest.fixture
def gated(nclient: TestClient, monkeypatch: pytest.MonkeyPatch) -> Gated:
    state = nclient.app.state.notary  # type: ignore[attr-defined]
    # Every read verifies at once (the default admits 4 per process), so all of them
    # reach the log while the first commit is held.
    state.content_reads.total_tokens = READS
    g = Gated(state)
    monkeypatch.setattr(state, "read_log", g)
    return g


@pytest.fixture
def materials(nclient: TestClient, ncast: Cast) -> list[str]:
    vol = n.new_volume(nclient, ncast.operator)
    ids = [
        n.upload(nclient, ncast.operator, vol, n.pdf(f"并发{i}")).json()["id"] for i in (1, 2, 3)
    ]
    for mid in ids:
        n.wait_receipt(nclient, ncast.operator, mid)
    return ids


# Looked at through the app's read sessions: a write session (the ``db`` fixture) would
# hold SQLite's write lock, and the reads' commits would wait on the test.
def _log_size(gated: Gated) -> int:
    with gated.app_state.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(LogLeaf)) or 0)


def _entries(gated: Gated, leaves: list[int]) -> list[dict[str, Any]]:
    with gated.app_state.sessions() as s:
        return [
            decode_entry(s.scalars(select(LogLeaf.entry).where(LogLeaf.idx == leaf)).one())
            for leaf in leaves
        ]


def _read_leaves(gated: Gated) -> list[int | None]:
    with gated.app_state.sessions() as s:
        return list(s.scalars(select(ReadLogEntry.leaf_index)).all())


def _read_all(
    client: TestClient, cast: Cast, materials: list[str], gated: Gated
) -> list[httpx.Response]:
    """READS reads at once; the first commit is released only when all are queued."""
    answers: list[httpx.Response | None] = [None] * READS

    def read(i: int) -> None:
        answers[i] = client.get(
            f"/v1/materials/{materials[i % len(materials)]}/content",
            params={"purpose": f"审核{i}"},
            headers=cast.operator.headers,
        )

    threads = [threading.Thread(target=read, args=(i,)) for i in range(READS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while gated.arrived < READS and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # from arriving to queued: a few bytecodes
    gated.gate.set()
    for t in threads:
        t.join(timeout=60)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def test_concurrent_reads_share_commits_and_each_has_its_own_entry(
    nclient: TestClient, ncast: Cast, materials: list[str], gated: Gated
) -> None:
    before = _log_size(gated)
    answers = _read_all(nclient, ncast, materials, gated)
    assert [a.status_code for a in answers] == [200] * READS, [a.text for a in answers]
    # The first read's commit, held, then everyone who queued behind it: one more.
    assert [len(b) for b in gated.batches] == [1, READS - 1]
    assert (gated.group.batches, gated.group.items) == (2, READS)

    leaves = [int(a.headers["x-notary-read-leaf"]) for a in answers]
    assert len(set(leaves)) == READS
    assert _log_size(gated) == before + READS  # one entry per read, no more
    for i, (answer, entry) in enumerate(zip(answers, _entries(gated, leaves), strict=True)):
        assert entry["type"] == "material.read"
        assert entry["material_id"] == materials[i % len(materials)]
        assert entry["purpose"] == f"审核{i}"
        assert sm3(answer.content).hex() == answer.headers["x-content-sm3"]
    assert sorted(x for x in _read_leaves(gated) if x is not None) == sorted(leaves)

    # Each batch's entries are consecutive leaves, in the order the reads were queued.
    order = [(str(e["material_id"]), str(e["purpose"])) for e in _entries(gated, sorted(leaves))]
    assert order == [read for batch in gated.batches for read in batch]


def test_a_failed_commit_fails_every_read_waiting_on_it_and_writes_nothing(
    nclient: TestClient, ncast: Cast, materials: list[str], gated: Gated
) -> None:
    before, reads_before = _log_size(gated), len(_read_leaves(gated))
    gated.fail = True
    answers = _read_all(nclient, ncast, materials, gated)
    # Every read that waited on a failed commit is refused: none is answered for an
    # entry that was not written.
    assert [a.status_code for a in answers] == [503] * READS
    assert sum(len(b) for b in gated.batches) == READS
    assert (gated.group.batches, gated.group.items) == (0, 0)
    assert _log_size(gated) == before
    assert len(_read_leaves(gated)) == reads_before

    # The log goes on where it stood: the next read's entry is the next leaf, once.
    gated.fail = False
    again = nclient.get(
        f"/v1/materials/{materials[0]}/content",
        params={"purpose": "复核"},
        headers=ncast.operator.headers,
    )
    assert again.status_code == 200, again.text
    assert int(again.headers["x-notary-read-leaf"]) == before
    assert _log_size(gated) == before + 1


def test_a_reader_is_answered_only_after_its_entry_committed(
    nclient: TestClient, ncast: Cast, materials: list[str], gated: Gated
) -> None:
    answered = threading.Event()
    seen: list[int] = []

    def read() -> None:
        r = nclient.get(
            f"/v1/materials/{materials[0]}/content",
            params={"purpose": "审核"},
            headers=ncast.operator.headers,
        )
        seen.append(r.status_code)
        answered.set()

    t = threading.Thread(target=read)
    t.start()
    # The commit is held: the read has verified everything and still not answered.
    assert not answered.wait(timeout=1.0)
    assert gated.arrived == 1
    gated.gate.set()
    t.join(timeout=30)
    assert seen == [200]


def test_more_waiting_than_one_batch_holds_are_committed_in_several(
    engine_writes: Callable[[], Any],
) -> None:
    """``max_batch`` bounds a transaction; the rest wait for the next, in order."""
    written: list[list[int]] = []
    gate = threading.Event()

    def write(_: Session, items: Sequence[int]) -> list[int]:
        gate.wait(timeout=30)
        written.append(list(items))
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(engine_writes, write, max_batch=3)
    results: dict[int, int] = {}
    queued: list[threading.Thread] = []
    for i in range(8):
        t = threading.Thread(target=lambda i=i: results.__setitem__(i, group(i)))
        t.start()
        queued.append(t)
        time.sleep(0.02)  # queued in this order
    gate.set()
    for t in queued:
        t.join(timeout=30)
    assert results == {i: i * 10 for i in range(8)}
    assert all(len(b) <= 3 for b in written)
    assert [i for b in written for i in b] == list(range(8))


@pytest.fixture
def engine_writes(client: TestClient) -> Callable[[], Any]:
    return client.app.state.notary.write_sessions  # type: ignore[attr-defined,no-any-return]
