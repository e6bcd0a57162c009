"""/docs renders the API's operations in a real browser under its strict policy: no
script error, no CSP violation, nothing fetched from another origin (issue 15)."""

from __future__ import annotations

from typing import Any

from tests.console._server import Server, script_errors
from tests.console._ui import css_all, wait_for


def test_the_api_documentation_renders_offline_under_its_policy(
    browser: Any, server: Server
) -> None:
    browser.get(server.url("/docs"))
    operations = wait_for(lambda: css_all(browser, ".opblock"), "the operations are listed")
    assert len(operations) > 20
    assert not script_errors(browser)
    origin = server.url("/")
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded and all(str(url).startswith(origin) for url in loaded), loaded
