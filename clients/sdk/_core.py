"""The request/response layer shared by the sync and the async client.

Every API operation is written once, as a generator (sans-I/O): it yields a
:class:`Call` (or a :class:`Sleep`) and receives the ``httpx.Response``; the sync
client drives it with ``httpx.Client``, the async one with ``httpx.AsyncClient``.
Problem responses become typed errors here, and the client-side verification of
receipts and content runs here, so both clients behave identically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from clients.sdk._verify import VerifiedReceipt, Verifier
from clients.sdk.errors import (
    ClientVerificationError,
    NotaryAPIError,
    ServiceUnavailable,
    api_error_class,
)
from notary.crypto import sm3, sm3_file
from notary.errors import FormatError
from notary.receipts import read_json

USER_AGENT = "archive-notary-sdk/0.1"


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    content: Any = None  # a raw body (file object or bytes)
    ok: tuple[int, ...] = ()  # non-2xx statuses that are answers, not errors
    dest: Path | None = None  # stream the body into this file


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Step = Call | Sleep
Op = Generator[Step, Any, Any]


def raise_for_problem(resp: httpx.Response, ok: tuple[int, ...] = ()) -> None:
    """Turn an error response into a typed error (RFC 9457 fields when present)."""
    if resp.is_success or resp.status_code in ok:
        return
    problem: dict[str, Any] = {}
    try:
        body = resp.json()
        if isinstance(body, dict):
            problem = body
    except ValueError:
        pass
    kwargs: dict[str, Any] = {
        "type": str(problem.get("type", "about:blank")),
        "title": str(problem.get("title", resp.reason_phrase)),
        "detail": str(problem.get("detail", "")),
        "problem": problem,
    }
    cls = api_error_class(resp.status_code)
    if cls is ServiceUnavailable:
        retry = resp.headers.get("retry-after", "")
        raise ServiceUnavailable(
            resp.status_code, retry_after=float(retry) if retry.isdigit() else None, **kwargs
        )
    raise cls(resp.status_code, **kwargs)


def _json(resp: httpx.Response) -> Any:
    """The answer's JSON, read strictly (notary.receipts.read_json): receipts travel in
    these answers, and a duplicate key would let this client and another reader of the
    same bytes see different documents."""
    try:
        return read_json(resp.content)
    except FormatError as e:
        raise ClientVerificationError("format", f"the service's answer: {e}") from None


# --- results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    """A material's evidence receipt as the service gave it, verified on the client."""

    material_id: str
    status: str  # "anchored" | "pending"
    leaf_index: int | None
    document: dict[str, Any] | None  # None: no checkpoint covers the entry yet
    verified: VerifiedReceipt | None  # None when verification was turned off or no document

    @property
    def anchored(self) -> bool:
        return self.status == "anchored"


@dataclass(frozen=True, slots=True)
class Download:
    """Downloaded content with what was checked on the client."""

    material: dict[str, Any]
    content: bytes
    sm3: str
    receipt: ReceiptResult | None
    server_checks: tuple[str, ...]
    client_checks: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Uploaded:
    material: dict[str, Any]
    sm3: str


# --- the log key pin ------------------------------------------------------------------


def ensure_pin(v: Verifier) -> Op:
    if not v.enabled or v.log_key_fingerprint is not None:
        return None
    resp = yield Call("GET", "/v1/log/checkpoints/latest", ok=(404,))
    if resp.status_code == 404:
        return None  # no checkpoint yet: nothing can be verified, pin on the next call
    key_id = resp.json()["checkpoint"]["checkpoint"]["key_id"]
    v.log_key_fingerprint = bytes.fromhex(key_id)
    return None


# --- operations -------------------------------------------------------------------------


def get_json(path: str, params: dict[str, Any] | None = None) -> Op:
    resp = yield Call("GET", path, params=params)
    return _json(resp)


def send_json(method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Op:
    resp = yield Call(method, path, json=body, params=params)
    return None if resp.status_code == 204 or not resp.content else _json(resp)


def upload(
    v: Verifier,
    volume_id: str,
    file: Path,
    *,
    category: str,
    seq_no: int,
    pages: int,
    title: str,
    formation_date: str,
    supersedes: str | None = None,
) -> Op:
    """Upload with the SM3 computed here: the service refuses the upload if the bytes it
    received hash otherwise, and the answer must name the same SM3."""
    digest = sm3_file(file).hex()
    data = {
        "category": category,
        "seq_no": str(seq_no),
        "pages": str(pages),
        "title": title,
        "formation_date": formation_date,
    }
    if supersedes:
        data["supersedes"] = supersedes
    with open(file, "rb") as f:
        resp = yield Call(
            "POST",
            f"/v1/volumes/{volume_id}/materials",
            data=data,
            files={"file": (file.name, f, "application/octet-stream")},
            headers={"X-Content-SM3": digest},
        )
    body = _json(resp)
    if v.enabled and body.get("sm3") != digest:
        raise ClientVerificationError(
            "content-sm3", f"the service registered SM3 {body.get('sm3')}, the file is {digest}"
        )
    return Uploaded(body, digest)


def receipt(
    v: Verifier, material_id: str, *, wait: float = 0.0, material: dict[str, Any] | None = None
) -> Op:
    """The receipt (200 anchored / 202 pending), verified against the material's metadata."""
    if material is None:
        material = yield from get_json(f"/v1/materials/{material_id}")
    assert material is not None
    deadline = time.monotonic() + wait
    while True:
        resp = yield Call("GET", f"/v1/materials/{material_id}/receipt", ok=(202,))
        body = _json(resp)
        if resp.status_code == 200 or time.monotonic() >= deadline:
            break
        yield Sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    if resp.status_code == 200:
        status, doc, leaf = "anchored", body, body.get("leaf_index")
    else:
        status, doc, leaf = "pending", body.get("receipt"), body.get("leaf_index")
    verified = None
    if v.enabled and doc is not None:
        yield from ensure_pin(v)
        # A 200 is a receipt (its anchor required); only the 202 body is a pending one.
        verified = v.check_receipt(
            doc,
            material_id=str(material["id"]),
            sm3=bytes.fromhex(str(material["sm3"])),
            cid=str(material["cid"]),
            pending=status == "pending",
        )
    return ReceiptResult(str(material_id), status, leaf, doc, verified)


def download(v: Verifier, material_id: str, purpose: str, *, wait: float = 5.0) -> Op:
    """Read a material and check, on the client: SM3(content) = registered SM3 = the
    receipt's entry; the receipt verifies against the pinned log key (and the chain)."""
    material = yield from get_json(f"/v1/materials/{material_id}")
    resp = yield Call("GET", f"/v1/materials/{material_id}/content", params={"purpose": purpose})
    content = resp.content
    digest = sm3(content).hex()
    server_checks = tuple(c for c in resp.headers.get("x-notary-checks", "").split(",") if c)
    if not v.enabled:
        return Download(material, content, digest, None, server_checks)
    checks = ["content-sm3"]
    if digest != material["sm3"]:
        raise ClientVerificationError(
            "content-sm3",
            f"the downloaded content hashes to {digest}, registered {material['sm3']}",
        )
    header = resp.headers.get("x-content-sm3")
    if header is not None and header.lower() != digest:
        raise ClientVerificationError("header", "X-Content-SM3 differs from the content")
    rr = yield from receipt(v, material_id, wait=wait, material=material)
    if rr.document is None or rr.verified is None:
        raise ClientVerificationError(
            "inclusion", "no signed checkpoint covers the material yet: retry in a moment"
        )
    checks += ["entry", "checkpoint-signature", "inclusion", "log-key"]
    if rr.verified.anchor is not None:
        checks.append("anchor")
    return Download(material, content, digest, rr, server_checks, tuple(checks))


def verify_by_sm3(v: Verifier, sm3_hex: str) -> Op:
    """POST /v1/verify by SM3; every receipt in the answer is verified on the client too
    (``client_verified`` is added to each registration that has one, and
    ``client_anchor``: the chain check's result when the client has an ``rpc_url`` and
    the receipt is anchored, else null)."""
    digest = sm3_hex.lower()
    body = yield from send_json("POST", "/v1/verify", {"sm3": digest})
    if v.enabled:
        for reg in body.get("registrations", []):
            doc = reg.get("receipt")
            if doc is None:
                continue
            yield from ensure_pin(v)
            checked = v.check_receipt(
                doc,
                material_id=str(reg["material_id"]),
                sm3=bytes.fromhex(digest),
                pending=reg.get("anchored") is not True,
            )
            reg["client_verified"] = True
            reg["client_anchor"] = None if checked.anchor is None else checked.anchor.to_json()
    return body


def verify_receipt_remotely(receipt: bytes | str | dict[str, Any], sm3_hex: str | None) -> Op:
    """POST /v1/verify with a receipt: a dict as JSON, bytes or text as they are."""
    if isinstance(receipt, dict):
        body: dict[str, Any] = {"receipt": receipt}
        if sm3_hex:
            body["sm3"] = sm3_hex.lower()
        return (yield from send_json("POST", "/v1/verify", body))
    raw = receipt.encode("utf-8") if isinstance(receipt, str) else receipt
    sm3_part = b"" if not sm3_hex else b',"sm3":' + json.dumps(sm3_hex.lower()).encode()
    headers = {"Content-Type": "application/json"}
    content = b'{"receipt":' + raw + sm3_part + b"}"
    resp = yield Call("POST", "/v1/verify", content=content, headers=headers)
    return _json(resp)


def verify_receipt_locally(v: Verifier, doc: Any, sm3_hex: str | None = None) -> Op:
    yield from ensure_pin(v)
    return v.check_receipt(doc, sm3=None if sm3_hex is None else bytes.fromhex(sm3_hex))


def download_package(transfer_id: str, dest: Path) -> Op:
    yield Call("GET", f"/v1/transfers/{transfer_id}/package.tar", dest=dest)
    return dest


def download_pdf(path: str, dest: Path, fill: dict[str, str] | None = None) -> Op:
    """A printable form (A4 PDF) streamed into ``dest``; ``fill``: names to print on it
    (sent in a POST body, never in the URL)."""
    if fill:
        yield Call("POST", path, json=fill, dest=dest)
    else:
        yield Call("GET", path, dest=dest)
    return dest


def import_package(transfer_id: str, path: Path) -> Op:
    """Offline delivery (机要): the package file is the request body (application/x-tar)."""
    with open(path, "rb") as f:
        resp = yield Call(
            "POST",
            f"/v1/transfers/{transfer_id}/import",
            content=f,
            headers={"Content-Type": "application/x-tar"},
        )
    return _json(resp)


def auth_headers(api_key: str | None) -> dict[str, str]:
    h = {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json"}
    if api_key:
        h["Authorization"] = f"Bearer {api_key}"
    return h


def transport_error(e: httpx.HTTPError, base_url: str) -> Exception:
    from clients.sdk.errors import TransportError

    return TransportError(f"cannot reach {base_url}: {type(e).__name__}: {e}")


__all__ = [
    "Call",
    "Download",
    "NotaryAPIError",
    "Op",
    "ReceiptResult",
    "Sleep",
    "Uploaded",
    "raise_for_problem",
]
