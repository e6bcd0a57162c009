"""A damaged courier copy does not force a whole new transfer (another copy of the same
package is imported and verified again), and a rejected transfer is re-sent: over HTTP
and through ``notary transfer show|verify|return|resend``, against the real service."""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests._support.served import Service
from tests.clients.test_cli_transfer import _create_and_send, _env, _volume_with_materials


def _anchored_past(c: Any, leaf: int) -> None:
    deadline = time.monotonic() + 30
    while c.latest_checkpoint(anchored=True)["checkpoint"]["checkpoint"]["tree_size"] <= leaf:
        assert time.monotonic() < deadline, "no anchored checkpoint covers the last step"
        time.sleep(0.2)


def _damaged_copy(good: bytes, tmp_path: Path) -> bytes:
    """The package tar with one byte of a sealed material flipped (the bag's tag files
    intact: the copy is taken in, and the 四性 verification finds the damage)."""
    path = tmp_path / "good.tar"
    path.write_bytes(good)
    with tarfile.open(path) as tar:
        member = next(m for m in tar if m.isfile() and "/data/materials/" in m.name)
    data = bytearray(good)
    data[member.offset_data + 7] ^= 0x01
    return bytes(data)


def test_a_damaged_copy_is_replaced_by_another_copy_of_the_same_package(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol = _volume_with_materials(service, tmp_path, 1)
    tid = _create_and_send(service, cli, vol, "组转字〔2025〕21号")
    a = {"Authorization": f"Bearer {service.keys['UNIT-A']}"}
    b = {"Authorization": f"Bearer {service.keys['UNIT-B']}"}
    tar = {**b, "Content-Type": "application/x-tar"}
    base = f"{service.url}/v1/transfers/{tid}"
    with httpx.Client(timeout=60) as http:
        good = http.get(f"{base}/package.tar", headers=a)
        assert good.status_code == 200
        damaged = _damaged_copy(good.content, tmp_path)

        r = http.post(f"{base}/import", headers=tar, content=damaged)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "delivered"
        # Before a verification, a repeated import (a retried request) delivers nothing.
        r = http.post(f"{base}/import", headers=tar, content=good.content)
        assert r.status_code == 409 and r.json()["state"] == "delivered"
        # Through the CLI: exit 1, and stderr names each failed check in words and by id.
        r = cli("transfer", "verify", tid, env=_env(service, "UNIT-B"))
        assert r.code == 1, r.err
        assert "四性检测未通过的检测项" in r.err
        assert "真实性「清单摘要」不通过（检测项 manifest：altered in transit" in r.err, r.err
        assert "检测项 gcm-tag" in r.err
        report = http.get(f"{base}/report", headers=b).json()
        assert not report["accepted"]
        failures = [f for m in report["results"]["materials"] for f in m["failures"]]
        assert failures  # the flipped byte is found
        # No 回执 on a failed verification...
        assert http.post(f"{base}/receipt", headers=b).status_code == 409

        # ...but another copy of the same package may be taken in and verified again.
        r = http.post(f"{base}/import", headers=tar, content=good.content)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "delivered"
        assert http.get(f"{base}/report", headers=b).status_code == 409  # cleared
        r = http.post(f"{base}/verify", headers=b)
        assert r.status_code == 200
        assert http.get(f"{base}/report", headers=b).json()["accepted"]
        # Once a verification passed, no other copy replaces the verified one.
        r = http.post(f"{base}/import", headers=tar, content=damaged)
        assert r.status_code == 409 and r.json()["rule"] == "verified-ok"
        # A copy of another package (a different root) is refused, as before.
        assert http.post(f"{base}/import", headers=tar, content=b"not a tar").status_code == 409

        timeline = http.get(f"{base}/timeline", headers=b).json()
        steps = [(e["event"], e["to"], e["detail"]) for e in timeline["events"]]
        received = [s for s in steps if s[0] in ("deliver", "verify")]
        assert [(e, to) for e, to, _ in received] == [
            ("deliver", "delivered"),
            ("verify", "verified"),
            ("deliver", "delivered"),
            ("verify", "verified"),
        ]
        assert received[1][2]["accepted"] is False  # the failed attempt stays
        assert received[2][2] == {"mode": "offline", "again": True}
        assert received[3][2]["accepted"] is True
        assert all(e["leaf_index"] is not None for e in timeline["events"])

        r = http.post(f"{base}/receipt", headers=b)
        assert r.status_code == 201 and r.json()["state"] == "received"

    r = cli("transfer", "show", tid, env=_env(service, "UNIT-B"))
    assert r.code == 0, r.err
    assert (
        "另一份转递包，替换检测未通过的一份" in r.out and "未通过（1 件材料有检测项失败）" in r.out
    )
    assert "全部通过" in r.out and "已签收" in r.out


def test_verify_then_reject_show_return_and_resend(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    a, b = _env(service, "UNIT-A"), _env(service, "UNIT-B")
    vol = _volume_with_materials(service, tmp_path, 1)
    tid = _create_and_send(service, cli, vol, "组转字〔2025〕22号")
    r = cli("transfer", "verify", tid, env=b)  # online delivery, then 四性
    assert r.code == 0, r.err
    assert "四性检测结果" in r.out and "可签署回执" in r.out
    assert cli("transfer", "reject", tid, "--reason", "缺少学历证明", env=b).code == 0
    r = cli("transfer", "resend", tid, env=b)  # only the sender re-sends
    assert r.code == 1 and "403" in r.err and r.err.count("\n") == 1

    r = cli("transfer", "show", tid, env=a)
    assert r.code == 0, r.err
    assert "已拒收" in r.out and "理由：缺少学历证明" in r.out and "链上保管状态" in r.out
    r = cli("transfer", "return", tid, env=a)
    assert r.code == 0, r.err
    assert "已办理退回" in r.out and f"notary transfer resend {tid}" in r.out
    r = cli("transfer", "return", tid, env=a)
    assert r.code == 1 and "409" in r.err

    r = cli("transfer", "resend", tid, "--no", "组转字〔2025〕22号之二", "--json", env=a)
    assert r.code == 0, r.err
    resent = json.loads(r.out)
    new = resent["transfer"]
    assert not resent["returned"] and resent["resend_of"] == tid
    assert new["state"] == "dispatched" and new["transfer_id"] != tid
    assert new["transfer_no"] == "组转字〔2025〕22号之二" and new["receiver"] == "UNIT-B"
    assert list(new["chain_volumes"]) == [vol]
    r = cli("transfer", "resend", tid, env=a)
    assert r.code == 1 and "409" in r.err and new["transfer_id"] in r.err  # once

    r = cli("transfer", "show", tid, "--json", env=a)
    old = json.loads(r.out)
    assert old["transfer"]["state"] == "returned"
    events = [e["event"] for e in old["timeline"]["events"]]
    assert events[-3:] == ["reject", "return", "resend"]
    assert old["timeline"]["events"][-1]["detail"] == {"resent_as": new["transfer_id"]}
    r = cli("transfer", "show", new["transfer_id"], env=a)
    assert f"重新转递自 {tid}" in r.out

    r = cli("transfer", "accept", new["transfer_id"], env=b)
    assert r.code == 0, r.err
    with service.client("UNIT-B") as c:
        assert c.get_volume(vol)["id"] == vol  # the re-sent transfer moved custody
    # The auditor re-derives every step of both transfers (the resend record included)
    # from its row and finds it in the anchored log; custody agrees with the chain.
    with service.client("UNIT-B") as c:
        last = max(e["leaf_index"] for e in c.transfer_timeline(new["transfer_id"])["events"])
        _anchored_past(c, last)
    r = cli("audit", "--home", service.home, "--volume", vol, "--out", tmp_path / "audit",
            "--json", "--rpc", service.rpc_url)  # fmt: skip
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["summary"]["result"] == "通过"


def test_resend_of_a_rejected_transfer_returns_it_first(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    a, b = _env(service, "UNIT-A"), _env(service, "UNIT-B")
    vol = _volume_with_materials(service, tmp_path, 1)
    tid = _create_and_send(service, cli, vol, "组转字〔2025〕23号")
    r = cli("transfer", "resend", tid, env=a)
    assert r.code == 1 and "409" in r.err  # dispatched: nothing to re-send
    assert cli("transfer", "reject", tid, "--reason", "材料不齐全", env=b).code == 0
    r = cli("transfer", "resend", tid, "--no-send", env=a)
    assert r.code == 0, r.err
    assert "已办理退回" in r.out and "已重新转递" in r.out and "notary transfer send" in r.out
    with service.client("UNIT-A") as c:
        old = c.get_transfer(tid)
        new = [
            t
            for t in c.list_transfers(role="outgoing", state="created")
            if t["notice"]["volumes"][0]["volume_id"] == vol
        ]
    assert old["state"] == "returned" and len(new) == 1
    assert new[0]["transfer_no"] == "组转字〔2025〕23号"  # the same number by default
