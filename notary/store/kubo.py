"""A thin client of the Kubo RPC API (``/api/v0``), also spoken by js-ipfs.

Why not ``ipfshttpclient``: it refuses every Kubo since 0.8 and is unmaintained.

Rules this client keeps:

* every call is a POST (Kubo refuses GET on the RPC API);
* every call carries ``cid-base=base32`` and a server-side ``timeout`` (without
  one a missing CID waits forever for the network), plus an httpx timeout a
  little longer, so the node's own "timed out" answer normally wins;
* the node is not trusted: ``put`` recomputes the CID locally while it uploads,
  reads fetch blocks with ``block/get`` and re-hash each one, ``cat`` recomputes
  the root, CAR exports are re-verified block by block, CAR imports upload only
  blocks that verified.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Generator, Iterator
from typing import Any, BinaryIO, cast

import httpx
from multiformats import CID

from notary.store.base import (
    ContentIntegrityError,
    ContentNotFound,
    ContentStore,
    InvalidCIDError,
    StoreError,
    StoreUnavailable,
)
from notary.store.car import CarReader, CarWriter, encode_header, write_section
from notary.store.cid import cid_str, to_binary, verify_block
from notary.store.unixfs import CHUNK_SIZE, FileDagBuilder, build_file, iter_file, links_of

DEFAULT_API = "http://127.0.0.1:5001"
# How long a node's swarm addresses are reused (KuboStore.swarm_addresses).
SWARM_ADDRESSES_TTL = 60.0


def _client_timeout(t: float) -> float:
    """Ours is a little longer than the node's own, so its "timed out" answer arrives first."""
    return t + min(5.0, 1.0 + 0.1 * t)


_NOT_FOUND_MARKERS = (
    "not found",
    "could not find",
    "timed out",
    "deadline exceeded",
    "not pinned",
    "no link named",
)


class _CidTee(io.RawIOBase):
    """Passes a stream through to the upload while building its CID on the side."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._builder = FileDagBuilder()
        self._pending = bytearray()
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._source.read(len(view))
        if not data:
            self.eof = True
            return 0
        view[: len(data)] = data
        self._pending += data
        while len(self._pending) >= CHUNK_SIZE:
            self._builder.add(bytes(self._pending[:CHUNK_SIZE]))
            del self._pending[:CHUNK_SIZE]
        return len(data)

    def finish(self) -> bytes:
        if self._pending:
            self._builder.add(bytes(self._pending))
            self._pending.clear()
        return self._builder.finish()


class _IterReader(io.RawIOBase):
    """A readable file over an iterator of byte strings (an HTTP body, a CAR re-encoder)."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._buf:
            part = next(self._parts, None)
            if part is None:
                return 0
            self._buf = part
        n = min(len(view), len(self._buf))
        view[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _first_line_with(body: bytes, key: str) -> list[dict[str, Any]]:
    """Parse an NDJSON (or single JSON) answer; keep the objects that have ``key``."""
    found = []
    for line in body.splitlines():
        if line.strip():
            obj = json.loads(line)
            if isinstance(obj, dict) and key in obj:
                found.append(obj)
    return found


class KuboStore(ContentStore):
    """Content on a Kubo (or js-ipfs) node through its RPC API.

    ``timeout`` (seconds) bounds every call unless a call passes its own;
    ``has_timeout`` is shorter because a node without ``offline`` support (js-ipfs)
    only says "absent" when the timeout expires.
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API,
        *,
        timeout: float = 30.0,
        has_timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = httpx.URL(api_url)
        self.api_url = str(url).rstrip("/")
        self.timeout = timeout
        self.has_timeout = has_timeout
        self._where = f"{url.host}:{url.port}"
        self._client = httpx.Client(base_url=self.api_url + "/api/v0", transport=transport)
        self._swarm: tuple[float, list[str]] | None = None

    def close(self) -> None:
        self._client.close()

    # --- transport ------------------------------------------------------------

    def _params(self, params: dict[str, str], timeout: float) -> dict[str, str]:
        return {**params, "cid-base": "base32", "timeout": f"{max(1, round(timeout * 1000))}ms"}

    def _request(
        self,
        path: str,
        params: dict[str, str],
        *,
        timeout: float | None,
        files: dict[str, Any] | None = None,
        subject: str | None = None,
    ) -> httpx.Response:
        """Send one POST, wait for the whole answer, and map failures to typed errors."""
        t = self.timeout if timeout is None else timeout
        request = self._client.build_request(
            "POST",
            path,
            params=self._params(params, t),
            files=files,
            timeout=httpx.Timeout(_client_timeout(t), connect=min(t, 5.0)),
        )
        response = self._send(request, t, stream=False)
        self._raise_for_status(response, path, subject)
        return response

    def _send(self, request: httpx.Request, timeout: float, *, stream: bool) -> httpx.Response:
        try:
            return self._client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise StoreUnavailable(
                f"IPFS node at {self._where} did not answer {request.url.path} "
                f"within {_client_timeout(timeout):g} s: {exc!r}"
            ) from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"IPFS node at {self._where} is unreachable: {exc!r}") from exc

    def _raise_for_status(self, response: httpx.Response, path: str, subject: str | None) -> None:
        if response.is_success:
            return
        body = response.read()
        try:
            message = str(json.loads(body).get("Message", body[:200]))
        except (ValueError, AttributeError):
            message = body[:200].decode("utf-8", "replace")
        lowered = message.lower()
        if subject is not None and any(m in lowered for m in _NOT_FOUND_MARKERS):
            raise ContentNotFound(subject, f"IPFS node at {self._where}: {message}")
        if response.status_code == 400 and subject is not None:
            raise InvalidCIDError(f"IPFS node at {self._where} refused {subject!r}: {message}")
        raise StoreError(
            f"IPFS node at {self._where}: {path} failed with HTTP {response.status_code}: {message}"
        )

    def _stream_body(
        self, request: httpx.Request, timeout: float, subject: str
    ) -> Generator[bytes, None, None]:
        response = self._send(request, timeout, stream=True)
        try:
            self._raise_for_status(response, request.url.path, subject)
            try:
                yield from response.iter_bytes()
            except httpx.TransportError as exc:
                raise StoreUnavailable(
                    f"IPFS node at {self._where} broke off {request.url.path}: {exc!r}"
                ) from exc
        finally:
            response.close()

    # --- node -----------------------------------------------------------------

    def version(self, *, timeout: float | None = None) -> dict[str, Any]:
        return cast(dict[str, Any], self._request("/version", {}, timeout=timeout).json())

    def id(self, *, timeout: float | None = None) -> dict[str, Any]:
        return cast(dict[str, Any], self._request("/id", {}, timeout=timeout).json())

    def swarm_addresses(self, *, timeout: float | None = None) -> list[str]:
        """This node's listening addresses with its peer id (``/ip4/…/tcp/…/p2p/<id>``),
        loopback only: what a peer centre's node dials to fetch from this one.

        A node's addresses change only when it restarts, and ``GET /v1/federation`` (which
        needs no key) would otherwise ask the node on every call: an answer is kept for
        ``SWARM_ADDRESSES_TTL`` seconds; a failure is not kept."""
        now = time.monotonic()
        if self._swarm is not None and now - self._swarm[0] < SWARM_ADDRESSES_TTL:
            return list(self._swarm[1])
        info = self.id(timeout=timeout)
        peer = str(info.get("ID") or info.get("id") or "")
        out = []
        for addr in info.get("Addresses") or info.get("addresses") or []:
            addr = str(addr)
            if not addr.startswith("/ip4/127.0.0.1/tcp/"):
                continue
            out.append(addr if "/p2p/" in addr else f"{addr}/p2p/{peer}")
        self._swarm = (now, out)
        return list(out)

    def swarm_connect(self, address: str, *, timeout: float | None = None) -> None:
        """Connect to a peer node directly (with routing off, the only way to find it)."""
        self._request("/swarm/connect", {"arg": address}, timeout=timeout)

    # --- content --------------------------------------------------------------

    def put(self, data: BinaryIO | bytes, *, timeout: float | None = None) -> str:
        """``add`` with Kubo's CIDv1 raw-leaves parameters, pinned; the CID is checked locally."""
        source: BinaryIO = io.BytesIO(data) if isinstance(data, bytes) else data
        tee = _CidTee(source)
        response = self._request(
            "/add",
            {
                "cid-version": "1",
                "raw-leaves": "true",
                "pin": "true",
                "chunker": f"size-{CHUNK_SIZE}",
                "hash": "sha2-256",
                "progress": "false",
            },
            timeout=timeout,
            files={"file": ("blob", tee, "application/octet-stream")},
        )
        answers = _first_line_with(response.content, "Hash")
        if not answers:
            raise StoreError(f"IPFS node at {self._where}: add answered without a Hash")
        if not tee.eof:
            raise StoreError(f"IPFS node at {self._where}: add answered before reading all input")
        ours = cid_str(tee.finish())
        theirs = str(answers[-1]["Hash"])
        if theirs != ours:
            raise ContentIntegrityError(
                theirs, f"the node stored the content under this CID, but its CID is {ours}"
            )
        return ours

    def get_block(self, cid: str | bytes | CID, *, timeout: float | None = None) -> bytes:
        """``block/get``, re-hashed against ``cid`` before it is returned."""
        binary = to_binary(cid)
        name = cid_str(binary)
        block = self._request("/block/get", {"arg": name}, timeout=timeout, subject=name).content
        verify_block(binary, block)
        return block

    def iter_content(self, cid: str, *, timeout: float | None = None) -> Iterator[bytes]:
        """Walk the DAG block by block; each block is verified before its bytes are yielded."""
        return iter_file(to_binary(cid), lambda c: self.get_block(c, timeout=timeout))

    def cat(self, cid: str, *, timeout: float | None = None) -> bytes:
        """One ``cat`` request, then the CID is recomputed over the answer.

        Faster than the block walk but only for content laid out as ``put`` lays
        it out (CIDv1, raw leaves, 256 KiB chunks, balanced); other DAGs of the
        same bytes have other CIDs and are refused here: use ``get`` for those.
        """
        binary = to_binary(cid)
        name = cid_str(binary)
        body = self._request("/cat", {"arg": name}, timeout=timeout, subject=name).content
        actual = build_file(body)
        if actual != binary:
            raise ContentIntegrityError(
                name, f"cat returned {len(body)} bytes whose CID is {cid_str(actual)}"
            )
        return body

    def has(self, cid: str, *, timeout: float | None = None) -> bool:
        """Whether the node holds the root block (``block/stat``, offline).

        Kubo answers at once; js-ipfs ignores ``offline`` and says "absent" only
        when ``has_timeout`` expires.
        """
        name = cid_str(to_binary(cid))
        try:
            self._request(
                "/block/stat",
                {"arg": name, "offline": "true"},
                timeout=self.has_timeout if timeout is None else timeout,
                subject=name,
            )
        except ContentNotFound:
            return False
        return True

    def pin(self, cid: str, *, timeout: float | None = None) -> None:
        name = cid_str(to_binary(cid))
        self._request("/pin/add", {"arg": name, "recursive": "true"}, timeout=timeout, subject=name)

    def is_pinned(self, cid: str, *, timeout: float | None = None) -> bool:
        name = cid_str(to_binary(cid))
        try:
            self._request(
                "/pin/ls", {"arg": name, "type": "recursive"}, timeout=timeout, subject=name
            )
        except ContentNotFound:
            return False
        return True

    def pins(self, *, timeout: float | None = None) -> list[str]:
        """Every recursive pin on the node (``pin/ls``)."""
        answer = self._request("/pin/ls", {"type": "recursive"}, timeout=timeout).json()
        return sorted(answer.get("Keys", {}))

    def export_car(self, cid: str, out: BinaryIO, *, timeout: float | None = None) -> None:
        """``dag/export``, every block verified and checked to belong to the DAG of ``cid``.

        Blocks must come in the order Kubo writes them (each one linked from a block
        before it); a missing, extra or damaged block raises ContentIntegrityError.
        """
        root = to_binary(cid)
        name = cid_str(root)
        t = self.timeout if timeout is None else timeout
        request = self._client.build_request(
            "POST",
            "/dag/export",
            params=self._params({"arg": name}, t),
            timeout=httpx.Timeout(_client_timeout(t), connect=min(t, 5.0)),
        )
        body = self._stream_body(request, t, name)
        try:
            self._verify_export(root, CarReader(_BufferedBody(body)), out)
        finally:
            body.close()  # closes the HTTP response even when verification fails early

    @staticmethod
    def _verify_export(root: bytes, reader: CarReader, out: BinaryIO) -> None:
        name = cid_str(root)
        if [bytes(r) for r in reader.roots] != [root]:
            raise ContentIntegrityError(
                name, f"dag/export named roots {[cid_str(r) for r in reader.roots]}"
            )
        writer = CarWriter(out, [CID.decode(root)])
        wanted = {root}
        seen: set[bytes] = set()
        for block_cid, block in reader:
            if block_cid not in wanted or block_cid in seen:
                raise ContentIntegrityError(
                    cid_str(block_cid), f"dag/export of {name} sent a block it does not link"
                )
            verify_block(to_binary(block_cid), block)
            seen.add(block_cid)
            wanted.update(links_of(block_cid, block))
            writer.write(block_cid, block)
        missing = wanted - seen
        if missing:
            first = cid_str(min(missing))
            raise ContentIntegrityError(
                first, f"dag/export of {name} left out {len(missing)} linked block(s)"
            )

    def import_car(self, stream: BinaryIO, *, timeout: float | None = None) -> list[str]:
        """``dag/import`` with pin-roots; only blocks that verify locally are uploaded."""
        reader = CarReader(stream)
        roots = reader.roots

        def sections() -> Iterator[bytes]:
            yield encode_header(roots)
            for block_cid, block in reader:
                verify_block(to_binary(block_cid), block)
                buf = io.BytesIO()
                write_section(buf, block_cid, block)
                yield buf.getvalue()

        body = _IterReader(sections())
        response = self._request(
            "/dag/import",
            {"pin-roots": "true"},
            timeout=timeout,
            files={"file": ("dag.car", body, "application/vnd.ipld.car")},
        )
        answers = _first_line_with(response.content, "Root")
        imported = []
        for answer in answers:
            root = answer["Root"]
            name = str(root["Cid"]["/"])
            if root.get("PinErrorMsg"):
                raise ContentNotFound(name, f"imported but not pinned: {root['PinErrorMsg']}")
            imported.append(name)
        expected = [cid_str(r) for r in roots]
        if sorted(imported) != sorted(expected):
            raise StoreError(
                f"IPFS node at {self._where}: dag/import reported roots {imported}, "
                f"the CAR names {expected}"
            )
        return expected


class _BufferedBody(io.BufferedReader):
    """Buffered reads over a streamed HTTP body (CarReader reads varints byte by byte)."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        super().__init__(_IterReader(parts), buffer_size=1 << 16)
