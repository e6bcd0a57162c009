"""``notary backup`` while uploads run, ``notary restore`` into a new home: the restored
deployment serves, and every material acknowledged before the backup's checkpoint reads
back verified (content SM3, receipt, chain anchor on the restored chain). A backup with
one byte changed — in the database or in a content block — is refused, naming the check.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clients.sdk import NotaryClient
from tests._support.served import (
    ServeProcess,
    Service,
    new_volume,
    running_service,
    write_materials,
)
from tests.transfer.backup._support import new_volume_at, scan, upload


@dataclass
class Taken:
    service: Service
    backup: Path
    manifest: dict[str, Any]
    acked: list[dict[str, Any]]  # every upload acknowledged (201) while the test ran
    before: list[dict[str, Any]]  # acknowledged, with the leaf inside the backup's checkpoint
    in_log: list[dict[str, Any]]  # acknowledged, with the leaf in the backup's log


@pytest.fixture(scope="module")
def taken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Taken]:
    """A served deployment, a backup taken while a client keeps uploading."""
    root = tmp_path_factory.mktemp("backup")
    scans = root / "scans"
    with running_service(root / "home") as svc:
        vol = new_volume(svc)
        acked: list[dict[str, Any]] = []
        with svc.client() as c:
            for i in range(3):
                acked.append(upload(c, vol, scan(scans, i), i + 1))
            c.receipt(acked[-1]["id"], wait=30)
        stop = threading.Event()

        def keep_uploading() -> None:
            with svc.client() as c2:
                i = 3
                while not stop.is_set():
                    acked.append(upload(c2, vol, scan(scans, i), i + 1))
                    i += 1
                    stop.wait(0.05)  # a steady trickle, not a flood: the test stays short

        uploader = threading.Thread(target=keep_uploading)
        uploader.start()
        try:
            at_start = len(acked)
            done = subprocess.run(
                [sys.executable, "-m", "clients.cli", "backup", "--home", str(svc.home),
                 "--to", str(root / "b1")],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            during = len(acked) - at_start
        finally:
            stop.set()
            uploader.join()
        assert done.returncode == 0, done.stderr
        assert "备份完成" in done.stdout and "覆盖的已锚定检查点：树大小" in done.stdout
        assert during >= 3  # uploads were acknowledged while the backup was taken
        manifest = json.loads((root / "b1" / "manifest.json").read_bytes())
        size = manifest["checkpoint"]["tree_size"]
        # The volume's custody registration is leaf 0; the first upload leaf 1.
        before = [m for m in acked if m["leaf_index"] < size]
        in_log = [m for m in acked if m["leaf_index"] < manifest["log_size"]]
        print(
            f"acked {len(acked)} ({during} during the backup), checkpoint {size}, "
            f"log {manifest['log_size']}, before {len(before)}, in log {len(in_log)}"
        )
        yield Taken(svc, root / "b1", manifest, acked, before, in_log)


def _restore(cli: Any, backup: Path, home: Path, service: Service) -> Any:
    passphrase = service.home / "keys" / "passphrase"
    return cli("restore", "--from", backup, "--home", home, "--passphrase-file", passphrase)


@pytest.mark.slow
def test_restored_deployment_serves_everything_acknowledged_before_its_checkpoint(
    taken: Taken, cli: Any, tmp_path: Path
) -> None:
    assert len(taken.before) >= 3
    r = _restore(cli, taken.backup, tmp_path / "restored", taken.service)
    print(r.out)
    assert r.code == 0, r.out + r.err
    assert "与链上锚定一致" in r.out and "结论：通过" in r.out and "已自证" in r.out
    with (
        ServeProcess(tmp_path / "restored") as served,
        NotaryClient(served.url, taken.service.keys["UNIT-A"], rpc_url=served.rpc_url) as c,
    ):
        # The embedded chain was backed up first, the database after it: what the
        # database holds beyond the checkpoint is anchored again at restore.
        assert {m["id"] for m in taken.before} <= {m["id"] for m in taken.in_log}
        for m in taken.in_log:
            got = c.download(m["id"], "恢复演练核验", wait=30)
            assert got.sm3 == m["sm3"]
            assert got.receipt is not None and got.receipt.anchored
            assert "anchor" in " ".join(got.client_checks)
        # The restored deployment takes new work and anchors it.
        vol = new_volume_at(c)
        new = upload(c, vol, scan(tmp_path, 10_000), 1)
        assert c.receipt(new["id"], wait=30).anchored


def _tampered_copy(taken: Taken, tmp_path: Path, rel: str) -> Path:
    copy = tmp_path / "tampered"
    shutil.copytree(taken.backup, copy)
    target = copy / rel
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    return copy


def test_one_byte_changed_in_the_database_is_refused(
    taken: Taken, cli: Any, tmp_path: Path
) -> None:
    copy = _tampered_copy(taken, tmp_path, "db/notary.db")
    r = _restore(cli, copy, tmp_path / "restored", taken.service)
    assert r.code == 2
    assert "拒绝恢复 [文件摘要]" in r.err and "db/notary.db" in r.err
    assert not (tmp_path / "restored").exists()  # nothing written


def test_one_byte_changed_in_a_content_block_is_refused(
    taken: Taken, cli: Any, tmp_path: Path
) -> None:
    block = next(k for k in taken.manifest["files"] if k.startswith("blocks/blocks/"))
    copy = _tampered_copy(taken, tmp_path, block)
    r = _restore(cli, copy, tmp_path / "restored", taken.service)
    assert r.code == 2
    assert "拒绝恢复 [文件摘要]" in r.err and block in r.err


@pytest.mark.parametrize(
    "rel", ["home/deployment.json", "home/keys/log.pem", "home/keys/units/UNIT-A.pem",
            "chain/chain.sqlite", "home/secrets/blinding.key"],
)  # fmt: skip
def test_one_byte_changed_in_any_other_file_is_refused_naming_it(
    taken: Taken, cli: Any, tmp_path: Path, rel: str
) -> None:
    copy = _tampered_copy(taken, tmp_path, rel)
    r = _restore(cli, copy, tmp_path / "restored", taken.service)
    assert r.code == 2
    assert "拒绝恢复 [文件摘要]" in r.err and rel in r.err


def test_a_manifest_rewritten_to_match_is_refused_by_its_signature(
    taken: Taken, cli: Any, tmp_path: Path
) -> None:
    from notary.canonical import canonical_json
    from notary.crypto import sm3_file

    copy = _tampered_copy(taken, tmp_path, "db/notary.db")
    doc = json.loads((copy / "manifest.json").read_bytes())
    doc["files"]["db/notary.db"]["sm3"] = sm3_file(copy / "db/notary.db").hex()
    (copy / "manifest.json").write_bytes(canonical_json(doc))
    r = _restore(cli, copy, tmp_path / "restored", taken.service)
    assert r.code == 2 and "拒绝恢复 [清单签名]" in r.err


def test_without_the_passphrase_restore_says_what_it_needs(
    taken: Taken, cli: Any, tmp_path: Path
) -> None:
    r = cli("restore", "--from", taken.backup, "--home", tmp_path / "restored")
    assert r.code == 2 and "--passphrase-file" in r.err


def test_incremental_backup_copies_only_new_blocks_and_restores(
    taken: Taken, cli: Any, tmp_path: Path
) -> None:
    svc = taken.service
    vol = new_volume(svc)
    scan = tmp_path / "inc.png"
    write_materials(tmp_path / "inc", 2, prefix="inc")
    shutil.copy(tmp_path / "inc" / "inc1.png", scan)
    with svc.client() as c:
        m = upload(c, vol, scan, 1)
        assert c.receipt(m["id"], wait=30).anchored
    inc = taken.backup.parent / "b1-inc"
    r = cli("backup", "--home", svc.home, "--to", inc, "--base", taken.backup)
    assert r.code == 0, r.out + r.err
    manifest = json.loads((inc / "manifest.json").read_bytes())
    copied = [k for k in manifest["files"] if k.startswith("blocks/blocks/")]
    assert manifest["inherited"] and all(v["from"] == "b1" for v in manifest["inherited"].values())
    assert 1 <= len(copied) < len(manifest["inherited"])
    r = _restore(cli, inc, tmp_path / "restored", svc)
    assert r.code == 0, r.out + r.err
    assert "结论：通过" in r.out
    # Without the base beside it, the incremental backup cannot be restored.
    lonely = tmp_path / "alone" / "b1-inc"
    shutil.copytree(inc, lonely)
    r = _restore(cli, lonely, tmp_path / "restored-2", svc)
    assert r.code == 2 and "[基础备份]" in r.err


def _resign(copy: Path, home: Path) -> dict[str, Any]:
    """List every file of a backup directory in its manifest again and sign it with the
    deployment's log key: a backup put together on purpose, as only the key holder can."""
    from notary.canonical import canonical_json
    from notary.crypto import SM2PrivateKey, sm3_file

    doc = json.loads((copy / "manifest.json").read_bytes())
    doc["files"] = {
        p.relative_to(copy).as_posix(): {"sm3": sm3_file(p).hex(), "size": p.stat().st_size}
        for p in sorted(copy.rglob("*"))
        if p.is_file() and p.name not in ("manifest.json", "manifest.sig")
    }
    data = canonical_json(doc)
    passphrase = (home / "keys" / "passphrase").read_bytes().strip()
    log_key = SM2PrivateKey.from_pem((home / "keys" / "log.pem").read_bytes(), passphrase)
    (copy / "manifest.sig").write_bytes(log_key.sign(data))
    (copy / "manifest.json").write_bytes(data)
    return dict(doc)


def test_checkpoints_anchored_after_the_chain_snapshot_are_anchored_again(
    taken: Taken, cli: Any, tmp_path: Path
) -> None:
    """The database is taken after the chain, so it may mark anchored a checkpoint the
    chain copy does not hold (anchored in between). Made wide on purpose here: the
    backup's chain with a newer database and its blocks. Restore anchors those
    checkpoints again on the restored chain (same size, same root) and every receipt
    verifies in the audit."""
    from transfer.backup.take import SQLITE_FILE, sqlite_snapshot

    svc = taken.service
    with svc.client() as c:
        m = upload(c, new_volume(svc), scan(tmp_path, 30_000), 1)
        assert c.receipt(m["id"], wait=30).anchored
    copy = tmp_path / "window"
    shutil.copytree(taken.backup, copy)
    sqlite_snapshot(svc.home / "notary.db", copy / SQLITE_FILE)
    shutil.copytree(svc.home / "blocks", copy / "blocks", dirs_exist_ok=True)
    _resign(copy, svc.home)

    r = _restore(cli, copy, tmp_path / "restored", svc)

    assert r.code == 0, r.out + r.err
    assert "已重新锚定备份时尚未上链的检查点" in r.out
    assert "结论：通过" in r.out and "已自证" in r.out


def test_entries_the_chain_proves_but_the_backup_lacks_are_reported_missing(
    taken: Taken, cli: Any, tmp_path: Path
) -> None:
    """The chain moved on after the backup, as an external chain does (here: the live
    deployment's newer chain put in a copy of the backup, signed again with the log
    key). The entries between the backup's log and the chain's newest anchor are
    reported, recorded as an alert, nothing is anchored over them, and restore exits 3."""
    from sqlalchemy import select

    from transfer.backup.restore import ALERT_KIND, REPORT
    from transfer.backup.take import CHAIN_FILE, sqlite_snapshot
    from transfer.db.models import Alert, Checkpoint, CheckpointStatus
    from transfer.db.session import make_engine, read_sessionmaker

    svc = taken.service
    with svc.client() as c:  # the live log grows past the backup, and is anchored
        m = upload(c, new_volume(svc), scan(tmp_path, 20_000), 1)
        assert c.receipt(m["id"], wait=30).anchored
    copy = tmp_path / "ahead"
    shutil.copytree(taken.backup, copy)
    sqlite_snapshot(svc.home / CHAIN_FILE, copy / CHAIN_FILE)
    doc = _resign(copy, svc.home)
    home = tmp_path / "restored"

    r = _restore(cli, copy, home, svc)

    assert r.code == 3, r.out + r.err
    report = json.loads((home / REPORT).read_text("utf-8"))
    size, ahead = doc["log_size"], report["chain_anchored_size"]
    assert ahead > size and report["missing_leaf_range"] == [size, ahead - 1]
    assert f"序号 {size}–{ahead - 1} 的 {ahead - size} 条已确证存在但不在备份中" in r.out
    assert "请勿启动服务" in r.out and "结论" not in r.out  # no audit of a log cut short
    # Set aside, so that `notary serve` does not continue a log the chain contradicts.
    assert not (home / "deployment.json").exists()
    assert (home / "deployment.json.missing-entries").is_file()
    assert cli("serve", "--home", home).code == 2
    engine = make_engine(f"sqlite:///{home / 'notary.db'}")
    try:
        with read_sessionmaker(engine)() as s:
            alert = s.scalars(select(Alert).where(Alert.kind == ALERT_KIND)).one()
            assert alert.detail["missing_leaf_range"] == [size, ahead - 1]
            newest = s.scalars(
                select(Checkpoint)
                .where(Checkpoint.status == CheckpointStatus.ANCHORED)
                .order_by(Checkpoint.tree_size.desc())
            ).first()
            assert newest is not None and newest.tree_size <= size  # nothing anchored over
    finally:
        engine.dispose()


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    import secrets

    import psycopg

    name = f"notary_backup_{secrets.token_hex(6)}"
    admin_dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test"
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_postgresql_deployment_backs_up_with_pg_dump_and_restores(cli: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with pg_database() as source, pg_database() as fresh:
        r = cli("init", "--home", home, "--database-url", source)
        assert r.code == 0, r.err
        r = cli("unit", "add", "--home", home, "UNIT-A", "甲单位")
        key = r.out.split()[-1]
        with ServeProcess(home) as served, NotaryClient(served.url, key) as c:
            vol = new_volume_at(c)
            ups = [upload(c, vol, scan(tmp_path / "scans", i), i + 1) for i in range(2)]
            assert c.receipt(ups[-1]["id"], wait=30).anchored
            r = cli("backup", "--home", home, "--to", tmp_path / "b")
            assert r.code == 0, r.err
        assert (tmp_path / "b" / "db" / "notary.pgdump").is_file()
        passphrase = home / "keys" / "passphrase"
        r = cli("restore", "--from", tmp_path / "b", "--home", tmp_path / "r",
                "--passphrase-file", passphrase)  # fmt: skip
        assert r.code == 2 and "--database-url" in r.err
        r = cli("restore", "--from", tmp_path / "b", "--home", tmp_path / "r",
                "--passphrase-file", passphrase, "--database-url", fresh)  # fmt: skip
        assert r.code == 0, r.out + r.err
        assert "材料 2 件" in r.out and "结论：通过" in r.out
        assert fresh.split("/")[-1] in (tmp_path / "r" / "service.json").read_text()


@pytest.mark.node
def test_ipfs_store_is_backed_up_as_pins_and_a_car_and_restored_into_another_node(
    cli: Any, tmp_path: Path
) -> None:
    """The content of an IPFS-backed deployment goes into the backup as the CIDs its
    database names and one CAR; restored into a fresh node, the audit re-reads every
    block from that node."""
    from notary.store.jsipfs import JsIpfsNode

    home = tmp_path / "home"
    with JsIpfsNode() as source, JsIpfsNode() as fresh:
        source.start()
        fresh.start()
        assert cli("init", "--home", home, "--store", source.api_url).code == 0
        key = cli("unit", "add", "--home", home, "UNIT-A", "甲单位").out.split()[-1]
        with ServeProcess(home) as served, NotaryClient(served.url, key) as c:
            vol = new_volume_at(c)
            ups = [upload(c, vol, scan(tmp_path / "scans", i), i + 1) for i in range(2)]
            assert c.receipt(ups[-1]["id"], wait=30).anchored
            r = cli("backup", "--home", home, "--to", tmp_path / "b")
            assert r.code == 0, r.err
        pins = (tmp_path / "b" / "ipfs" / "pins.txt").read_text().split()
        assert sorted(pins) == sorted(m["cid"] for m in ups)
        passphrase = home / "keys" / "passphrase"
        r = cli("restore", "--from", tmp_path / "b", "--home", tmp_path / "r",
                "--passphrase-file", passphrase, "--store", fresh.api_url)  # fmt: skip
        assert r.code == 0, r.out + r.err
        assert "材料 2 件" in r.out and "结论：通过" in r.out


def test_bad_backup_and_restore_arguments_are_one_line_errors(
    taken: Taken, cli: Any, tmp_path: Path
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    r = cli("backup", "--home", taken.service.home, "--to", tmp_path / "full")
    assert r.code == 2 and "已存在且不为空" in r.err
    r = cli("backup", "--home", tmp_path / "nowhere", "--to", tmp_path / "b")
    assert r.code == 2 and "不是部署目录" in r.err
    r = cli("backup", "--home", taken.service.home, "--to", tmp_path / "b", "--base", tmp_path)
    assert r.code == 2 and "同一上级目录" in r.err
    r = cli("restore", "--from", tmp_path / "full", "--home", tmp_path / "r")
    assert r.code == 2 and "[文件缺失]" in r.err and "manifest.json" in r.err
    r = _restore(cli, taken.backup, tmp_path / "full", taken.service)
    assert r.code == 2 and "已存在且不为空" in r.err
    assert all("Traceback" not in x for x in (r.out, r.err))


def test_a_damaged_block_stops_the_backup_unless_a_replica_holds_it(
    cli: Any, tmp_path: Path
) -> None:
    from notary.store import LocalStore

    home = tmp_path / "home"
    assert cli("init", "--home", home).code == 0
    cid = LocalStore(home / "blocks").put(b"sealed content" * 100)
    path = LocalStore(home / "blocks").block_path(cid)
    good = path.read_bytes()
    path.write_bytes(b"X" + good[1:])
    r = cli("backup", "--home", home, "--to", tmp_path / "b1")
    assert r.code == 2 and "已损坏" in r.err and path.name in r.err

    LocalStore(tmp_path / "mirror").put(b"sealed content" * 100)
    service = json.loads((home / "service.json").read_text())
    (home / "service.json").write_text(
        json.dumps({**service, "replicas": [str(tmp_path / "mirror")]})
    )
    r = cli("backup", "--home", home, "--to", tmp_path / "b2")
    assert r.code == 0, r.err
    copied = tmp_path / "b2" / "blocks" / path.relative_to(home / "blocks")
    assert copied.read_bytes() == good
    # A restore (a drill, say) does not take over the original's replicas.
    restored = tmp_path / "restored"
    r = cli("restore", "--from", tmp_path / "b2", "--home", restored,
            "--passphrase-file", home / "keys" / "passphrase")  # fmt: skip
    assert r.code == 0, r.out + r.err
    assert "未写入新部署的配置" in r.err
    assert "replicas" not in json.loads((restored / "service.json").read_text())
