"""``notary volume``, ``receipt get``, ``read`` and ``verify --sm3 --rpc``: an operator's
day without curl, through the real service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clients.demo import sample_pdf
from notary.crypto import sm3
from tests._support.served import Service


def _env(service: Service, unit: str = "UNIT-A") -> dict[str, str]:
    return {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys[unit]}


def _ingest_one(cli: Any, env: dict[str, str], vol: str, tmp_path: Path, text: str) -> str:
    (tmp_path / "scans").mkdir(exist_ok=True)
    (tmp_path / "scans" / "cv.pdf").write_bytes(sample_pdf(text))
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "file,category,title,formation_date,pages\ncv.pdf,1,干部履历表,1990-07-01,2\n",
        encoding="utf-8",
    )
    r = cli(
        "ingest", tmp_path / "scans", "--volume", vol, "--manifest", manifest, "--json", env=env
    )
    assert r.code == 0, r.err
    return str(json.loads(r.out)["materials"][0]["material_id"])


def test_volume_create_list_show(service: Service, cli: Any, tmp_path: Path) -> None:
    a = _env(service)
    r = cli("volume", "create", "--cadre", "110101197001019999", "--kind", "正本", env=a)
    assert r.code == 0, r.err
    assert "案卷已建立" in r.out and "正本" in r.out
    vol = r.out.split("案卷已建立：", 1)[1].split("（", 1)[0]
    assert "110101197001019999" not in r.out  # the identifier is never shown back
    r = cli("volume", "create", "--cadre", "110101197001019999", env=a)
    assert r.code == 1 and r.err.count("\n") == 1 and "409" in r.err  # one 正本 per cadre
    r = cli("volume", "create", "--cadre", "110101197001019999", "--kind", "copy", "--json", env=a)
    assert r.code == 0, r.err
    copy = json.loads(r.out)
    assert copy["kind"] == "copy" and copy["status"] == "held"
    r = cli("volume", "create", "--cadre", "1", "--kind", "原件", env=a)
    assert r.code == 2 and "main（正本）或 copy（副本）" in r.err

    material = _ingest_one(cli, a, vol, tmp_path, "volume show")
    r = cli("volume", "list", "--json", env=a)
    assert r.code == 0, r.err
    ids = {v["id"] for v in json.loads(r.out)}
    assert {vol, copy["id"]} <= ids
    r = cli("volume", "list", "--kind", "copy", "--json", env=a)
    assert {v["kind"] for v in json.loads(r.out)} == {"copy"}
    r = cli("volume", "list", env=a)
    assert r.code == 0 and "本单位保管的案卷" in r.out and "在库" in r.out
    r = cli("volume", "show", vol, env=a)
    assert r.code == 0, r.err
    assert "材料目录" in r.out and "干部履历表" in r.out and "1-1-2" in r.out
    r = cli("volume", "show", vol, "--json", env=a)
    shown = json.loads(r.out)
    assert shown["volume"]["id"] == vol and [m["id"] for m in shown["materials"]] == [material]
    # Another unit does not see it (existence is not revealed).
    r = cli("volume", "show", vol, env=_env(service, "UNIT-B"))
    assert r.code == 1 and "404" in r.err and r.err.count("\n") == 1


def test_receipt_get_then_offline_verify_and_a_verified_read(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    a = _env(service)
    r = cli("volume", "create", "--cadre", "110101197001018888", "--json", env=a)
    vol = json.loads(r.out)["id"]
    material = _ingest_one(cli, a, vol, tmp_path, "receipt and read")
    original = (tmp_path / "scans" / "cv.pdf").read_bytes()

    rfile = tmp_path / "receipt.json"
    r = cli(
        "receipt", "get", material, "-o", rfile, "--wait", "30", "--rpc", service.rpc_url, env=a
    )
    assert r.code == 0, r.err
    assert "证据回执已保存" in r.out and "状态：已锚定" in r.out
    assert "本地核验通过" in r.out and "链上锚定已核验（通过）" in r.out
    # The saved receipt verifies with no service at all (the chain through the RPC).
    r = cli("verify", "--receipt", rfile, "--file", tmp_path / "scans" / "cv.pdf", "--json",
            "--rpc", service.rpc_url)  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["anchor"]["block_number"] > 0
    # An existing file is never overwritten; without -o the receipt goes to stdout.
    r = cli("receipt", "get", material, "-o", rfile, env=a)
    assert r.code == 2 and "文件已存在" in r.err
    r = cli("receipt", "get", material, env=a)
    assert r.code == 0 and json.loads(r.out)["leaf_index"] >= 0
    assert "链上锚定未核验：请以 --rpc" in r.err

    out = tmp_path / "read.pdf"
    r = cli(
        "read", material, "--out", out, "--purpose", "干部考察", "--rpc", service.rpc_url, env=a
    )
    assert r.code == 0, r.err
    assert out.read_bytes() == original
    assert "本地核验" in r.out and "链上锚定已核验（通过）" in r.out
    assert "已记入利用登记（利用目的：干部考察）" in r.out
    r = cli("provenance", "--material", material, "--json", env=a)
    reads = [i for i in json.loads(r.out)["items"] if i["kind"] == "read"]
    assert reads and reads[-1]["purpose"] == "干部考察"
    # Nothing is overwritten, nothing half-written: another unit's read fails and
    # leaves no file.
    r = cli("read", material, "--out", out, "--purpose", "审核", env=a)
    assert r.code == 2 and "文件已存在" in r.err
    other = tmp_path / "b.pdf"
    r = cli("read", material, "--out", other, "--purpose", "审核", env=_env(service, "UNIT-B"))
    assert r.code == 1 and r.err.count("\n") == 1 and not other.exists()
    assert not list(tmp_path.glob(".b.pdf.*"))
    r = cli("read", material, "--out", other, "--purpose", " ", env=a)
    assert r.code == 2 and "利用目的" in r.err


def test_verify_by_sm3_says_whether_the_chain_anchor_was_checked(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    a = _env(service)
    r = cli("volume", "create", "--cadre", "110101197001017777", "--json", env=a)
    vol = json.loads(r.out)["id"]
    material = _ingest_one(cli, a, vol, tmp_path, "anchor words")
    assert cli("receipt", "get", material, "--wait", "30", env=a).code == 0  # anchored
    digest = sm3((tmp_path / "scans" / "cv.pdf").read_bytes()).hex()
    r = cli("verify", "--sm3", digest, "--rpc", service.rpc_url, env=a)
    assert r.code == 0, r.err
    assert "链上锚定已核验（通过）：链 " in r.out and " 区块 " in r.out
    r = cli("verify", "--sm3", digest, "--rpc", service.rpc_url, "--json", env=a)
    data = json.loads(r.out)
    assert data["chain_checked"] and data["registrations"][0]["client_anchor"]["block_number"]
    r = cli("verify", "--sm3", digest, env=a)
    assert r.code == 0 and "链上锚定未核验：请以 --rpc" in r.out
    assert json.loads(cli("verify", "--sm3", digest, "--json", env=a).out)["chain_checked"] is False
    # An RPC endpoint of another chain (or none) is a failed check, not a pass.
    r = cli("verify", "--sm3", digest, "--rpc", "http://127.0.0.1:9", env=a)
    assert r.code == 1 and r.err.count("\n") == 1 and "[anchor]" in r.err
