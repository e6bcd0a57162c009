"""The whole-log audit across processes (PostgreSQL) gives the one-process report, row
for row and finding for finding, on a log with damage in it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from notary.audit import audit_materials, new_report
from tests._support.pg import fresh_pg_database
from transfer.api.app import create_app
from transfer.db.models import LogNode, Material
from transfer.db.session import make_engine, read_sessionmaker, write_sessionmaker
from transfer.roles import Role
from transfer.services.audit_scope import (
    audit_items,
    audit_materials_parallel,
    open_sources,
    scope_materials,
    snapshot,
    whole_log_tree,
)
from transfer.services.errors import ServiceUnavailable
from transfer.services.setup import init_home, settings_for

pytestmark = pytest.mark.slow  # audit worker processes (spawned Python children)


def _pdf(i: int) -> bytes:
    return b"%PDF-1.4\n" + f"material {i}\n".encode() * 50 + b"%%EOF\n"


def _fill(home: Path, keys: dict[Role, str], volumes: int, per_volume: int) -> None:
    with TestClient(create_app(settings_for(home))) as c:
        h = {"Authorization": f"Bearer {keys[Role.ADMIN]}"}
        unit = c.post("/v1/units", json={"code": "U1", "name": "单位一", "kind": "unit"}, headers=h)
        unit_id = unit.raise_for_status().json()["id"]
        issued = c.post(f"/v1/units/{unit_id}/keys", json={"role": "operator"}, headers=h)
        issued_json = issued.raise_for_status().json()
        c.post(
            f"/v1/units/{unit_id}/keys/{issued_json['id']}/approve",
            headers={"Authorization": f"Bearer {keys[Role.SECURITY]}"},
        ).raise_for_status()
        op = {"Authorization": f"Bearer {issued_json['key']}"}
        ids = []
        for v in range(volumes):
            vol = c.post(
                "/v1/volumes",
                json={"cadre_identifier": f"1101011980{v:08d}", "kind": "main"},
                headers=op,
            )
            vid = vol.raise_for_status().json()["id"]
            for i in range(per_volume):
                r = c.post(
                    f"/v1/volumes/{vid}/materials",
                    data={"category": "1", "seq_no": str(i + 1), "pages": "1",
                          "title": f"材料{i}", "formation_date": "2000-01-01"},
                    files={"file": (f"m{i}.pdf", _pdf(v * 100 + i), "application/pdf")},
                    headers=op,
                )  # fmt: skip
                ids.append(r.raise_for_status().json()["id"])
        deadline = time.monotonic() + 60
        for mid in ids:
            while c.get(f"/v1/materials/{mid}/receipt", headers=op).status_code != 200:
                assert time.monotonic() < deadline, "not anchored in time"
                time.sleep(0.2)


def test_processes_give_the_one_process_report(tmp_path: Path) -> None:
    with fresh_pg_database("audit_workers") as url:
        home = tmp_path / "home"
        issued = init_home(
            home, origin="workers.example/log", centre_code="C", centre_name="中心",
            database_url=url,
        )  # fmt: skip
        _fill(home, {k.role: k.key for k in issued.keys}, volumes=5, per_volume=3)
        settings = settings_for(home)
        engine = make_engine(settings.database_url_resolved)
        try:
            with write_sessionmaker(engine)() as s:  # damage: an entry finding, a node
                first = s.scalars(select(Material).order_by(Material.leaf_index)).first()
                assert first is not None
                s.execute(update(Material).where(Material.id == first.id).values(cid="bafy"))
                # The left sibling of a later material's leaf: its proof fails.
                leaves = s.scalars(select(Material.leaf_index)).all()
                odd = [leaf for leaf in leaves if leaf is not None and leaf % 2]
                sibling = max(odd) - 1
                s.execute(
                    update(LogNode)
                    .where(LogNode.level == 0, LogNode.idx == sibling)
                    .values(hash=b"\x01" * 32)
                )
                s.commit()
            with (
                open_sources(home, settings.store, None) as src,
                read_sessionmaker(engine)() as s,
            ):
                snapshot(s)
                _scope, rows, _volumes = scope_materials(s, None, None)
                tree = whole_log_tree(s)
                assert tree.first_damage is not None and tree.first_damage <= sibling
                codes: dict[str, str] = {}

                def items():  # type: ignore[no-untyped-def]
                    for item, code in audit_items(s, rows, src, tree=tree):
                        codes[item.record.material_id] = code
                        yield item

                one = audit_materials(
                    items(),
                    store=src.store,
                    holder=lambda r: src.unit_key(codes[r.material_id]),
                    log_keys=[src.log_key],
                    chain=src.chain,
                    report=new_report("one"),
                )
                many = audit_materials_parallel(
                    s, src, new_report("many"), home=home, store=settings.store, rpc=None,
                    database_url=settings.database_url_resolved, workers=2,
                    chunks_per_worker=2,
                )  # fmt: skip
                # Workers that die (here: they cannot open the deployment) end the audit
                # with a reason the auditor can act on, never a partial report.
                with pytest.raises(ServiceUnavailable, match="审计子进程意外退出"):
                    audit_materials_parallel(
                        s, src, new_report("broken"), home=tmp_path / "gone",
                        store=settings.store, rpc=None,
                        database_url=settings.database_url_resolved, workers=2,
                    )  # fmt: skip
        finally:
            engine.dispose()
    assert one.materials == many.materials == 15
    assert many.material_rows == one.material_rows
    assert many.problems == one.problems
    assert many.passed == one.passed and many.proofs_checked == one.proofs_checked
    assert many.sealed_bytes_rehashed == one.sealed_bytes_rehashed > 0
    checks = {p.check for p in one.problems}
    assert {"entry", "inclusion"} <= checks, checks
