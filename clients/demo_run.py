"""``notary demo``: a seeded embedded deployment, served on 127.0.0.1.

uvicorn runs in the main thread (so Ctrl-C stops it cleanly); the seeding runs in a
second thread through the HTTP API itself, once the server has started, so the demo
exercises exactly what a client would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from clients.demo import DEMO_MATERIALS, sample_jpeg, sample_pdf, sample_png
from notary._internal.net import free_port

Echo = Callable[[str], None]
DEMO_UNITS = (("DEMO-A", "示范区委组织部干部档案室"), ("DEMO-B", "示范县人力资源和社会保障局"))
DEMO_CADRE = "110101198001010011"  # a made-up 身份证号 (only its blinded form is stored)


def _content(kind: str, title: str, seed: int) -> tuple[str, bytes]:
    if kind == "png":
        return "scan.png", sample_png(seed=seed)
    if kind == "jpeg":
        return "scan.jpg", sample_jpeg()
    return "doc.pdf", sample_pdf(f"Archive Notary demo: {title.encode('unicode_escape').decode()}")


def _seed_units(state: Any) -> dict[str, str]:
    """Hosted units DEMO-A / DEMO-B (created once) with fresh operator keys each run."""
    from sqlalchemy import select

    from transfer.db.models import Unit, UnitKind
    from transfer.roles import Role
    from transfer.security import issue_api_key
    from transfer.services.setup import add_unit
    from transfer.services.transfer_units import give_chain_account

    keys: dict[str, str] = {}
    with state.write_sessions() as s:
        for code, name in DEMO_UNITS:
            unit = s.scalars(select(Unit).where(Unit.code == code)).first()
            if unit is None:
                public = state.notary.ensure_unit_key(code).raw.hex()
                unit = add_unit(s, code, name, UnitKind.UNIT, public)
            # An account of its own: DEMO-A and DEMO-B can transfer to each other.
            give_chain_account(s, state.notary.deployment, unit)
            keys[code] = issue_api_key(s, unit, Role.OPERATOR, "notary demo")[1]
        s.commit()
    return keys


def _seed_materials(base: str, key: str, echo: Echo) -> str:
    """A volume with sample materials (first run only); returns a material id to watch."""
    h = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=h, timeout=60) as c:
        volumes = c.get("/v1/volumes").raise_for_status().json()["items"]
        if volumes:
            vol = volumes[0]["id"]
            mats = c.get(f"/v1/volumes/{vol}/materials").raise_for_status().json()
            if mats:
                return str(mats[-1]["id"])
        else:
            r = c.post("/v1/volumes", json={"cadre_identifier": DEMO_CADRE, "kind": "main"})
            vol = r.raise_for_status().json()["id"]
        last = ""
        for i, (cat, seq, pages, title, formed, kind) in enumerate(DEMO_MATERIALS):
            name, content = _content(kind, title, i)
            r = c.post(
                f"/v1/volumes/{vol}/materials",
                data={
                    "category": cat,
                    "seq_no": str(seq),
                    "pages": str(pages),
                    "title": title,
                    "formation_date": formed,
                },
                files={"file": (name, content)},
            )
            body = r.raise_for_status().json()
            where = f"{body['media_type']}，日志序号 {body['leaf_index']}"
            echo(f"  已登记 {cat}-{seq}-{pages} {title}（{where}）")
            last = str(body["id"])
        return last


def _wait_anchored(base: str, key: str, material_id: str, timeout: float = 60) -> dict[str, Any]:
    h = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, headers=h, timeout=30) as c:
        while True:
            r = c.get(f"/v1/materials/{material_id}/receipt")
            if r.status_code == 200:
                return dict(r.json())
            if time.monotonic() > deadline:
                raise TimeoutError("锚定未在 60 秒内完成")
            time.sleep(0.2)


def run_demo(home: Path, *, port: int, exit_after_seed: bool, echo: Echo) -> int:
    import uvicorn

    from transfer.services.setup import init_home, is_initialised, settings_for
    from transfer.serving import server_stack
    from transfer.webapp import create_full_app as create_app

    admin_keys: list[tuple[str, str, str]] = []
    if not is_initialised(home):
        echo(f"初始化示范部署：{home}")
        issued = init_home(
            home,
            origin="demo.archive-notary.local/log",
            centre_code="DEMO-CENTRE",
            centre_name="示范市干部档案中心",
        )
        admin_keys = [(k.unit, str(k.role), k.key) for k in issued.keys]
    port = port or free_port()
    settings = settings_for(home, port=port)
    app = create_app(settings)
    state = app.state.notary
    unit_keys = _seed_units(state)
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", **server_stack(settings)
        )
    )
    failure: list[BaseException] = []

    def seed() -> None:
        try:
            while not server.started:
                if server.should_exit:
                    return
                time.sleep(0.05)
            echo("播种示范数据：两个单位、一个案卷（正本）及多类材料")
            watched = _seed_materials(base, unit_keys["DEMO-A"], echo)
            receipt = _wait_anchored(base, unit_keys["DEMO-A"], watched)
            anchor = receipt["anchor"]
            echo(
                f"锚定完成：检查点 {receipt['checkpoint']['checkpoint']['tree_size']} 已上链"
                f"（区块 {anchor['block_number']}，交易 {anchor['tx_hash'][:18]}…）"
            )
            echo("")
            echo(f"API 文档：{base}/docs")
            echo(f"网页控制台：{base}/console/（以单位密钥登录）")
            if admin_keys:
                _print(echo, "三员 API 密钥", admin_keys)
            _print(
                echo,
                "示范单位 API 密钥",
                [(code, "operator", key) for code, key in unit_keys.items()],
            )
            echo("示例：curl -H 'Authorization: Bearer <DEMO-A 密钥>' " + base + "/v1/volumes")
            if exit_after_seed:
                server.should_exit = True
            else:
                echo("服务运行中，按 Ctrl-C 停止。")
        except BaseException as e:  # report and stop: a half-seeded demo helps no one
            failure.append(e)
            echo(f"示范数据播种失败：{type(e).__name__}: {e}")
            server.should_exit = True

    seeder = threading.Thread(target=seed, name="demo-seed", daemon=True)
    seeder.start()
    server.run()
    seeder.join(timeout=5)
    return 1 if failure else 0


def _print(echo: Echo, title: str, keys: list[tuple[str, str, str]]) -> None:
    echo(f"{title}（仅显示这一次，请妥善保存）：")
    for unit, role, key in keys:
        echo(f"  {unit:<12} {role:<9} {key}")
