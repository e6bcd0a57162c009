"""The SDK against the real service (uvicorn subprocess): upload, receipt, verified
download, verify by SM3, the async client, and the on-chain check over the RPC."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clients.demo import sample_pdf
from clients.sdk import AsyncNotaryClient, AuthenticationError, NotaryClient, NotFound
from notary.crypto import sm3
from tests._support.served import Service, new_volume


def test_upload_receipt_download_round_trip(service: Service, tmp_path: Path) -> None:
    vol = new_volume(service)
    f = tmp_path / "resume.pdf"
    f.write_bytes(sample_pdf("SDK round trip"))
    with service.client(rpc_url=service.rpc_url) as c:
        up = c.upload_material(
            vol, f, category="1", seq_no=1, pages=2, title="干部履历表", formation_date="1990-07-01"
        )
        assert up.sm3 == sm3(f.read_bytes()).hex()
        mid = str(up.material["id"])
        rr = c.receipt(mid, wait=30)
        assert rr.anchored and rr.verified is not None
        assert rr.verified.anchor is not None  # checked on chain through the RPC
        d = c.download(mid, purpose="SDK 测试")
        assert d.content == f.read_bytes() and "anchor" in d.client_checks
        found = c.verify_file(f)
        assert found["found"] and found["registrations"][0]["client_verified"]
        assert c.verifier.anchor_checks >= 2


def test_async_client_against_the_service(service: Service, tmp_path: Path) -> None:
    vol = new_volume(service)
    f = tmp_path / "a.pdf"
    f.write_bytes(sample_pdf("async"))

    async def main() -> None:
        async with AsyncNotaryClient(service.url, service.keys["UNIT-A"]) as c:
            up = await c.upload_material(
                vol, f, category="2", seq_no=1, pages=1, title="自传", formation_date="1991-01-01"
            )
            d = await c.download(str(up.material["id"]), purpose="async", wait=30)
            assert d.content == f.read_bytes()
            page = await c.list_volumes()
            assert vol in {v["id"] for v in page["items"]}

    asyncio.run(main())


def test_another_units_volume_is_not_found_and_a_bad_key_is_401(service: Service) -> None:
    vol = new_volume(service, "UNIT-A")
    with service.client("UNIT-B") as c, pytest.raises(NotFound):
        c.get_volume(vol)
    with NotaryClient(service.url, "an_" + "x" * 43) as c, pytest.raises(AuthenticationError):
        c.list_volumes()
