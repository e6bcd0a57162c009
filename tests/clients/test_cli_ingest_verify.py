"""``notary ingest``, ``verify``, ``provenance`` and ``log`` end to end through the
real service."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from clients.demo import sample_pdf
from clients.sdk import NotaryAPIError
from notary.crypto import sm3
from tests._support.served import Service, new_volume, write_materials

MANIFEST_HEADER = "file,category,title,formation_date,pages,seq_no\n"


def _env(service: Service, unit: str = "UNIT-A") -> dict[str, str]:
    return {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys[unit]}


def test_ingest_a_directory_with_progress_summary_and_failed_rows(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol = new_volume(service)
    names = write_materials(tmp_path / "scans", 4)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        MANIFEST_HEADER
        + f"{names[0]},1,干部履历表,1990-07-01,2,\n"
        + f"{names[1]},4-1,学历学位材料,1994-07-01,1,\n"
        + "missing.pdf,1,不存在的文件,1995-01-01,1,\n"
        + f"{names[2]},11,错误类号,1995-01-01,1,\n"
        + f"{names[3]},1,干部履历表（续）,1996-01-01,3,\n"
        + f"{names[0]},2,坏日期,1996-13-01,1,\n",
        encoding="utf-8",
    )
    r = cli(
        "ingest", tmp_path / "scans", "--volume", vol, "--manifest", manifest, env=_env(service)
    )
    assert r.code == 1  # some rows failed; the others are registered
    assert "登记材料" in r.err and "6/6" in r.err  # the progress bar ran to the end
    assert "共 6 行，成功 3，失败 3" in r.out
    assert "文件不存在：missing.pdf" in r.out
    assert "不属于十大类" in r.out and "形成日期不存在" in r.out
    # 顺序号 were assigned per category in manifest order.
    r = cli("provenance", vol, "--json", env=_env(service))
    assert r.code == 0
    kinds = [i["kind"] for i in json.loads(r.out)["items"]]
    assert kinds.count("registered") == 3
    with service.client() as c:
        designations = sorted(m["designation"] for m in c.volume_materials(vol))
    assert designations == ["1-1-2", "1-2-3", "4-1-1-1"]
    r = cli("provenance", vol, env=_env(service))
    assert r.code == 0 and "来源时间线" in r.out and "材料登记" in r.out


def test_ingest_json_summary(service: Service, cli: Any, tmp_path: Path) -> None:
    vol = new_volume(service)
    names = write_materials(tmp_path / "d", 2)
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "file,category,title,formation_date,pages\n"
        f"{names[0]},1,履历表,1990-07-01,2\n{names[1]},1,履历表,1991-07-01,2\n",
        encoding="utf-8",
    )
    r = cli(
        "ingest",
        tmp_path / "d",
        "--volume",
        vol,
        "--manifest",
        manifest,
        "--json",
        env=_env(service),
    )
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["registered"] == 2 and summary["failed"] == 0
    assert [m["designation"] for m in summary["materials"]] == ["1-1-2", "1-2-2"]
    for m, name in zip(summary["materials"], names, strict=True):
        assert m["sm3"] == sm3((tmp_path / "d" / name).read_bytes()).hex()


def test_verify_a_file_an_sm3_and_a_receipt_offline(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol = new_volume(service)
    f = tmp_path / "diploma.pdf"
    f.write_bytes(sample_pdf("verify me"))
    with service.client() as c:
        up = c.upload_material(
            vol, f, category="4-1", seq_no=1, pages=1, title="学位证书", formation_date="2001-07-01"
        )
        receipt = c.receipt(str(up.material["id"]), wait=30)
    assert receipt.anchored
    r = cli("verify", f, "--rpc", service.rpc_url, env=_env(service))
    assert r.code == 0, r.err
    assert "已登记" in r.out and "回执已在本地核验" in r.out
    r = cli("verify", "--sm3", "00" * 32, env=_env(service))
    assert r.code == 1 and "未登记" in r.out
    rfile = tmp_path / "receipt.json"
    rfile.write_text(json.dumps(receipt.document), encoding="utf-8")
    # Offline: no service, no key needed; the chain through the read-only RPC.
    r = cli("verify", "--receipt", rfile, "--file", f, "--rpc", service.rpc_url, "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["valid"] and report["material_checked"] and report["anchor"]["block_number"]
    other = tmp_path / "other.pdf"
    other.write_bytes(sample_pdf("not the same"))
    r = cli("verify", "--receipt", rfile, other)
    assert r.code == 1 and r.err.count("\n") == 1 and "[entry]" in r.err  # POST /v1/verify's id
    # A clerk reads what failed and what to do, each check as a sentence; the service's
    # wording only under 详情, and no Python class name or raw dict anywhere.
    assert "材料文件与回执登记的不是同一份文件" in r.err
    assert "✗ 材料：材料文件与回执登记的不是同一份文件" in r.out and "✓ 格式" in r.out
    head, _, detail = r.out.partition("详情")
    assert detail and not re.search(r"[A-Za-z]{3,}", head.replace("SM3", "")), head
    assert "EntryMismatch" not in r.out + r.err and "{" not in r.out + r.err
    r = cli("verify", "--receipt", rfile, "--file", f)  # offline checks pass, no --rpc
    assert r.code == 0, r.err
    assert r.out.startswith("离线核验通过；链上锚定未核验")
    assert "✓ 材料：材料文件的 SM3 与回执登记的一致" in r.out and "? 链上锚定" in r.out
    head = r.out.partition("详情")[0]
    assert not re.search(r"[A-Za-z]{3,}", head.replace("SM3", "").replace("--log-key", "")
                         .replace("--rpc", "")), head  # fmt: skip
    r = cli("verify", "--receipt", rfile, "--file", f, "--rpc", service.rpc_url)
    assert r.code == 0 and r.out.startswith("回执有效") and "✓ 链上锚定" in r.out, r.out

    # The SDK sends a receipt file's bytes as they are: the service's strict reader sees
    # a repeated key (the wrong leaf_index first, the right one last) and refuses it.
    raw = rfile.read_bytes()
    right = f'"leaf_index": {receipt.document["leaf_index"]}'.encode()
    twice = raw.replace(right, b'"leaf_index": 0, ' + right)
    assert twice != raw
    with service.client() as c:
        assert c.verify_receipt(raw, sm3(f.read_bytes()).hex())["valid"] is True
        with pytest.raises(NotaryAPIError) as caught:
            c.verify_receipt(twice)
    assert caught.value.status == 422 and caught.value.problem["check"] == "format"


def test_log_checkpoints_and_monitor(service: Service, cli: Any, tmp_path: Path) -> None:
    vol = new_volume(service)
    names = write_materials(tmp_path / "x", 2)
    with service.client() as c:
        for i, name in enumerate(names, 1):
            up = c.upload_material(
                vol,
                tmp_path / "x" / name,
                category="3",
                seq_no=i,
                pages=1,
                title="鉴定材料",
                formation_date="2000-01-01",
            )
            rr = c.receipt(str(up.material["id"]), wait=30)
    assert rr.document is not None
    r = cli("log", "checkpoints", "--json", "--anchored", env=_env(service))
    assert r.code == 0
    cps = json.loads(r.out)
    assert cps and all(cp["status"] == "anchored" for cp in cps)
    r = cli("log", "checkpoints", env=_env(service))
    assert r.code == 0 and "已锚定" in r.out
    log_key = rr.document["log_public_key"]  # pinned: its fingerprint is the checkpoints'
    r = cli("log", "monitor", "--json", "--log-key", log_key, env=_env(service))
    assert r.code == 0, r.out + r.err
    report = json.loads(r.out)
    assert report["ok"] and report["chain_checked"] and report["signatures_checked"]
    assert report["pairs_checked"] >= 1
    r = cli("log", "monitor", "--log-key", "ab" * 64, env=_env(service))
    assert r.code != 0


def test_unit_list_json(service: Service, cli: Any, tmp_path: Path) -> None:
    r = cli("unit", "list", "--home", service.home, "--json")
    assert r.code == 0, r.err
    units = {u["code"]: u for u in json.loads(r.out)}
    assert {"CENTRE", "UNIT-A", "UNIT-B"} <= set(units) and units["UNIT-A"]["hosted_key"]
    r = cli("unit", "list", "--home", tmp_path)
    assert r.code == 2 and "不是部署目录" in r.err
