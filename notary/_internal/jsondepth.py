"""Refusing JSON nested too deeply to parse safely.

py_ecc (imported with the chain stack) raises the interpreter's recursion limit to
100,000, and the standard library's C JSON decoder recurses on the C stack once per
level: a few hundred kilobytes of ``[`` crashed the whole process (segmentation
fault) — the API's JSON bodies (FastAPI parses them with ``json.loads``) and the
chain's JSON-RPC endpoint alike, and every document parsed with
:func:`notary.canonical.parse_json` (a transfer package's notice, envelope, evidence
and acts come from other deployments). Each is checked here first; pydantic-core's
parser stops at 200 levels with an error instead.
"""

from __future__ import annotations

import pydantic_core

#: Below this many opening brackets a document cannot be too deep: no parse needed.
_CHEAP = 200


def too_deep(body: bytes | str) -> bool:
    """Whether ``body`` (JSON or not) nests brackets deeper than any document of ours
    does (about 200 levels)."""
    brackets = (
        body.count("[") + body.count("{")
        if isinstance(body, str)
        else body.count(b"[") + body.count(b"{")
    )
    if brackets < _CHEAP:
        return False
    try:
        pydantic_core.from_json(body)
    except ValueError as e:
        return "recursion limit" in str(e)
    return False
