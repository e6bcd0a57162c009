"""How ``notary serve`` and ``notary demo`` run uvicorn.

uvicorn's pure-Python stack (asyncio's own loop, the h11 parser) cost a large share
of a small request's CPU under load (benches/results/load.md); uvloop and httptools
are dependencies of the project, so they are named here explicitly rather than left
to uvicorn's "auto" guess. Where a platform has no wheel for one of them (uvloop has
none for Windows) the pure-Python part stands in.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TypedDict


class Stack(TypedDict):
    loop: str
    http: str


def server_stack() -> Stack:
    """uvicorn's ``loop`` and ``http`` settings: the fast ones when importable."""
    return {
        "loop": "uvloop" if find_spec("uvloop") is not None else "asyncio",
        "http": "httptools" if find_spec("httptools") is not None else "h11",
    }
