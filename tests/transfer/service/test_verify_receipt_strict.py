"""One strict reading of a receipt (issue 21): ``POST /v1/verify`` and ``notary verify
--receipt`` refuse the same documents with the same check id, and the API says
``valid`` only when every step, the on-chain anchor included, passed.

The two documents an outside verifier found accepted by the API (``valid: true``) but
refused by the CLI and the spec: a receipt with a repeated key (``leaf_index`` twice,
the last copy right) and a receipt whose ``anchor`` was removed or set to null."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clients.cli import run
from notary.chain.node.rpcserver import ReadOnlyRpcServer
from notary.crypto import sm3
from notary.deployment import Deployment
from tests._support import notary_api as n
from tests._support.api import Cast

OFFLINE = ["format", "log-key", "entry", "checkpoint-signature", "inclusion"]


def _duplicate_leaf_index(receipt: dict[str, Any]) -> bytes:
    """The receipt with ``leaf_index`` twice: first a wrong value, then the right one
    (a last-wins reader sees a valid receipt)."""
    body = json.dumps(receipt)
    right = f'"leaf_index": {receipt["leaf_index"]}'
    assert body.count(right) == 1
    return body.replace(right, f'"leaf_index": {receipt["leaf_index"] + 1}, {right}').encode()


def _cases(receipt: dict[str, Any]) -> dict[str, bytes]:
    without_anchor = {k: v for k, v in receipt.items() if k != "anchor"}
    return {
        "duplicate leaf_index (last one right)": _duplicate_leaf_index(receipt),
        "anchor removed": json.dumps(without_anchor).encode(),
        "anchor null": json.dumps({**receipt, "anchor": None}).encode(),
        "receipt key repeated at the top of the body": b'{"receipt": {}, "receipt": '
        + json.dumps(receipt).encode()
        + b"}",
    }


def _api(client: TestClient, headers: dict[str, str], receipt_bytes: bytes) -> Any:
    body = (
        receipt_bytes
        if receipt_bytes.startswith(b'{"receipt"')
        else (b'{"receipt": ' + receipt_bytes + b"}")
    )
    return client.post(
        "/v1/verify", content=body, headers={**headers, "content-type": "application/json"}
    )


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(["verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_api_and_the_cli_refuse_the_same_malformed_receipts_with_the_same_check(
    nclient: TestClient,
    ncast: Cast,
    deployment: Deployment,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    content = n.pdf("strict reading")
    mid = n.upload(nclient, ncast.operator, vol, content).json()["id"]
    receipt = n.wait_receipt(nclient, ncast.operator, mid)
    h = ncast.audit.headers

    for name, doc in _cases(receipt).items():
        r = _api(nclient, h, doc)
        assert r.status_code == 422, (name, r.text)
        problem = r.json()
        assert problem["check"] == "format", (name, problem)
        assert problem["type"] == "urn:archive-notary:problem:verification-format"
        assert "valid" not in problem and "offline_checks" not in problem
        if name.startswith("receipt key repeated"):
            continue  # a request body, not a receipt file
        path = tmp_path / "receipt.json"
        path.write_bytes(doc)
        code, out, err = _cli(capsys, "--receipt", str(path), "--sm3", sm3(content).hex())
        assert code == 1 and err.count("\n") == 1, (name, err)
        assert "[format]" in err and "回执文件格式不对" in err, (name, err)
        assert "✗ 格式" in out and "FormatError" not in out + err, (name, out)
        code, out, err = _cli(capsys, "--receipt", str(path), "--json")
        assert code == 1 and json.loads(out)["check"] == "format", (name, out)
        assert json.loads(out)["valid"] is False


def test_valid_only_when_the_anchor_passed_and_offline_checks_are_separate(
    nclient: TestClient,
    ncast: Cast,
    deployment: Deployment,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    content = n.pdf("valid only with its anchor")
    mid = n.upload(nclient, ncast.operator, vol, content).json()["id"]
    receipt = n.wait_receipt(nclient, ncast.operator, mid)
    h = ncast.audit.headers

    ok = nclient.post("/v1/verify", json={"receipt": receipt, "sm3": sm3(content).hex()}, headers=h)
    assert ok.status_code == 200, ok.text
    answer = ok.json()
    assert answer["valid"] is True and answer["anchored"] is True
    assert answer["offline_checks"] == dict.fromkeys(OFFLINE, "passed")
    assert answer["anchor"]["block_number"] == receipt["anchor"]["block_number"]
    without_sm3 = nclient.post("/v1/verify", json={"receipt": receipt}, headers=h).json()
    assert without_sm3["valid"] is True and without_sm3["offline_checks"]["entry"] == "skipped"

    # Proved offline, but the chain holds no such anchor: a 422 anchor problem whose
    # offline_checks say what held — nothing a client can read as valid.
    moved = {**receipt, "anchor": {**receipt["anchor"], "block_number": 10**6}}
    r = nclient.post("/v1/verify", json={"receipt": moved}, headers=h)
    assert r.status_code == 422 and r.json()["check"] == "anchor"
    assert r.json()["offline_checks"] == {**dict.fromkeys(OFFLINE, "passed"), "entry": "skipped"}
    assert "valid" not in r.json()

    # The CLI: the same check id for the same document; valid only with the anchor.
    moved_file, good_file = tmp_path / "moved.json", tmp_path / "good.json"
    moved_file.write_text(json.dumps(moved), encoding="utf-8")
    good_file.write_text(json.dumps(receipt), encoding="utf-8")
    assert deployment.embedded is not None
    with ReadOnlyRpcServer(deployment.embedded) as rpc:
        code, out, err = _cli(capsys, "--receipt", str(moved_file), "--rpc", rpc.url, "--json")
        assert code == 1 and "[anchor]" in err
        failure = json.loads(out)
        assert failure["check"] == "anchor" and failure["valid"] is False
        assert failure["offline_checks"]["inclusion"] == "passed"
        code, out, err = _cli(capsys, "--receipt", str(good_file), "--rpc", rpc.url, "--json")
        assert code == 0, err
        report = json.loads(out)
        assert report["valid"] is True and report["anchor"]["block_number"]
    # Without --rpc the anchor is not checked: the offline steps pass, valid stays false.
    code, out, err = _cli(capsys, "--receipt", str(good_file), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["valid"] is False and report["anchor_checked"] is False
    assert report["offline_checks"]["inclusion"] == "passed"
    code, out, err = _cli(capsys, "--receipt", str(good_file))
    assert code == 0 and "链上锚定未核验" in out
