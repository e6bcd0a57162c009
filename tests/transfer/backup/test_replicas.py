"""A deployment with a content replica (service.json ``replicas``, ``replica_acks``):
uploads are acknowledged after two copies, /v1/health shows the replicas, a damaged
replica block is found and repaired by ``notary replicas check``, and with the primary
store deleted, verified reads continue from the replica."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.sdk import NotaryClient
from notary.store import LocalStore
from tests._support.served import ServeProcess
from tests.transfer.backup._support import new_volume_at, scan, upload


@pytest.mark.slow
def test_replica_serves_when_the_primary_is_lost_and_check_repairs_copies(
    cli: Any, tmp_path: Path
) -> None:
    home, mirror = tmp_path / "home", tmp_path / "disk2" / "blocks"
    assert cli("init", "--home", home).code == 0
    key = cli("unit", "add", "--home", home, "UNIT-A", "甲单位").out.split()[-1]
    service = json.loads((home / "service.json").read_text())
    service.update(replicas=[str(mirror)], replica_acks=2)
    (home / "service.json").write_text(json.dumps(service))

    with ServeProcess(home) as served, NotaryClient(served.url, key, rpc_url=served.rpc_url) as c:
        vol = new_volume_at(c)
        ups = [upload(c, vol, scan(tmp_path / "scans", i), i + 1) for i in range(2)]
        replica = LocalStore(mirror)
        assert all(replica.is_pinned(m["cid"]) for m in ups)  # acknowledged after 2 copies
        health = httpx.get(f"{served.url}/v1/health").json()
        assert health["checks"]["replicas"]["status"] == "ok"
        assert health["checks"]["replicas"]["detail"]["up"] == 2

        block = replica.block_path(ups[0]["cid"])
        block.write_bytes(b"\x00" + block.read_bytes()[1:])
        r = cli("replicas", "check", "--home", home)
        assert r.code == 0, r.out + r.err
        assert "已修复" in r.out and ups[0]["cid"] in r.out and "结论：全部副本完好" in r.out
        assert replica.get(ups[0]["cid"])  # verifies again

        shutil.rmtree(home / "blocks")  # the primary disk is lost
        # One store of the two an upload needs: uploads wait, reads go on.
        replicas = httpx.get(f"{served.url}/v1/health").json()["checks"]["replicas"]
        assert replicas["status"] == "down" and replicas["detail"]["up"] == 1
        for m in ups:
            got = c.download(m["id"], "主存储丢失后读取", wait=30)
            assert got.sm3 == m["sm3"] and "anchor" in got.client_checks

        r = cli("replicas", "check", "--home", home, "--no-repair")
        assert r.code == 1 and "缺失" in r.out
        r = cli("replicas", "check", "--home", home)
        assert r.code == 0 and LocalStore(home / "blocks").get(ups[1]["cid"])


def test_replicas_check_without_replicas_says_so(cli: Any, tmp_path: Path) -> None:
    assert cli("init", "--home", tmp_path / "home").code == 0
    r = cli("replicas", "check", "--home", tmp_path / "home")
    assert r.code == 2 and "未配置内容副本" in r.err


@pytest.mark.slow
def test_upload_below_the_copy_quorum_is_refused_and_health_says_down(
    cli: Any, tmp_path: Path
) -> None:
    from clients.sdk.errors import ServiceUnavailable
    from notary._internal.net import free_port

    home = tmp_path / "home"
    assert cli("init", "--home", home).code == 0
    key = cli("unit", "add", "--home", home, "UNIT-A", "甲单位").out.split()[-1]
    service = json.loads((home / "service.json").read_text())
    service.update(replicas=[f"http://127.0.0.1:{free_port()}"], replica_acks=2)
    (home / "service.json").write_text(json.dumps(service))
    with ServeProcess(home) as served, NotaryClient(served.url, key) as c:
        replicas = httpx.get(f"{served.url}/v1/health").json()["checks"]["replicas"]
        assert replicas["status"] == "down" and replicas["detail"]["up"] == 1
        vol = new_volume_at(c)
        with pytest.raises(ServiceUnavailable) as refused:
            upload(c, vol, scan(tmp_path / "scans", 0), 1)
        assert refused.value.status == 503
        assert c.volume_materials(vol) == []
