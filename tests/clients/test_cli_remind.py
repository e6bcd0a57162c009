"""``notary transfer remind`` (催办) and the service's Chinese refusals, through the real
CLI against the real service; times in the deployment's zone, labelled."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests._support.served import Service
from tests.clients.test_cli_transfer import _create_and_send, _env, _volume_with_materials

TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}（北京时间）")


def _dispatched_days_ago(service: Service, transfer_id: str, days: int) -> None:
    """Time passes: the dispatch moved back (the service keeps no clock of its own)."""
    when = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S.000000")
    with sqlite3.connect(service.home / "notary.db") as db:
        db.execute(
            "UPDATE transfers SET dispatched_at = ?, created_at = ? WHERE transfer_id = ?",
            (when, when, transfer_id),
        )


def test_the_sender_chases_an_overdue_transfer_from_the_cli(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    a, b = _env(service, "UNIT-A"), _env(service, "UNIT-B")
    vol = _volume_with_materials(service, tmp_path, 1)
    tid = _create_and_send(service, cli, vol, "组转字〔2026〕催办1号")

    # Not late yet: refused, in Chinese, naming the receiver's deadline in local time.
    r = cli("transfer", "remind", tid, env=a)
    assert r.code == 1 and r.err.count("\n") == 1, r.err
    assert "尚未逾期，不能催办" in r.err and TIME.search(r.err), r.err
    # The receiver does not chase; a stranger does not see the transfer.
    r = cli("transfer", "remind", tid, env=b)
    assert r.code == 1 and "只有转出单位" in r.err and "403" in r.err, r.err
    r = cli("transfer", "remind", "no-such-transfer", env=a)
    assert r.code == 1 and "不存在" in r.err and "404" in r.err, r.err

    _dispatched_days_ago(service, tid, 40)
    r = cli("transfer", "remind", tid, "--note", "请尽快签收", env=a)
    assert r.code == 0, r.err
    assert r.out.startswith(f"已催办：{tid}") and "第 1 次" in r.out and TIME.search(r.out)
    r = cli("transfer", "remind", tid, "--json", env=a)
    assert r.code == 0, r.err
    reminders = json.loads(r.out)["reminders"]
    assert [x["note"] for x in reminders] == ["请尽快签收", None]

    # The receiver sees it: in its inbox and in the transfer's story.
    r = cli("transfer", "inbox", env=b)
    assert r.code == 0, r.err
    assert "催办" in r.out and "2 次" in r.out, r.out  # the 催办 column
    r = cli("transfer", "show", tid, env=b)
    assert r.code == 0, r.err
    assert "转出单位已催办 2 次" in r.out and "附言：请尽快签收" in r.out, r.out
    assert "催办（已转出）" in r.out and "转出经办人：未登记" in r.out
    for line in r.out.splitlines():
        if line.startswith("  20"):  # a timeline line starts with its time
            assert TIME.match(line.strip()), line


def test_a_validation_refusal_names_the_field_and_the_problem_in_chinese(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol = _volume_with_materials(service, tmp_path, 1)
    r = cli("transfer", "create", "--to", "UNIT-B", "--volume", vol, "--reason", "干部调动",
            "--no", "号" * 65, env=_env(service, "UNIT-A"))  # fmt: skip
    assert r.code == 1 and r.err.count("\n") == 1, r.err
    assert "填写有误，请检查：转递编号（最多 64 个字符）" in r.err, r.err
    assert not re.search(r"[A-Za-z]{3,}", r.err.replace("notary", "")), r.err
