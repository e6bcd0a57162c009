"""Markers a developer selects by (pyproject.toml): ``browser`` for the console's
headless-Chromium tests, ``node`` for a real anvil or js-ipfs process, besides the
``faults`` and ``slow`` that tests set themselves. The fast part of the suite:
``pytest -m "not node and not browser and not faults and not slow"``.

Applied here from what a test uses, so a new test cannot forget them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CONSOLE = Path(__file__).parent / "console"
# Fixtures that start (or need) a real anvil or js-ipfs process.
NODE_FIXTURES = frozenset({"anvil_node", "anvil", "jsipfs", "kubo", "ipfs", "world"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if CONSOLE in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)
        if NODE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.node)
