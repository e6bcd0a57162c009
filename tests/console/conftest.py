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

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support.api import Actor
from tests._support.served import serving_app
from tests.console._server import (
    ARTIFACTS,
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    Registered,
    Server,
    browser_available,
    operator,
    register_material,
    script_errors,
)
from transfer.db.models import UnitKind
from transfer.roles import Role
from transfer.services.setup import init_home, settings_for
from transfer.webapp import create_full_app


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

    with serving_app(app) as port:
        yield Server(
            base_url=f"http://127.0.0.1:{port}",
            app=app,
            home=home,
            sender=operator(app, "SENDER", "甲市干部档案中心", UnitKind.ARCHIVE_CENTRE, "张三"),
            receiver=operator(app, "RECEIVER", "乙区委组织部", UnitKind.UNIT, "李四"),
            auditor=Actor("CENTRE", Role.AUDIT, audit_key, unit_name="市干部档案中心"),
        )


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[Any]:
    browser_available()
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


@pytest.fixture(scope="session")
def registered(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Registered:
    from clients.demo import sample_pdf

    path = tmp_path_factory.mktemp("files") / "干部履历表.pdf"
    return register_material(
        server, server.sender, sample_pdf("cadre record 1998"), path, "110105194912310020"
    )
