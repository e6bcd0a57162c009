"""``pip install archive-notary`` without ``[server]``: an archive system or an auditor
verifies receipts and materials with the SDK and the CLI, and the server's packages are
never imported (tests/clients/sdk_only.py makes them unimportable)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clients.demo import sample_pdf
from tests._support.served import Service, new_volume

pytestmark = pytest.mark.slow  # a fresh venv, and Python children run in it

ROOT = Path(__file__).resolve().parents[2]


def _sdk_only(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "tests" / "clients" / "sdk_only.py"), *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_receipts_and_materials_verify_without_the_server_packages(
    service: Service, tmp_path: Path
) -> None:
    vol = new_volume(service)
    material = tmp_path / "degree.pdf"
    material.write_bytes(sample_pdf("SDK-only verification"))
    with service.client() as c:
        up = c.upload_material(
            vol, material, category="4-1", seq_no=1, pages=1, title="学位证书",
            formation_date="2001-07-01",
        )  # fmt: skip
        receipt = c.receipt(str(up.material["id"]), wait=30)
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(json.dumps(receipt.document), encoding="utf-8")

    # Offline, the chain through its read-only JSON-RPC.
    r = _sdk_only("verify", "--receipt", receipt_file, "--file", material, "--rpc",
                  service.rpc_url, "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["valid"]

    # Against the service: the SDK asks, and re-verifies the receipts it is given.
    env = {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys["UNIT-A"]}
    r = _sdk_only("verify", material, "--rpc", service.rpc_url, env=env)
    assert r.returncode == 0, r.stderr
    assert "回执已在本地核验" in r.stdout

    # A forged material is refused the same way as with everything installed.
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(sample_pdf("not the registered one"))
    r = _sdk_only("verify", "--receipt", receipt_file, "--file", forged)
    assert r.returncode == 1 and "[entry]" in r.stderr


def test_a_server_command_says_which_extra_it_needs(tmp_path: Path) -> None:
    r = _sdk_only("init", "--home", tmp_path / "home")
    assert r.returncode == 2
    assert "archive-notary[server]" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "home").exists()
