"""A receipt fetched from the running service verifies with the stand-alone verifier
(``notary verify``, a separate process) against the chain's JSON-RPC alone — with the
service stopped, its database and the rest of its home deleted, only the chain left."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from notary._internal.net import free_port
from notary.crypto import sm3
from tests.faults.harness import (
    META,
    NOTARY,
    Server,
    bearer,
    embedded_rpc,
    init_embedded_home,
    pdf,
    setup_operator,
    wait_for,
)

pytestmark = pytest.mark.slow  # notary serve, then notary verify, as processes


def notary_verify(receipt: Path, sm3_hex: str, rpc: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NOTARY), "verify", "--receipt", str(receipt), "--sm3", sm3_hex, "--rpc", rpc,
         "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_receipt_from_the_api_verifies_against_the_chain_alone(tmp_path: Path) -> None:
    home = init_embedded_home(tmp_path / "home")
    content = pdf("干部履历表 stand-alone verification")
    digest = sm3(content).hex()
    receipt_file = tmp_path / "r.json"
    with Server(home.path, tmp_path / "server.log", chain_rpc_port=free_port()) as server:
        key, volume = setup_operator(server.base, home.admin_key, home.security_key)
        with httpx.Client(base_url=server.base, headers=bearer(key), timeout=30) as c:
            r = c.post(
                f"/v1/volumes/{volume}/materials",
                data=META,
                files={"file": ("m.pdf", content, "application/pdf")},
            )
            assert r.status_code == 201, r.text
            url = r.json()["receipt_url"]

            def complete() -> dict[str, Any] | None:
                got = c.get(url)
                return dict(got.json()) if got.status_code == 200 else None

            receipt = wait_for(complete, 30, "the receipt to be anchored")
            chain = c.get("/v1/chain").json()
        receipt_file.write_text(json.dumps(receipt), "utf-8")
        assert chain["rpc_url"] == server.rpc_url
        assert chain["contract"] == receipt["anchor"]["contract"]
        # While the service runs, its own read-only endpoint serves the verifier.
        live = notary_verify(receipt_file, digest, chain["rpc_url"])
        assert live.returncode == 0, live.stderr

    # The service is stopped. Keep the chain's directory only; delete everything else.
    chain_only = tmp_path / "chain-only"
    shutil.copytree(home.path / "chain", chain_only)
    shutil.rmtree(home.path)
    assert not (home.path / "notary.db").exists()

    with embedded_rpc(chain_only, receipt["anchor"]["chain_id"]) as rpc:
        done = notary_verify(receipt_file, digest, rpc)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["valid"] and report["material_checked"]
        assert report["leaf_index"] == receipt["leaf_index"]
        assert report["anchor"]["block_number"] == receipt["anchor"]["block_number"]

        other = notary_verify(receipt_file, "ab" * 32, rpc)
        assert other.returncode != 0 and "[entry]" in other.stderr

        forged = dict(receipt, leaf_index=receipt["leaf_index"] + 1)
        forged_file = tmp_path / "forged.json"
        forged_file.write_text(json.dumps(forged), "utf-8")
        refused = notary_verify(forged_file, digest, rpc)
        assert refused.returncode != 0, refused.stdout
