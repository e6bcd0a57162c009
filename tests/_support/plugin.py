"""Fixtures shared by the whole suite (registered in tests/conftest.py)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator

import pytest

from notary.crypto import sm2
from tests._support.served import Result, run_cli


@pytest.fixture(scope="session", autouse=True)
def _pbkdf2_once_per_input() -> Iterator[None]:
    """PBKDF2 (200,000 rounds, ~70 ms) derives the same key from the same passphrase,
    salt and rounds every time: the suite derives each once. Every app a test builds
    reopens the hosted units' encrypted keys; the keys and their checks are unchanged
    (a wrong passphrase still derives another key and is refused)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sm2, "_pbkdf2", functools.lru_cache(maxsize=None)(sm2._pbkdf2))
        yield


@pytest.fixture(scope="session", autouse=True)
def _head_revision_once() -> Iterator[None]:
    """Every app a test builds asks for the migrations' head revision (its health check
    compares the database with it), which scans the migration scripts (~30 ms); they do
    not change during a run, so the suite scans them once. Only when a collected test
    imported the app: a run of pure tests does not import it for this."""
    app = sys.modules.get("transfer.api.app")
    if app is None:
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app, "head_revision", functools.lru_cache(maxsize=None)(app.head_revision))
        yield


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``notary`` in process (the real entry point, errors mapped as for users):
    ``cli("volume", "list", env={...})`` gives the exit code, stdout and stderr."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return run_cli(capsys, *args, env=env)

    return invoke
