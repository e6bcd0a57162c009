"""Fixtures of the console tests: a real server and a real headless Chromium.

One embedded deployment (``init_home`` in a temporary home: chain, blockstore, SQLite)
serves the full app (``transfer.webapp.create_full_app``: /v1 plus /console) through
uvicorn on 127.0.0.1, on a socket bound to a free port, in a thread of this process.
Two hosted units (a sending and a receiving one, each with an operator key) and the
deployment's audit key are the people who use it.

Chromium is Debian's ``chromium`` driven by its ``chromium-driver`` through Selenium,
both at explicit paths (Selenium Manager is never asked for anything: ``SE_OFFLINE=1``).
Without /usr/bin/chromium the browser tests are skipped — except in CI, where
``scripts/dev.sh test`` installs it and a missing browser is a failure.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from transfer.db.models import UnitKind
from transfer.roles import Role
from transfer.security import issue_api_key
from transfer.services.setup import add_unit, init_home, settings_for
from transfer.webapp import create_full_app

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


@dataclass(frozen=True)
class Person:
    """One API key: who holds it and the unit it belongs to."""

    unit_code: str
    unit_name: str
    role: Role
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Server:
    base_url: str
    app: Any
    home: Path
    sender: Person  # operator of the sending unit (an archive centre)
    receiver: Person  # operator of the receiving unit
    auditor: Person  # the deployment's security auditor (audit role)

    def url(self, path: str) -> str:
        return self.base_url + path

    def client(self, who: Person) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=who.headers, timeout=30)


def _operator(app: Any, code: str, name: str, kind: UnitKind, handler: str) -> Person:
    """A hosted unit (envelope key in the deployment) and an operator key for it, issued
    to a named handler (经办人)."""
    state = app.state.notary
    public_key = state.notary.ensure_unit_key(code)
    with state.write_sessions() as s:
        unit = add_unit(s, code, name, kind, public_key.raw.hex())
        _, key = issue_api_key(s, unit, Role.OPERATOR, handler)
        s.commit()
    return Person(code, name, Role.OPERATOR, key)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console-home")
    issued = init_home(
        home,
        origin=f"console-tests/{uuid.uuid4().hex[:8]}",
        centre_code="CENTRE",
        centre_name="市干部档案中心",
    )
    audit_key = next(k.key for k in issued.keys if k.role is Role.AUDIT)
    settings = settings_for(home, checkpoint_interval_s=0.2)
    app = create_full_app(settings)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
        time.sleep(0.02)
    try:
        yield Server(
            base_url=f"http://127.0.0.1:{port}",
            app=app,
            home=home,
            sender=_operator(app, "SENDER", "甲市干部档案中心", UnitKind.ARCHIVE_CENTRE, "张三"),
            receiver=_operator(app, "RECEIVER", "乙区委组织部", UnitKind.UNIT, "李四"),
            auditor=Person("CENTRE", "市干部档案中心", Role.AUDIT, audit_key),
        )
    finally:
        uv.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _browser_available() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    if os.environ.get("CI"):
        pytest.fail(
            f"{', '.join(missing)} missing in CI: scripts/dev.sh test installs "
            "chromium and chromium-driver"
        )
    pytest.skip(f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[Any]:
    _browser_available()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with pytest.MonkeyPatch.context() as mp:
        # Selenium Manager must never download a browser or a driver.
        mp.setenv("SE_OFFLINE", "1")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
        options.add_argument("--window-size=1280,1000")
        options.add_argument("--lang=zh-CN")
        # The page's console (script errors, CSP violations) is checked after each test.
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(downloads),
                "download.prompt_for_download": False,
                "intl.accept_languages": "zh-CN,zh",
            },
        )
        service = Service(executable_path=str(CHROMEDRIVER))
        driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(30)
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        )
        yield driver
    finally:
        driver.quit()


def script_errors(browser: Any) -> list[str]:
    """Errors in the page's console since the last call: script errors and CSP
    violations. Failed requests are not errors of the page (a wrong key is a 401)."""
    return [
        str(e["message"])
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]
    ]


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """The browser, starting each test signed out on a page of the server; no script
    error or CSP violation may happen during the test."""
    browser.get(server.url("/console/"))
    browser.execute_script("sessionStorage.clear()")
    script_errors(browser)
    yield browser
    errors = script_errors(browser)
    browser.execute_script("sessionStorage.clear()")
    assert not errors, f"errors in the browser console: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@dataclass(frozen=True)
class Registered:
    """A volume of the sending unit with one anchored material, and that file on disk."""

    volume_id: str
    material_id: str
    path: Path
    receipt: dict[str, Any]


def register_material(
    server: Server, who: Person, content: bytes, path: Path, cadre: str
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


@pytest.fixture(scope="session")
def registered(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Registered:
    from clients.demo import sample_pdf

    path = tmp_path_factory.mktemp("files") / "干部履历表.pdf"
    return register_material(
        server, server.sender, sample_pdf("cadre record 1998"), path, "110105194912310020"
    )
