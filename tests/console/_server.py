"""The console tests' helpers: who uses the server (:class:`Actor`), the running
server (:class:`Server`), the browser's paths and flags, registering a material.
The fixtures that build them are in conftest.py."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._support.api import Actor
from transfer.db.models import UnitKind
from transfer.roles import Role
from transfer.security import issue_api_key
from transfer.services.setup import add_unit

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"

_cadre_serial = itertools.count(1)


def new_cadre(birth: str = "19800101") -> str:
    """A 身份证号 no other test of this run has used.

    The tests share one deployment, where a second 正本 for a cadre is refused: random
    suffixes collided often enough to fail a run. Region 110106 is the generator's alone.
    """
    return f"110106{birth}{next(_cadre_serial):04d}"


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


@dataclass
class Server:
    base_url: str
    app: Any
    home: Path
    sender: Actor  # operator of the sending unit (an archive centre)
    receiver: Actor  # operator of the receiving unit
    auditor: Actor  # the deployment's security auditor (audit role)

    def url(self, path: str) -> str:
        return self.base_url + path

    def client(self, who: Actor) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=who.headers, timeout=30)


def operator(app: Any, code: str, name: str, kind: UnitKind, handler: str) -> Actor:
    """A hosted unit (envelope key in the deployment) and an operator key for it, issued
    to a named handler (经办人)."""
    state = app.state.notary
    public_key = state.notary.ensure_unit_key(code)
    with state.write_sessions() as s:
        unit = add_unit(s, code, name, kind, public_key.raw.hex())
        _, key = issue_api_key(s, unit, Role.OPERATOR, handler)
        s.commit()
    return Actor(code, Role.OPERATOR, key, unit_name=name)


def browser_available() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    if os.environ.get("CI"):
        pytest.fail(
            f"{', '.join(missing)} missing in CI: scripts/dev.sh test installs "
            "chromium and chromium-driver"
        )
    pytest.skip(f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver)")


def script_errors(browser: Any) -> list[str]:
    """Errors in the page's console since the last call: script errors and CSP
    violations. Failed requests are not errors of the page (a wrong key is a 401)."""
    return [
        str(e["message"])
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]
    ]


@dataclass(frozen=True)
class Registered:
    """A volume of the sending unit with one anchored material, and that file on disk."""

    volume_id: str
    material_id: str
    path: Path
    receipt: dict[str, Any]


def register_material(
    server: Server, who: Actor, content: bytes, path: Path, cadre: str
) -> Registered:
    """Register a volume and one material over the API; wait until it is anchored."""
    path.write_bytes(content)
    with server.client(who) as c:
        r = c.post("/v1/volumes", json={"cadre_identifier": cadre, "kind": "main"})
        assert r.status_code == 201, r.text
        volume_id = r.json()["id"]
        r = c.post(
            f"/v1/volumes/{volume_id}/materials",
            data={
                "category": "1",
                "seq_no": "1",
                "pages": "1",
                "title": "干部履历表",
                "formation_date": "1998-07-01",
            },
            files={"file": (path.name, content, "application/pdf")},
        )
        assert r.status_code == 201, r.text
        material_id = r.json()["id"]
        deadline = time.monotonic() + 30
        while True:
            r = c.get(f"/v1/materials/{material_id}/receipt")
            if r.status_code == 200:
                break
            assert r.status_code == 202, r.text
            assert time.monotonic() < deadline, "the material was not anchored in 30 s"
            time.sleep(0.05)
    return Registered(volume_id, material_id, path, r.json())
