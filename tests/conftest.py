"""Markers (declared in pyproject.toml), given by what a test does or needs, never by
the directory it lives in:

- ``browser``: drives the console in headless Chromium (uses the ``browser`` fixture);
- ``node``: needs a real anvil or js-ipfs process (uses one of ``NODE_FIXTURES``);
- ``faults``: injects faults (kills, stops, corruption) into a running deployment;
- ``slow``: starts a process of its own that imports the project (``notary serve``, a
  ``notary`` command, a Python child), builds a venv or recompiles the contract, kills
  a process, dumps or restores PostgreSQL, waits out a real timeout of a second or
  more, or runs a fuzzing campaign (generated requests by the hundred). Tests that
  talk to a real ``notary serve`` (the session's ``service`` or one of their own) are
  ``slow`` too (``SLOW_FIXTURES``);
- ``pg``: the PostgreSQL variant of a test that runs on SQLite and on PostgreSQL (the
  ``backend_url`` of tests/transfer/service); tests that are about PostgreSQL itself are not
  variants and are not marked.

``browser``, ``node`` and ``slow`` by fixture are applied here, from what a test uses,
so a new test cannot forget them; the rest is written on the test.

The fast part of the suite (tests/README.md):
``pytest -m "not slow and not node and not browser and not faults and not pg"``.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests._support.plugin"]

# Fixtures that start (or need) a real anvil or js-ipfs process.
NODE_FIXTURES = frozenset({"anvil_node", "anvil", "jsipfs", "kubo", "ipfs"})
# Fixtures that drive headless Chromium.
BROWSER_FIXTURES = frozenset({"browser"})
# Fixtures that start a real ``notary serve`` process.
SLOW_FIXTURES = frozenset({"service", "taken"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if BROWSER_FIXTURES & used:
            item.add_marker(pytest.mark.browser)
        if NODE_FIXTURES & used:
            item.add_marker(pytest.mark.node)
        if SLOW_FIXTURES & used:
            item.add_marker(pytest.mark.slow)
