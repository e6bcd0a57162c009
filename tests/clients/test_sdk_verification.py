"""The SDK verifies on the client: a tampered download or receipt served through an
httpx MockTransport is refused, whatever the (simulated) service claims."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx
import pytest

from clients.sdk import (
    AsyncNotaryClient,
    AuthenticationError,
    ClientVerificationError,
    NotaryClient,
    NotFound,
    ServiceUnavailable,
    TransportError,
)
from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey, sm3
from notary.entries import decode_entry, encode_entry, material_registered
from notary.log import MerkleLog
from notary.receipts import AnchorRef, build_receipt

MID = "7f3c1e0a-0000-4000-8000-000000000001"
CONTENT = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class FakeService:
    """Just enough of the API, with knobs to tamper with what it serves."""

    def __init__(self) -> None:
        self.log_key = SM2PrivateKey.generate()
        log = MerkleLog()
        entries = []
        for i, data in enumerate([b"other material", CONTENT, b"third"]):
            mid = MID if i == 1 else f"00000000-0000-4000-8000-00000000000{i}"
            e = material_registered(
                material_id=mid,
                sm3_hex=sm3(data).hex(),
                cid=f"bafkreicid{i}",
                size=len(data),
                category="1",
                volume="ab" * 32,
                unit="UNIT-A",
                version=1,
                time_ms=1_000 + i,
            )
            log.append(encode_entry(e))
            entries.append(e)
        cp = sign_checkpoint(self.log_key, "test/log", log.size, log.root(), 5_000)
        anchor = AnchorRef(
            chain_id=1, contract="0x" + "11" * 20, tx_hash="0x" + "22" * 32, block_number=7
        )
        self.receipt: dict[str, Any] = build_receipt(
            decode_entry(encode_entry(entries[1])),
            1,
            log.inclusion_proof(1),
            cp,
            self.log_key.public_key,
            anchor,
        ).to_json()
        self.checkpoint = cp.to_json()
        self.content = CONTENT
        self.material = {"id": MID, "sm3": sm3(CONTENT).hex(), "cid": "bafkreicid1", "size": 46}
        self.content_header: str | None = sm3(CONTENT).hex()
        self.receipt_body: bytes | None = None  # served as it is instead of ``receipt``
        self.receipt_status = 200
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if request.headers.get("authorization") != "Bearer an_good":
            return _problem(401, "unauthorized", "unknown API key")
        if path == "/v1/log/checkpoints/latest":
            return httpx.Response(200, json={"tree_size": 3, "checkpoint": self.checkpoint})
        if path == f"/v1/materials/{MID}":
            return httpx.Response(200, json=self.material)
        if path == f"/v1/materials/{MID}/receipt":
            if self.receipt_body is not None:
                headers = {"Content-Type": "application/json"}
                return httpx.Response(
                    self.receipt_status, content=self.receipt_body, headers=headers
                )
            return httpx.Response(self.receipt_status, json=self.receipt)
        if path == f"/v1/materials/{MID}/content":
            headers = {"X-Notary-Checks": "cid,envelope,sm3,entry,inclusion,anchor"}
            if self.content_header:
                headers["X-Content-SM3"] = self.content_header
            return httpx.Response(200, content=self.content, headers=headers)
        if path == "/v1/health":
            return _problem(503, "unavailable", "chain down", headers={"Retry-After": "5"})
        return _problem(404, "not-found", f"{path} does not exist")


def _problem(
    status: int, slug: str, detail: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {
        "type": f"urn:archive-notary:problem:{slug}",
        "title": slug,
        "status": status,
        "detail": detail,
    }
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/problem+json", **(headers or {})},
    )


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


def sync_client(fake: FakeService, **kw: Any) -> NotaryClient:
    return NotaryClient("http://notary.test", "an_good", transport=httpx.MockTransport(fake), **kw)


def test_an_honest_download_is_verified_on_the_client(fake: FakeService) -> None:
    with sync_client(fake) as c:
        d = c.download(MID, purpose="审核")
    assert d.content == CONTENT and d.sm3 == sm3(CONTENT).hex()
    assert set(d.client_checks) >= {"content-sm3", "entry", "inclusion", "checkpoint-signature"}
    assert d.receipt is not None and d.receipt.anchored
    assert d.receipt.verified.offline.leaf_index == 1


def test_a_tampered_download_is_refused(fake: FakeService) -> None:
    fake.content = CONTENT.replace(b"1.4", b"1.5")
    with sync_client(fake) as c, pytest.raises(ClientVerificationError) as e:
        c.download(MID, purpose="审核")
    assert e.value.check == "content-sm3"


def test_content_and_metadata_both_altered_still_fail_on_the_receipt(fake: FakeService) -> None:
    """A service lying consistently in its own metadata is caught by the signed log."""
    fake.content = b"%PDF-1.4 forged"
    fake.material = {**fake.material, "sm3": sm3(fake.content).hex()}
    fake.content_header = None
    with sync_client(fake) as c, pytest.raises(ClientVerificationError) as e:
        c.download(MID, purpose="审核")
    assert e.value.check == "entry"


@pytest.mark.parametrize(
    ("tamper", "check"),
    [
        (lambda r: r["entry"].__setitem__("time_ms", 1), "inclusion"),
        (lambda r: r["inclusion_proof"].reverse(), "inclusion"),
        (
            lambda r: r["checkpoint"]["checkpoint"].__setitem__("timestamp_ms", 1),
            "checkpoint-signature",
        ),
        (lambda r: r.__setitem__("unknown", 1), "format"),
    ],
    ids=["entry", "proof", "checkpoint", "format"],
)
def test_a_tampered_receipt_is_refused(fake: FakeService, tamper: Any, check: str) -> None:
    doc = copy.deepcopy(fake.receipt)
    tamper(doc)
    fake.receipt = doc
    with sync_client(fake) as c, pytest.raises(ClientVerificationError) as e:
        c.receipt(MID)
    assert e.value.check == check


def _twice(receipt: dict[str, Any], key: str) -> bytes:
    """``key`` twice: a wrong value first, the right one last (a last-wins reader sees
    the valid receipt)."""
    text = json.dumps(receipt)
    right = f'"{key}": {json.dumps(receipt[key])}'
    return text.replace(right, f'"{key}": 0, {right}').encode()


def test_the_one_strict_reading_refuses_a_repeated_key_or_a_missing_anchor(
    fake: FakeService,
) -> None:
    """Issue 21: the SDK reads served receipts from their bytes with parse_receipt."""
    good = fake.receipt
    served = {
        "repeated leaf_index": _twice(good, "leaf_index"),
        "anchor null": json.dumps({**good, "anchor": None}).encode(),
        "anchor removed": json.dumps({k: v for k, v in good.items() if k != "anchor"}).encode(),
    }
    for name, body in served.items():
        fake.receipt_body = body
        with sync_client(fake) as c, pytest.raises(ClientVerificationError) as e:
            c.receipt(MID)
        assert e.value.check == "format", name
        with sync_client(fake) as c, pytest.raises(ClientVerificationError) as e:
            c.check_receipt(body)  # a receipt file's bytes
        assert e.value.check == "format", name


def test_a_pending_receipt_is_read_only_from_a_202(fake: FakeService) -> None:
    pending = {**fake.receipt, "anchor": None}
    fake.receipt_status = 202
    fake.receipt_body = json.dumps({"status": "pending", "leaf_index": 1, "receipt": pending})
    fake.receipt_body = fake.receipt_body.encode()
    with sync_client(fake) as c:
        result = c.receipt(MID)
    assert result.status == "pending" and result.verified is not None
    assert result.verified.receipt.anchor is None
    # The same proof presented as a receipt is malformed.
    with sync_client(fake) as c, pytest.raises(ClientVerificationError) as e:
        c.check_receipt(json.dumps(pending).encode())
    assert e.value.check == "format"


def test_a_receipt_under_another_log_key_is_refused(fake: FakeService) -> None:
    pinned = SM2PrivateKey.generate().public_key
    with sync_client(fake, log_key=pinned) as c, pytest.raises(ClientVerificationError) as e:
        c.receipt(MID)
    assert e.value.check == "log-key"
    # Pinned explicitly: the service is not asked for the key.
    assert "GET /v1/log/checkpoints/latest" not in fake.calls


def test_pinned_log_key_accepts_the_real_one(fake: FakeService) -> None:
    with sync_client(fake, log_key=fake.log_key.public_key.raw.hex()) as c:
        assert c.receipt(MID).verified is not None
    assert "GET /v1/log/checkpoints/latest" not in fake.calls


def test_verification_off_is_explicit_and_lets_tampered_bytes_through(fake: FakeService) -> None:
    fake.content = b"tampered"
    with sync_client(fake, verify=False) as c:
        d = c.download(MID, purpose="审核")
    assert d.content == b"tampered" and d.client_checks == () and d.receipt is None


def test_async_client_verifies_the_same_way(fake: FakeService) -> None:
    async def main() -> None:
        transport = httpx.MockTransport(fake)
        async with AsyncNotaryClient("http://notary.test", "an_good", transport=transport) as c:
            d = await c.download(MID, purpose="审核")
            assert d.content == CONTENT
            fake.content = b"x" + CONTENT
            with pytest.raises(ClientVerificationError):
                await c.download(MID, purpose="审核")
            with pytest.raises(NotFound):
                await c.get_volume("nope")

    asyncio.run(main())


def test_problem_json_becomes_typed_errors(fake: FakeService) -> None:
    with sync_client(fake) as c:
        with pytest.raises(NotFound) as nf:
            c.get_volume("v-unknown")
        assert nf.value.status == 404 and nf.value.type.endswith(":not-found")
        assert nf.value.detail == "/v1/volumes/v-unknown does not exist"
        with pytest.raises(ServiceUnavailable) as su:
            c.health()
        assert su.value.status == 503 and su.value.retry_after == 5.0
    with (
        NotaryClient("http://notary.test", "an_bad", transport=httpx.MockTransport(fake)) as c,
        pytest.raises(AuthenticationError) as au,
    ):
        c.list_volumes()
    assert au.value.status == 401 and au.value.title == "unauthorized"


def test_unreachable_service_is_a_transport_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        NotaryClient("http://127.0.0.1:9", "k", transport=httpx.MockTransport(refuse)) as c,
        pytest.raises(TransportError, match="cannot reach"),
    ):
        c.list_volumes()
