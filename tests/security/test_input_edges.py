"""Every field is checked where it enters, with the rules of the formats that will carry
it, so that nothing accepted fails later with a 500 (issue 15): unit codes and names
(units, peers), material titles, transfer numbers; identifier patterns match whole
strings (``$`` accepted a trailing newline); no error detail names a server path."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

import notary.chain  # noqa: F401 - the chain stack (py_ecc) raises the recursion limit
from clients.cli import run
from notary.canonical import CanonicalJSONError, parse_json
from notary.deployment import Deployment
from tests._support import notary_api as n
from tests._support.api import Cast
from tests.security._world import World, build_world
from transfer.api.errors import without_server_paths
from transfer.db.models import Material, Transfer, Unit
from transfer.workflow.acts import ActFormatError, act_from_bytes
from transfer.workflow.archive import extract_tar
from transfer.workflow.errors import PackageError

BAD_CODES = ["../../x", "U1\n", "a/b", ".hidden", "x" * 65, "单位", "U 1", ""]
BAD_TEXT = ["line\nfeed", "tab\tinside", "nul\x00", "bell\x07", "para\u2029sep", "nel\x85inside"]


def _count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_units_refuse_unsafe_codes_and_multi_line_names(
    sclient: TestClient, scast: Cast, clean_engine: Engine
) -> None:
    before = _count(clean_engine, Unit)
    h = scast.admin.headers
    for code in BAD_CODES:
        r = sclient.post(
            "/v1/units", json={"code": code, "name": "某单位", "kind": "unit"}, headers=h
        )
        assert r.status_code == 422, (code, r.text)
    for name in BAD_TEXT:
        r = sclient.post("/v1/units", json={"code": "U9", "name": name, "kind": "unit"}, headers=h)
        assert r.status_code == 422, (name, r.text)
    assert _count(clean_engine, Unit) == before
    r = sclient.post(
        "/v1/units", json={"code": "U9", "name": " 某单位 ", "kind": "unit"}, headers=h
    )
    assert r.status_code == 201 and r.json()["name"] == "某单位"


def _peer(code: str, url: str = "http://127.0.0.1:9") -> dict[str, str]:
    return {"code": code, "url": url}


def test_peers_refuse_unsafe_codes_and_addresses(
    sclient: TestClient, scast: Cast, clean_engine: Engine
) -> None:
    """A peer is named by its code and address only (everything else is read from it
    and checked on chain): both are checked before anything is fetched or stored."""
    before = _count(clean_engine, Unit)
    h = scast.admin.headers
    for code in BAD_CODES:
        r = sclient.post("/v1/transfers/peers", json=_peer(code), headers=h)
        assert r.status_code == 422, (code, r.text)
    for url in ["http://x\n", "ftp://127.0.0.1", "http://a b", "127.0.0.1:9", ""]:
        r = sclient.post("/v1/transfers/peers", json=_peer("P1", url), headers=h)
        assert r.status_code == 422, (url, r.text)
    assert _count(clean_engine, Unit) == before
    # Well formed: fetched (no one answers on the discard port) — 503, nothing stored.
    r = sclient.post("/v1/transfers/peers", json=_peer("P1"), headers=h)
    assert r.status_code == 503, r.text
    assert _count(clean_engine, Unit) == before


def test_ingest_refuses_a_multi_line_title_before_storing_anything(
    sclient: TestClient, scast: Cast, clean_engine: Engine
) -> None:
    vol = n.new_volume(sclient, scast.operator)
    for title in BAD_TEXT:
        r = n.upload(sclient, scast.operator, vol, n.pdf(title), title=title)
        assert r.status_code == 422, (title, r.text)
    assert _count(clean_engine, Material) == 0


def test_transfers_refuse_multi_line_numbers_and_reasons_and_unsafe_receivers(
    sclient: TestClient, scast: Cast, clean_engine: Engine
) -> None:
    vol = n.new_volume(sclient, scast.operator)
    good = {
        "transfer_no": "ZD-2026-001",
        "volume_ids": [vol],
        "receiver": scast.other.unit_code,
        "reason": "工作调动",
    }
    bad: list[dict[str, Any]] = [
        *({**good, "transfer_no": t} for t in BAD_TEXT),
        *({**good, "reason": t} for t in BAD_TEXT),
        *({**good, "receiver": c} for c in BAD_CODES),
        {**good, "transfer_id": "T1\n"},
    ]
    for body in bad:
        r = sclient.post("/v1/transfers", json=body, headers=scast.operator.headers)
        assert r.status_code == 422, (body, r.text)
    assert _count(clean_engine, Transfer) == 0


@pytest.fixture
def world(sclient: TestClient, scast: Cast, deployment: Deployment) -> World:
    return build_world(sclient, scast, deployment)


@pytest.mark.parametrize("where", ["proof", "contract", "tx_hash"])
def test_a_trailing_newline_in_a_receipt_is_a_format_error(world: World, where: str) -> None:
    # ``^…$`` with re.match accepted "…\n" (and bytes.fromhex ignores it): a receipt
    # that is not the bytes it was issued as verified.
    doc = dict(world.receipt_a)
    if where == "proof":
        proof = list(doc["inclusion_proof"])
        assert proof, "the world's receipt has a proof"
        doc["inclusion_proof"] = [proof[0] + "\n", *proof[1:]]
    else:
        doc["anchor"] = {**doc["anchor"], where: doc["anchor"][where] + "\n"}
    r = world.client.post("/v1/verify", json={"receipt": doc}, headers=world.cast.operator.headers)
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("verification-format")


def _tar(*members: tuple[str, bytes | None]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_a_colliding_tar_member_is_named_without_the_server_path(tmp_path: Path) -> None:
    dest = tmp_path / "server-side" / "incoming"
    source = _tar(("pkg", None), ("pkg/a", b"file"), ("pkg/a/b", b"under a file"))
    with pytest.raises(PackageError) as refused:
        extract_tar(source, dest)
    message = str(refused.value)
    assert "pkg/a/b" in message
    assert str(tmp_path) not in message


def test_problem_details_never_carry_a_server_directory(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    detail = f"[Errno 20] Not a directory: '{home}/incoming/T1/pkg/a/b'"
    cleaned = without_server_paths(detail, [home])
    assert cleaned is not None and home not in cleaned and "pkg/a/b" in cleaned


def test_json_nested_too_deeply_is_a_format_error_not_a_crash() -> None:
    # With py_ecc's recursion limit (100,000), json.loads overflowed the C stack on
    # 200,000 levels: a segmentation fault. Bags, notices, envelopes, evidence and acts
    # from other deployments are read with parse_json.
    # notary.chain puts the limit back to py-evm's 12,288 (tests/security/test_deep_json.py);
    # the depth guard holds even where nothing did.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        deep = b"[" * 200_000 + b"]" * 200_000
        with pytest.raises(CanonicalJSONError, match="nested too deeply"):
            parse_json(deep)
        with pytest.raises(CanonicalJSONError):
            parse_json(deep.decode())
        with pytest.raises(ActFormatError):
            act_from_bytes(b"[" * 30_000 + b"]" * 30_000)
    finally:
        sys.setrecursionlimit(old)
    assert parse_json(b'{"a": [[1], {"b": []}]}') == {"a": [[1], {"b": []}]}


@pytest.mark.parametrize(
    "args",
    [
        ["init", "--centre-code", "../../x"],
        ["init", "--centre-code", "C1", "--centre-name", "档案\n中心"],
    ],
)
def test_init_refuses_an_unsafe_centre_code_or_name_before_creating_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    home = tmp_path / "home"
    assert run([args[0], "--home", str(home), *args[1:]]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("notary:") and "\n" not in err and "Traceback" not in err
    assert not home.exists()


def test_unit_add_refuses_an_unsafe_code_or_name_before_making_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    assert run(["init", "--home", str(home), "--centre-code", "CENTRE"]) == 0
    before = sorted(p.name for p in (home / "keys" / "units").iterdir())
    for code, name in (("U 1", "某单位"), ("U1", "某\n单位"), ("..", "某单位")):
        capsys.readouterr()
        assert run(["unit", "add", "--home", str(home), code, name]) in (1, 2)
        err = capsys.readouterr().err.strip()
        assert err.startswith("notary:") and "\n" not in err
    assert sorted(p.name for p in (home / "keys" / "units").iterdir()) == before
