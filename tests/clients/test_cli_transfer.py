"""``notary transfer``: create → send → inbox → accept (回执) / export → import → reject,
between two units of one deployment, through the real service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clients.sdk import NotFound
from tests._support.served import Service, new_volume, write_materials


def _env(service: Service, unit: str) -> dict[str, str]:
    return {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys[unit]}


def _volume_with_materials(service: Service, tmp_path: Path, n: int = 2) -> str:
    vol = new_volume(service, "UNIT-A")
    names = write_materials(tmp_path / vol, n)
    with service.client("UNIT-A") as c:
        for i, name in enumerate(names, 1):
            up = c.upload_material(
                vol,
                tmp_path / vol / name,
                category="1",
                seq_no=i,
                pages=1,
                title=f"履历材料{i}",
                formation_date="1999-01-01",
            )
        c.receipt(str(up.material["id"]), wait=30)
    return vol


def _create_and_send(service: Service, cli: Any, vol: str, no: str) -> str:
    a = _env(service, "UNIT-A")
    r = cli(
        "transfer",
        "create",
        "--to",
        "UNIT-B",
        "--volume",
        vol,
        "--reason",
        "干部调动",
        "--no",
        no,
        "--json",
        env=a,
    )
    assert r.code == 0, r.err
    t = json.loads(r.out)
    assert t["state"] == "created" and t["receiver"] == "UNIT-B"
    r = cli("transfer", "send", t["transfer_id"], env=a)
    assert r.code == 0, r.err
    assert "已转出" in r.out
    return str(t["transfer_id"])


def test_send_inbox_accept_moves_custody(service: Service, cli: Any, tmp_path: Path) -> None:
    vol = _volume_with_materials(service, tmp_path)
    tid = _create_and_send(service, cli, vol, "组转字〔2025〕12号")
    b = _env(service, "UNIT-B")
    r = cli("transfer", "inbox", "--json", env=b)
    assert r.code == 0, r.err
    mine = [t for t in json.loads(r.out) if t["transfer_id"] == tid]
    assert mine and mine[0]["state"] == "dispatched" and mine[0]["sender"] == "UNIT-A"
    r = cli("transfer", "inbox", env=b)
    assert r.code == 0 and "收件箱" in r.out and tid in r.out
    r = cli("transfer", "inbox", "--outgoing", "--json", env=_env(service, "UNIT-A"))
    assert tid in {t["transfer_id"] for t in json.loads(r.out)}
    r = cli("transfer", "accept", tid, env=b)
    assert r.code == 0, r.err
    assert "四性检测结果" in r.out and "已签署回执" in r.out
    with service.client("UNIT-B") as c:
        assert c.get_volume(vol)["id"] == vol  # UNIT-B holds it now
        assert c.get_transfer(tid)["state"] == "received"
    with service.client("UNIT-A") as c, pytest.raises(NotFound):
        c.get_volume(vol)


def test_export_import_offline_then_reject(service: Service, cli: Any, tmp_path: Path) -> None:
    vol = _volume_with_materials(service, tmp_path, 1)
    tid = _create_and_send(service, cli, vol, "组转字〔2025〕13号")
    tar = tmp_path / "package.tar"
    r = cli("transfer", "export", tid, "--out", tar, env=_env(service, "UNIT-A"))
    assert r.code == 0, r.err
    assert tar.stat().st_size > 0
    b = _env(service, "UNIT-B")
    r = cli("transfer", "export", tid, "--out", tmp_path / "b.tar", env=b)
    assert r.code == 1 and r.err.count("\n") == 1  # only the sender exports
    assert not (tmp_path / "b.tar").exists()
    r = cli("transfer", "import", tar, "--json", env=b)  # the id is read from bag-info.txt
    assert r.code == 0, r.err
    assert json.loads(r.out)["state"] == "delivered"
    r = cli("transfer", "reject", tid, "--reason", "材料不齐全", env=b)
    assert r.code == 0, r.err
    assert "已拒收" in r.out
    with service.client("UNIT-A") as c:
        assert c.get_volume(vol)["id"] == vol  # custody stays with the sender
        assert c.get_transfer(tid)["state"] == "rejected"
