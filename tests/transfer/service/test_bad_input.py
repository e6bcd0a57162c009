"""The bad-input battery: every malformed, oversize, unauthorised or unknown request is
refused with a clear 4xx ``application/problem+json`` — and writes NOTHING: no row in
any table (so no log leaf, no checkpoint, no alert, no read-log entry) and no block in
the content store. SQLite and PostgreSQL both.

Each case is one row of ``CASES``: what is sent, the status it must get, and (where the
API names one) the problem ``type`` it must carry.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from notary.deployment import Deployment
from tests._support import notary_api as n
from tests._support.api import Cast
from tests.transfer.service.test_notary_api import _host
from transfer.api import create_app
from transfer.db.models import Base
from transfer.settings import Settings

LIMIT = 64 * 1024  # the upload limit of this battery: oversize cases stay cheap


@dataclass
class World:
    client: TestClient
    cast: Cast
    volume: str
    receipt: dict[str, Any]
    sm3: str


def _snapshot(engine: Engine, blocks: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with Session(engine) as s:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = s.scalar(select(func.count()).select_from(table)) or 0
    counts["<content store blocks>"] = sum(1 for p in blocks.rglob("*") if p.is_file())
    return counts


@pytest.fixture
def world(
    notary_settings: Settings, clean_engine: Engine, deployment: Deployment, cast: Cast
) -> Iterator[World]:
    settings = notary_settings.model_copy(update={"upload_max_bytes": LIMIT})
    app = create_app(settings, engine=clean_engine, deployment=deployment)
    with TestClient(app) as c:
        _host(app, cast)
        vol = n.new_volume(c, cast.operator)
        doc = n.pdf("a registered material")
        r = n.upload(c, cast.operator, vol, doc)
        assert r.status_code == 201, r.text
        receipt = n.wait_receipt(c, cast.operator, r.json()["id"])
        yield World(c, cast, vol, receipt, r.json()["sm3"])


def _multipart(fields: dict[str, str], file: bytes | None) -> tuple[bytes, str]:
    """A multipart body and its content type, for sending as a stream."""
    files = None if file is None else {"file": ("m.pdf", file, "application/pdf")}
    req = httpx.Request("POST", "http://x/", data=fields, files=files)
    return req.read(), req.headers["content-type"]


def _upload(w: World, content: bytes, **kw: Any) -> httpx.Response:
    r: httpx.Response = n.upload(w.client, w.cast.operator, w.volume, content, **kw)
    return r


def _streamed_oversize(w: World) -> httpx.Response:
    # No Content-Length (chunked): the limit is only found while the file streams in.
    body, ctype = _multipart(n.meta(), n.pdf() + b"\x00" * (LIMIT * 2))
    chunks = [body[i : i + 8192] for i in range(0, len(body), 8192)]
    return w.client.post(
        f"/v1/volumes/{w.volume}/materials",
        content=iter(chunks),
        headers={**w.cast.operator.headers, "Content-Type": ctype},
    )


def _verify(w: World, body: Any, who: str = "operator") -> httpx.Response:
    actor = getattr(w.cast, who)
    return w.client.post("/v1/verify", json=body, headers=actor.headers)


def _raw(w: World, path: str, body: bytes, ctype: str = "application/json") -> httpx.Response:
    return w.client.post(
        path, content=body, headers={**w.cast.operator.headers, "Content-Type": ctype}
    )


def _tampered_receipt(w: World) -> dict[str, Any]:
    r = copy.deepcopy(w.receipt)
    root = r["checkpoint"]["checkpoint"]["root"]
    r["checkpoint"]["checkpoint"]["root"] = ("0" if root[0] != "0" else "1") + root[1:]
    return r


def _exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200


Case = tuple[str, Callable[[World], httpx.Response], int, str | None]

CASES: list[Case] = [
    # size
    ("oversize, declared length", lambda w: _upload(w, n.pdf() + b"\0" * LIMIT * 2), 413,
     "payload-too-large"),
    ("oversize, streamed without a length", _streamed_oversize, 413, "payload-too-large"),
    # type (judged by content, not by name)
    ("an executable named .pdf", lambda w: _upload(w, _exe(), filename="cv.pdf"), 415,
     "unsupported-media-type"),
    ("plain text named .pdf", lambda w: _upload(w, "简历".encode() * 50), 415,
     "unsupported-media-type"),
    ("a ZIP that is not OFD", lambda w: _upload(
        w, n.ofd().replace(b"OFD.xml", b"ABC.xml"), filename="x.ofd"), 415,
     "unsupported-media-type"),
    ("empty file", lambda w: _upload(w, b""), 415, None),
    # unknown things
    ("unknown volume", lambda w: n.upload(
        w.client, w.cast.operator, str(uuid.uuid4()), n.pdf()), 404, None),
    ("volume id that is not a UUID", lambda w: n.upload(
        w.client, w.cast.operator, "../../etc/passwd", n.pdf()), 404, None),
    ("another unit's volume", lambda w: n.upload(
        w.client, w.cast.other, w.volume, n.pdf()), 404, None),
    ("unknown unit", lambda w: w.client.post(
        f"/v1/units/{uuid.uuid4()}/keys", json={"role": "operator"},
        headers=w.cast.admin.headers), 404, None),
    ("unknown material's receipt", lambda w: w.client.get(
        f"/v1/materials/{uuid.uuid4()}/receipt", headers=w.cast.operator.headers), 404, None),
    # keys and roles
    ("bad key", lambda w: w.client.post(
        f"/v1/volumes/{w.volume}/materials", headers={"Authorization": "Bearer an_forged"},
        data=n.meta(), files={"file": ("m.pdf", n.pdf(), "application/pdf")}), 401, None),
    ("no key", lambda w: w.client.post("/v1/verify", json={"sm3": w.sm3}), 401, None),
    ("not a bearer key", lambda w: w.client.post(
        "/v1/verify", json={"sm3": w.sm3}, headers={"Authorization": "Basic dTpw"}), 401, None),
    ("auditor uploads", lambda w: n.upload(w.client, w.cast.audit, w.volume, n.pdf()), 403,
     None),
    ("administrator uploads", lambda w: n.upload(w.client, w.cast.admin, w.volume, n.pdf()),
     403, None),
    ("administrator verifies", lambda w: _verify(w, {"sm3": w.sm3}, "admin"), 403, None),
    ("operator registers a unit", lambda w: w.client.post(
        "/v1/units", json={"code": "X1", "name": "x", "kind": "unit"},
        headers=w.cast.operator.headers), 403, None),
    ("administrator mints an audit key", lambda w: w.client.post(
        f"/v1/units/{w.cast.audit.unit_id}/keys", json={"role": "audit"},
        headers=w.cast.admin.headers), 403, None),
    # SM3
    ("malformed SM3 to verify", lambda w: _verify(w, {"sm3": "xyz"}), 422, None),
    ("SM3 one digit short", lambda w: _verify(w, {"sm3": w.sm3[:-1]}), 422, None),
    ("malformed X-Content-SM3", lambda w: _upload(w, n.pdf(), headers={"X-Content-SM3": "zz"}),
     400, None),
    # receipts
    ("garbage receipt", lambda w: _verify(w, {"receipt": {"format": "nope"}}), 422,
     "verification-format"),
    ("receipt that is a string", lambda w: _verify(w, {"receipt": "a receipt"}), 422, None),
    ("receipt with a changed root", lambda w: _verify(w, {"receipt": _tampered_receipt(w)}),
     422, "verification-"),
    ("receipt for another material", lambda w: _verify(
        w, {"receipt": w.receipt, "sm3": "ab" * 32}), 422, "verification-entry"),
    ("receipt with an unknown field", lambda w: _verify(
        w, {"receipt": {**w.receipt, "extra": 1}}), 422, "verification-format"),
    # JSON
    ("malformed JSON to verify", lambda w: _raw(w, "/v1/verify", b'{"sm3": '), 422, None),
    ("malformed JSON to volumes", lambda w: _raw(w, "/v1/volumes", b"{kind: main"), 422, None),
    ("JSON that is not an object", lambda w: _raw(w, "/v1/verify", b"[1, 2, 3]"), 422, None),
    ("unknown field to verify", lambda w: _verify(w, {"sm3": w.sm3, "x": 1}), 422, None),
    ("huge JSON", lambda w: _raw(
        w, "/v1/verify", json.dumps({"receipt": {"format": "x" * (24 << 20)}}).encode()),
     413, "payload-too-large"),
    ("deeply nested JSON", lambda w: _raw(
        w, "/v1/verify", b'{"receipt":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), 422, None),
    # multipart
    ("upload without a file part", lambda w: w.client.post(
        f"/v1/volumes/{w.volume}/materials", data=n.meta(), files={"x": ("", b"", "text/plain")},
        headers=w.cast.operator.headers), 422, None),
    ("verify multipart without a file", lambda w: w.client.post(
        "/v1/verify", data={"sm3": w.sm3}, files={"other": ("", b"", "text/plain")},
        headers=w.cast.operator.headers), 422, None),
    ("upload as JSON", lambda w: w.client.post(
        f"/v1/volumes/{w.volume}/materials", json={}, headers=w.cast.operator.headers), 400,
     None),
    ("truncated multipart", lambda w: _raw(
        w, f"/v1/volumes/{w.volume}/materials", b"--b\r\nContent-Disposition: form-data; "
        b'name="file"; filename="m.pdf"\r\n\r\n%PDF-1.4', "multipart/form-data; boundary=b"),
     400, None),
    ("unknown category", lambda w: _upload(w, n.pdf(), category="11"), 422, None),
    ("formation date that is not a date", lambda w: _upload(w, n.pdf(), formation_date="昨天"),
     422, None),
    ("zero pages", lambda w: _upload(w, n.pdf(), pages="0"), 422, None),
]  # fmt: skip


def test_every_bad_input_is_a_clear_4xx_problem_and_writes_nothing(
    world: World, clean_engine: Engine, deployment: Deployment
) -> None:
    blocks = deployment.home / "blocks"
    failures: list[str] = []
    for name, send, status, type_suffix in CASES:
        before = _snapshot(clean_engine, blocks)
        r = send(world)
        after = _snapshot(clean_engine, blocks)
        problems = []
        if r.status_code != status:
            problems.append(f"status {r.status_code}, expected {status}")
        if not r.headers.get("content-type", "").startswith("application/problem+json"):
            problems.append(f"content-type {r.headers.get('content-type')}")
        else:
            body = r.json()
            if body.get("status") != r.status_code or not body.get("title"):
                problems.append(f"problem body without status/title: {body}")
            if type_suffix and type_suffix not in body.get("type", ""):
                problems.append(f"type {body.get('type')}, expected …{type_suffix}")
        if r.status_code == 401 and "Bearer" not in r.headers.get("www-authenticate", ""):
            problems.append("401 without WWW-Authenticate: Bearer")
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        if changed:
            problems.append(f"WROTE {changed}")
        if problems:
            failures.append(f"{name}: {'; '.join(problems)} — {r.text[:160]}")
    assert not failures, "\n".join(failures)


def test_the_battery_covers_every_kind_the_issue_names() -> None:
    names = " ".join(c[0] for c in CASES)
    for kind in ("oversize", "executable", "unknown volume", "unknown unit", "bad key",
                 "auditor", "malformed SM3", "garbage receipt", "malformed JSON", "huge JSON",
                 "without a file"):  # fmt: skip
        assert kind in names, kind
