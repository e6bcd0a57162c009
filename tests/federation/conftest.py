"""One two-centres world (tests/_support/two_centres.py) for the package: the fault
tests run last (module order) and put back what they stop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.two_centres import World, two_centres


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with two_centres(tmp_path_factory.mktemp("two-centres")) as w:
        yield w
