"""Adversarial inputs at the API: each is refused with a clear problem and writes nothing.

"Nothing written" is checked by counting every table a request could touch before and
after. What lower layers already cover exhaustively is referenced, not repeated:

- forged, replayed and cross-transfer act signatures — tests/transfer/test_acts.py
  (``test_forged_*``, ``test_cross_transfer``, ``test_replay_*``, ``test_kind_confusion``);
- wrong-unit and suspended members at the contract — tests/notary/chain/test_contract_rules.py
  (``TestMembership``, ``TestAnchoring``, ``TestCustody``);
- bag paths (``..``, absolute, ``~``), links, devices, tar bombs, member limits —
  tests/transfer/test_package.py::test_unsafe_manifest_paths_are_refused and
  tests/transfer/test_archive.py (``test_unsafe_member_names_are_refused``,
  ``test_links_and_devices_are_refused``, ``test_compression_bomb_is_stopped_by_the_ratio``,
  ``test_huge_declared_size_is_refused_before_reading``, ``test_member_count_limit``).
"""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from notary.deployment import Deployment
from tests._support import notary_api as n
from tests._support.api import Cast
from tests.security._world import World, build_world, flip_hex
from transfer.api import create_app
from transfer.db.models import (
    Alert,
    Checkpoint,
    CustodyEvent,
    LogLeaf,
    LogNode,
    Material,
    MaterialKey,
    ReadLogEntry,
    Volume,
)
from transfer.db.session import read_sessionmaker
from transfer.settings import Settings
from transfer.workflow.usability import check_usability

TABLES = (Volume, CustodyEvent, Material, MaterialKey, LogLeaf, LogNode, ReadLogEntry, Checkpoint)


def counts(engine: Engine) -> dict[str, int]:
    with read_sessionmaker(engine)() as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}


@pytest.fixture
def world(sclient: TestClient, scast: Cast, deployment: Deployment) -> World:
    return build_world(sclient, scast, deployment)


def _problem(r: Any, status: int, type_suffix: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["type"].endswith(type_suffix), body
    assert body["detail"], "a refusal says why"
    return body


# --- wrong unit, suspended unit, revoked key -------------------------------------------


def test_another_unit_can_neither_see_nor_touch_a_volume_it_does_not_hold(
    world: World, clean_engine: Engine
) -> None:
    c, other, mid = world.client, world.cast.other.headers, world.a["id"]
    before = counts(clean_engine)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/v1/volumes/{world.volume}", {}),
        ("GET", f"/v1/materials/{mid}", {}),
        ("GET", f"/v1/materials/{mid}/receipt", {}),
        ("GET", f"/v1/materials/{mid}/provenance", {}),
        ("GET", f"/v1/materials/{mid}/content", {"params": {"purpose": "窥探"}}),
        (
            "POST",
            f"/v1/volumes/{world.volume}/materials",
            {"data": n.meta(), "files": {"file": ("x.pdf", n.pdf(), "application/pdf")}},
        ),
    ]
    for method, url, kwargs in requests:
        r = c.request(method, url, headers=other, **kwargs)
        # 404, not 403: the API does not reveal who holds whose archive.
        _problem(r, 404, "not-found")
    assert counts(clean_engine) == before
    with read_sessionmaker(clean_engine)() as s:
        assert s.scalar(select(func.count(Alert.id))) == 0


def test_a_suspended_unit_is_refused_everything_and_writes_nothing(
    world: World, clean_engine: Engine
) -> None:
    c, cast = world.client, world.cast
    r = c.post(f"/v1/units/{cast.operator.unit_id}/suspend", headers=cast.security.headers)
    assert r.status_code == 200, r.text
    before = counts(clean_engine)
    h = cast.operator.headers
    for r in [
        n.upload(c, cast.operator, world.volume, n.pdf("while suspended")),
        c.get(f"/v1/materials/{world.a['id']}/content", params={"purpose": "x"}, headers=h),
        c.post(
            "/v1/volumes",
            json={"cadre_identifier": "110105194912310021", "kind": "main"},
            headers=h,
        ),
        c.post("/v1/verify", json={"sm3": world.a["sm3"]}, headers=h),
    ]:
        _problem(r, 403, "forbidden")
    assert counts(clean_engine) == before
    # Reinstated, the same key works again.
    r = c.post(f"/v1/units/{cast.operator.unit_id}/reinstate", headers=cast.security.headers)
    assert r.status_code == 200
    assert world.read() is None


def test_a_revoked_or_forged_key_is_unauthenticated(world: World, clean_engine: Engine) -> None:
    c, cast = world.client, world.cast
    keys = c.get(f"/v1/units/{cast.other.unit_id}/keys", headers=cast.security.headers).json()
    (key,) = [k for k in keys if cast.other.key.startswith(k["prefix"])]
    r = c.post(
        f"/v1/units/{cast.other.unit_id}/keys/{key['id']}/revoke", headers=cast.security.headers
    )
    assert r.status_code == 200, r.text
    before = counts(clean_engine)
    forged = cast.operator.key[:-4] + ("AAAA" if not cast.operator.key.endswith("AAAA") else "BBBB")
    for headers in (
        cast.other.headers,
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {cast.operator.key}"},
        {},
    ):
        r = c.get("/v1/volumes", headers=headers)
        _problem(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert counts(clean_engine) == before


def test_administrators_hold_no_archive_data(world: World, clean_engine: Engine) -> None:
    """三员分立: none of the three administrators reads or writes archive content."""
    before = counts(clean_engine)
    for actor in (world.cast.admin, world.cast.security, world.cast.audit):
        r = world.client.get(
            f"/v1/materials/{world.a['id']}/content", params={"purpose": "x"}, headers=actor.headers
        )
        _problem(r, 403, "forbidden")
        _problem(n.upload(world.client, actor, world.volume, n.pdf()), 403, "forbidden")
    assert counts(clean_engine) == before


# --- oversize uploads and bombs --------------------------------------------------------


@pytest.fixture
def small_limit_client(
    notary_settings: Settings, clean_engine: Engine, deployment: Deployment, scast: Cast
) -> Iterator[TestClient]:
    settings = notary_settings.model_copy(
        update={"anchoring_enabled": False, "upload_max_bytes": 64 * 1024}
    )
    app = create_app(settings, engine=clean_engine, deployment=deployment)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_oversize_uploads_are_refused_before_or_while_streaming(
    small_limit_client: TestClient, scast: Cast, clean_engine: Engine
) -> None:
    c, op = small_limit_client, scast.operator
    vol = n.new_volume(c, op)
    before = counts(clean_engine)
    big = n.pdf() + b"\x00" * (128 * 1024)
    _problem(n.upload(c, op, vol, big), 413, "payload-too-large")
    # The verify endpoint hashes uploads as they stream: the same limit holds.
    r = c.post("/v1/verify", files={"file": ("x.pdf", big, "application/pdf")}, headers=op.headers)
    _problem(r, 413, "payload-too-large")
    # A declared Content-Length beyond the limit is refused before the body is read.
    r = c.post(
        "/v1/verify",
        content=b"--b\r\n",
        headers={
            **op.headers,
            "content-type": "multipart/form-data; boundary=b",
            "content-length": str(10**12),
        },
    )
    assert r.status_code == 413
    assert counts(clean_engine) == before


def test_a_chinese_filename_in_a_multipart_upload_is_accepted(world: World) -> None:
    """Browsers send UTF-8 filenames raw in Content-Disposition; the streaming parser
    turned that into a 500 (UnicodeEncodeError) before the fix, at ingest and verify."""
    c, op = world.client, world.cast.operator
    content = n.pdf("中文文件名")
    r = n.upload(c, op, world.volume, content, filename="干部履历表.pdf")
    assert r.status_code == 201, r.text
    files = {"file": ("干部履历表.pdf", content, "application/pdf")}
    r = c.post("/v1/verify", files=files, headers=op.headers)
    assert r.status_code == 200 and r.json()["found"] is True
    raw = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="\xff\xfe.pdf"\r\n\r\n'
        + content
        + b"\r\n--b--\r\n"
    )
    r = c.post(
        "/v1/verify",
        content=raw,
        headers={**op.headers, "content-type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 200, r.text  # undecodable filename bytes are replaced, not fatal


def _zip_bomb(expanded: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
        with z.open("Doc_0/bomb.bin", "w") as member:
            chunk = b"\x00" * (1 << 20)
            for _ in range(expanded >> 20):
                member.write(chunk)
    return out.getvalue()


def test_a_zip_bomb_is_stored_and_checked_without_ever_being_expanded(
    world: World, clean_engine: Engine
) -> None:
    """OFD is a ZIP; nothing in ingest, the audit or the receiver's usability check
    decompresses members (the central directory is enough), so a bomb costs its size."""
    bomb = _zip_bomb(256 << 20)
    assert len(bomb) < 1 << 20  # 256 MiB of zeros in < 1 MiB
    started = time.monotonic()
    r = n.upload(world.client, world.cast.operator, world.volume, bomb, filename="x.ofd")
    assert r.status_code == 201, r.text
    assert r.json()["media_type"] == "application/ofd" and r.json()["size"] == len(bomb)
    assert check_usability(bomb, "application/ofd") is None
    assert time.monotonic() - started < 10


# --- malformed receipts, proofs and CIDs at the verify API -----------------------------


def _receipt(world: World, **changes: Any) -> dict[str, Any]:
    doc = {**world.receipt_a, **changes}
    return doc


MALFORMED: list[tuple[str, Any]] = [
    ("not an object", ["a", "list"]),
    ("unknown field", {"extra": 1}),
    ("wrong format", {"format": "archive-notary/evidence-receipt/v2"}),
    ("leaf_index negative", {"leaf_index": -1}),
    ("leaf_index a bool", {"leaf_index": True}),
    ("leaf_index beyond 2^64", {"leaf_index": 2**70}),
    ("proof item not hex", {"inclusion_proof": ["zz" * 32]}),
    ("proof item upper-case", {"inclusion_proof": ["AB" * 32]}),
    ("proof item short", {"inclusion_proof": ["ab" * 31]}),
    ("proof too long", {"inclusion_proof": ["ab" * 32] * 65}),
    ("proof not a list", {"inclusion_proof": "ab" * 32}),
    ("log key not a point", {"log_public_key": "00" * 64}),
    ("log key short", {"log_public_key": "ab"}),
    ("checkpoint missing", {"checkpoint": None}),
    ("signature not base64", {"checkpoint": {"checkpoint": {}, "signature": "!!"}}),
    (
        "anchor tx not hex",
        {
            "anchor": {
                "chain_id": 1,
                "contract": "0x" + "ab" * 20,
                "tx_hash": "0xzz",
                "block_number": 1,
            }
        },
    ),
    (
        "anchor contract short",
        {
            "anchor": {
                "chain_id": 1,
                "contract": "0xab",
                "tx_hash": "0x" + "ab" * 32,
                "block_number": 1,
            }
        },
    ),
    ("entry of unknown type", {"entry": {"type": "material.deleted", "v": 1}}),
    ("entry with a float", {"entry": {"type": "material.registered", "v": 1.5}}),
    # These three were 500s before the fix (found by tests/security/test_fuzz_parsers.py):
    ("entry type an object", {"entry": {"type": {"a": 1}, "v": 1}}),
    ("entry integer beyond I-JSON", {"entry": {"type": "material.registered", "v": 2**60}}),
    ("signature not ASCII", {"checkpoint": {"checkpoint": {}, "signature": "签名"}}),
]


def test_malformed_receipts_are_refused_as_format_errors(
    world: World, clean_engine: Engine
) -> None:
    before = counts(clean_engine)
    for name, change in MALFORMED:
        doc = change if not isinstance(change, dict) else _receipt(world, **change)
        r = world.client.post(
            "/v1/verify", json={"receipt": doc}, headers=world.cast.operator.headers
        )
        assert r.status_code == 422, (name, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        # A malformed document is a format problem; a well-formed one that proves
        # nothing (a leaf index beyond any tree) fails its proof.
        assert r.json()["type"].rsplit(":", 1)[1] in {
            "verification-format",
            "verification-inclusion",
            "validation",
        }, name
    assert counts(clean_engine) == before


def test_a_receipt_naming_a_malformed_or_foreign_cid_fails_its_proof(world: World) -> None:
    for cid in ("not-a-cid", world.b["cid"], flip_hex(world.a["cid"], 30)):
        doc = _receipt(world, entry={**world.receipt_a["entry"], "cid": cid})
        assert world.verify(doc) == "inclusion"


def test_an_unanchored_receipt_under_an_outsiders_key_is_refused_as_malformed(
    world: World,
) -> None:
    """Issue 21: without its anchor a receipt is only self-consistent (anyone with a key
    can sign a checkpoint), so the verify API refuses it as a format error — it used to
    answer ``valid: true, anchored: false``, which a client could take for valid."""
    from notary.checkpoint import sign_checkpoint
    from notary.crypto import SM2PrivateKey

    key = SM2PrivateKey.generate()
    cp = world.receipt_a["checkpoint"]["checkpoint"]
    forged = sign_checkpoint(
        key, cp["origin"], cp["tree_size"], bytes.fromhex(cp["root"]), cp["timestamp_ms"]
    )
    doc = _receipt(
        world, checkpoint=forged.to_json(), log_public_key=key.public_key.raw.hex(), anchor=None
    )
    r = world.client.post("/v1/verify", json={"receipt": doc}, headers=world.cast.operator.headers)
    assert r.status_code == 422 and r.json()["check"] == "format"
    assert "valid" not in r.json()


def test_malformed_paths_and_proof_queries_are_refused(world: World, clean_engine: Engine) -> None:
    c, h = world.client, world.cast.operator.headers
    before = counts(clean_engine)
    _problem(c.get("/v1/materials/not-a-uuid", headers=h), 422, "validation")
    _problem(c.get(f"/v1/materials/{uuid.uuid4()}/receipt", headers=h), 404, "not-found")
    for params in (
        {"leaf_index": 5, "tree_size": 3},
        {"leaf_index": 0, "tree_size": 2**63},
        {"leaf_index": -1, "tree_size": 3},
        {"leaf_index": "x", "tree_size": 3},
    ):
        r = c.get("/v1/log/inclusion", params=params, headers=h)
        assert r.status_code == 422, (params, r.text)
    for params in ({"first": 3, "second": 2}, {"first": 1, "second": 2**63}, {"first": 0}):
        r = c.get("/v1/log/consistency", params=params, headers=h)
        assert r.status_code == 422, (params, r.text)
    _problem(c.post("/v1/verify", json={"sm3": "ab"}, headers=h), 422, "validation")
    # Found by the long API fuzz (a 500 before the fix): an identifier of only whitespace.
    for url in ("/v1/volumes", "/v1/volumes/lookup"):
        r = c.post(url, json={"cadre_identifier": " \u3000\t", "kind": "main"}, headers=h)
        body = _problem(r, 422, "validation")
        assert body["errors"][0]["loc"] == ["body", "cadre_identifier"]
    _problem(c.post("/v1/verify", json={}, headers=h), 422, "validation")
    r = c.post(
        "/v1/verify", content=b"{not json", headers={**h, "content-type": "application/json"}
    )
    _problem(r, 422, "validation")
    assert counts(clean_engine) == before
