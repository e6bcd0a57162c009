"""Faults against a real ``notary serve`` (a uvicorn child process on 127.0.0.1): kill -9
at random points, the chain node, the IPFS node and the database connection taken away
under load. The suite's share is bounded (about 4 minutes on an idle 2-core machine:
20 kill -9 trials ~100 s, 5 kill -9 trials inside transfer steps ~50 s, anvil down
20 s, js-ipfs down 3 s); the long campaign is ``python -m tests.faults.campaign``
(README, developer notes).

Seeds: ``NOTARY_FAULT_SEED`` replays a kill -9 run; each trial prints its own seed.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.faults import scenarios

pytestmark = pytest.mark.faults

KILL_TRIALS = int(os.environ.get("NOTARY_FAULT_TRIALS", "20"))
TRANSFER_TRIALS = int(os.environ.get("NOTARY_FAULT_TRANSFER_TRIALS", "5"))


def test_kill_9_at_random_points_loses_nothing_acknowledged(tmp_path: Path) -> None:
    seed = int(os.environ.get("NOTARY_FAULT_SEED", random.randrange(1 << 30)))
    print(f"kill -9 campaign seed {seed} ({KILL_TRIALS} trials)")
    report = scenarios.kill9(tmp_path, trials=KILL_TRIALS, seed=seed)
    assert len(report.trials) == KILL_TRIALS
    assert {t.phase for t in report.trials} == {"ingest", "anchoring"} or KILL_TRIALS < 3
    assert report.final is not None
    assert report.final.acknowledged == sum(t.acked for t in report.trials)


def test_kill_9_inside_transfer_steps_leaves_state_and_chain_agreeing(tmp_path: Path) -> None:
    seed = int(os.environ.get("NOTARY_FAULT_SEED", random.randrange(1 << 30)))
    print(f"kill -9 transfer campaign seed {seed} ({TRANSFER_TRIALS} trials)")
    report = scenarios.kill9_transfer(tmp_path, trials=TRANSFER_TRIALS, seed=seed)
    assert len(report.trials) == TRANSFER_TRIALS
    # The first five trials kill inside dispatch, receipt, rejection, package, deliver;
    # the first three the moment their transaction is on chain.
    steps = [(t.step, t.answer if t.step == "answer" else "") for t in report.trials]
    assert steps[:3] == [("dispatch", ""), ("answer", "accept"), ("answer", "reject")]
    assert report.final is not None


@pytest.mark.node
def test_chain_node_down_uploads_go_on_and_every_checkpoint_is_anchored_once(
    tmp_path: Path,
) -> None:
    report = scenarios.chain_down(tmp_path, down_s=20)
    assert report.acked_during > 0
    assert set(report.statuses) == {201}


@pytest.mark.node
def test_ipfs_node_down_answers_503_and_recovers(tmp_path: Path) -> None:
    report = scenarios.ipfs_down(tmp_path, down_s=3)
    assert report.down_answers["upload 503"] > 0


def test_database_connections_dropped_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    report = scenarios.db_drop(tmp_path, rounds=5)
    assert report.terminated > 0
    assert report.statuses.get(201, 0) > 0
