"""The client tests' service: one real ``notary serve`` for the session
(tests/_support/served.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.served import Service, running_service


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("svc") / "home") as svc:
        yield svc
