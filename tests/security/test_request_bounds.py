"""Cheap requests cannot make the API hold memory, threads or time (issue 15).

Against the service over real HTTP (uvicorn on loopback), per endpoint class — JSON
routes, material upload, verify (JSON and by file), package import — with raw sockets,
so that a body can be *declared* huge and never sent: an answer that arrives while the
client still holds the body back proves the server did not wait for (or buffer) it.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from sqlalchemy import Engine

from notary.deployment import Deployment
from tests._support.api import Cast, service_settings
from tests._support.served import serving_app
from transfer.api import create_app
from transfer.services.multipart import MAX_FIELD_BYTES
from transfer.settings import Settings

HUGE = 512 << 20
IDLE_S = 0.5
JSON = "application/json"
TAR = "application/x-tar"
BOUNDARY = "bound"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"

# One path per endpoint class (existence does not matter: the gate answers first).
UNITS = "/v1/units"
# A fixed id: test ids must be the same in every process that collects them (pytest -n).
UPLOAD = f"/v1/volumes/{uuid.UUID(int=1)}/materials"
VERIFY = "/v1/verify"
IMPORT = "/v1/transfers/T-NOT-THERE/import"
ROUTES = [(UNITS, JSON), (UPLOAD, MULTIPART), (VERIFY, JSON), (VERIFY, MULTIPART), (IMPORT, TAR)]


@contextmanager
def _serving(settings: Settings, engine: Engine, deployment: Deployment) -> Iterator[int]:
    with serving_app(create_app(settings, engine=engine, deployment=deployment)) as port:
        yield port


@pytest.fixture(scope="module")
def port(
    engine: Engine,
    deployment: Deployment,
    backend_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[int]:
    """One server for the module (starting and stopping one per test was most of its
    time). Each test brings its own keys (``cast``, emptied after it) and only sends
    requests the server refuses or answers without writing."""
    home = tmp_path_factory.mktemp("bounds") / "home"
    settings = service_settings(home, backend_url).model_copy(
        update={"anchoring_enabled": False, "body_idle_timeout_s": IDLE_S}
    )
    with _serving(settings, engine, deployment) as p:
        yield p


@pytest.fixture
def small_upload_port(
    notary_settings: Settings, clean_engine: Engine, deployment: Deployment
) -> Iterator[int]:
    settings = notary_settings.model_copy(
        update={"anchoring_enabled": False, "upload_max_bytes": 1 << 20}
    )
    with _serving(settings, clean_engine, deployment) as p:
        yield p


def _send(
    port: int,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
    *,
    timeout: float = 5,
) -> tuple[int, bytes, float]:
    """Sends the request head and ``body`` (however much a declared length promises),
    then waits without sending more: (status, response, seconds until it came)."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1") + body)
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
        return int(response.split()[1]), response, time.monotonic() - started


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(("path", "ctype"), ROUTES)
def test_without_a_key_a_huge_body_is_refused_before_it_is_read(
    port: int, cast: Cast, path: str, ctype: str
) -> None:
    for extra in ({}, {"Authorization": "Bearer not-a-key"}):
        headers = {"Content-Type": ctype, "Content-Length": str(HUGE), **extra}
        status, response, seconds = _send(port, path, headers, b"x" * 1024)
        assert status == 401 and seconds < 2
        assert b"connection: close" in response.lower()


@pytest.mark.parametrize("path", [UNITS, UPLOAD, VERIFY, IMPORT])
def test_a_huge_body_of_another_content_type_is_refused_by_its_declared_length(
    port: int, cast: Cast, path: str
) -> None:
    # octet-stream on a JSON or multipart route, JSON on the import route: none of
    # them is streamed there, so the small-body limit applies.
    ctype = JSON if path == IMPORT else "application/octet-stream"
    headers = {**_auth(cast.operator.key), "Content-Type": ctype, "Content-Length": str(HUGE)}
    status, _, seconds = _send(port, path, headers, b"x" * 1024)
    assert status == 413 and seconds < 2


def test_a_chunked_body_of_another_content_type_is_cut_at_the_limit(port: int, cast: Cast) -> None:
    chunk = b"x" * (256 << 10)
    piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    headers = {
        **_auth(cast.admin.key),
        "Content-Type": "application/octet-stream",
        "Transfer-Encoding": "chunked",
    }
    # Five pieces (1.25 MiB) pass the 1 MiB limit; the rest is never sent.
    status, _, seconds = _send(port, UNITS, headers, piece * 5)
    assert status == 413 and seconds < 2


@pytest.mark.parametrize("length", ["-1", "abc", "1e3"])
@pytest.mark.parametrize(("path", "ctype"), [(UNITS, JSON), (VERIFY, MULTIPART)])
def test_a_bad_content_length_is_a_400(
    port: int, cast: Cast, path: str, ctype: str, length: str
) -> None:
    headers = {**_auth(cast.operator.key), "Content-Type": ctype, "Content-Length": length}
    status, _, seconds = _send(port, path, headers, b"{}")
    assert status == 400 and seconds < 2


@pytest.mark.parametrize(("path", "ctype"), [(UNITS, JSON), (VERIFY, MULTIPART)])
def test_a_stalled_body_is_answered_408(port: int, cast: Cast, path: str, ctype: str) -> None:
    key = cast.admin.key if path == UNITS else cast.operator.key
    headers = {**_auth(key), "Content-Type": ctype, "Content-Length": "100000"}
    status, _, seconds = _send(port, path, headers, b"--" + BOUNDARY.encode() + b"\r\n")
    assert status == 408 and IDLE_S <= seconds < IDLE_S + 2


def test_importing_into_a_transfer_that_does_not_exist_reads_nothing(port: int, cast: Cast) -> None:
    headers = {**_auth(cast.operator.key), "Content-Type": TAR, "Content-Length": str(64 << 20)}
    status, _, seconds = _send(port, IMPORT, headers, b"x" * 1024)
    assert status == 404 and seconds < 2


def _form(*parts: tuple[str, str | None, bytes]) -> bytes:
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def _post_form(port: int, key: str, body: bytes, timeout: float = 60) -> tuple[int, float]:
    headers = {**_auth(key), "Content-Type": MULTIPART, "Content-Length": str(len(body))}
    status, _, seconds = _send(port, VERIFY, headers, body, timeout=timeout)
    return status, seconds


def test_verify_by_file_limits_fields_and_skips_other_files_in_linear_time(
    port: int, cast: Cast
) -> None:
    key = cast.operator.key
    long_field = _form(("note", None, b"x" * (MAX_FIELD_BYTES + 1)), ("file", "a.pdf", b"%PDF"))
    assert _post_form(port, key, long_field)[0] == 400
    many = _form(*[(f"f{i}", None, b"x") for i in range(65)], ("file", "a.pdf", b"%PDF"))
    assert _post_form(port, key, many)[0] == 400
    # A 64 MiB file part that is not 'file' is dropped as it streams (it was buffered by
    # bytes concatenation: quadratic, ~10 s of CPU here).
    other = _form(("extra", "b.bin", b"y" * (64 << 20)), ("file", "a.pdf", b"%PDF"))
    status, seconds = _post_form(port, key, other)
    assert status == 200 and seconds < 5, seconds


def test_a_chunked_body_on_a_streaming_route_is_cut_at_the_routes_limit(
    small_upload_port: int, cast: Cast
) -> None:
    # Form fields within their own limits (40 × 60 KiB), together past the route's
    # limit (upload limit + 1 MiB of form overhead = 2 MiB): the gate's count stops it.
    body = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\n'.encode()
        + b"x" * (60 << 10)
        + b"\r\n"
        for i in range(40)
    )
    piece = f"{len(body):x}\r\n".encode() + body + b"\r\n"
    headers = {
        **_auth(cast.operator.key),
        "Content-Type": MULTIPART,
        "Transfer-Encoding": "chunked",
    }
    status, _, seconds = _send(small_upload_port, VERIFY, headers, piece)
    assert status == 413 and seconds < 5


@pytest.mark.parametrize("path", [UNITS, VERIFY, "/v1/transfers/peers"])
def test_a_body_nested_too_deeply_is_a_422_not_a_crash(port: int, cast: Cast, path: str) -> None:
    # 200,000 levels in 400 kB: json.loads under py_ecc's recursion limit (100,000)
    # overflowed the C stack — a segmentation fault of the whole service.
    depth = 200_000
    body = b"[" * depth + b"]" * depth
    key = cast.admin.key if path != VERIFY else cast.operator.key
    headers = {**_auth(key), "Content-Type": JSON, "Content-Length": str(len(body))}
    status, _, _ = _send(port, path, headers, body)
    assert status == 422
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 ")


def _dribble(
    port: int, path: str, headers: dict[str, str], first: bytes, piece: bytes, every_s: float
) -> tuple[int, float]:
    """Sends the head and ``first``, then ``piece`` every ``every_s`` seconds (never
    stalling past the idle timeout) until the server answers: (status, seconds)."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + first)
        sock.settimeout(every_s)
        response = b""
        while b"\r\n\r\n" not in response and time.monotonic() - started < 30:
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                response += chunk
            except TimeoutError:
                with suppress(OSError):
                    sock.sendall(piece)
        return int(response.split()[1]), time.monotonic() - started


@pytest.fixture
def slow_port(
    notary_settings: Settings, clean_engine: Engine, deployment: Deployment
) -> Iterator[int]:
    settings = notary_settings.model_copy(
        update={
            "anchoring_enabled": False,
            "body_idle_timeout_s": 1.0,
            "body_total_timeout_s": 2.0,
            "body_min_bytes_per_s": 1000,
        }
    )
    with _serving(settings, clean_engine, deployment) as p:
        yield p


def _quick_call(port: int, key: str) -> float:
    started = time.monotonic()
    status, _, _ = _send(
        port, VERIFY, {**_auth(key), "Content-Type": JSON, "Content-Length": "2"}, b"{}"
    )
    assert status == 422
    return time.monotonic() - started


@pytest.mark.slow
def test_a_key_holder_dribbling_a_json_body_is_cut_at_the_total_timeout(
    slow_port: int, cast: Cast
) -> None:
    # A byte every 0.3 s never trips the 1 s idle timeout; the 2 s total does.
    headers = {**_auth(cast.admin.key), "Content-Type": JSON, "Content-Length": "100000"}
    result: list[tuple[int, float]] = []
    t = threading.Thread(
        target=lambda: result.append(_dribble(slow_port, UNITS, headers, b"{", b" ", 0.3))
    )
    t.start()
    time.sleep(0.5)
    assert _quick_call(slow_port, cast.operator.key) < 1.5  # others are served meanwhile
    t.join(timeout=30)
    ((status, seconds),) = result
    assert status == 408 and 2.0 <= seconds < 4.0, (status, seconds)


@pytest.mark.slow
def test_a_key_holder_dribbling_an_upload_is_cut_below_the_least_rate(
    slow_port: int, scast: Cast
) -> None:
    cast = scast  # U1 hosted here (an envelope key): its uploads are taken
    r = _send(
        slow_port,
        "/v1/volumes",
        {**_auth(cast.operator.key), "Content-Type": JSON, "Content-Length": "61"},
        b'{"cadre_identifier": "110105194912310099", "kind": "main"}'.ljust(61),
    )
    assert r[0] == 201, r[1]
    volume = r[1].split(b'"id":"')[1].split(b'"')[0].decode()
    fields = {"category": "1", "seq_no": "1", "pages": "1", "title": "履历表"}
    fields["formation_date"] = "2001-01-01"
    head = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    )
    head += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
    headers = {**_auth(cast.operator.key), "Content-Type": MULTIPART, "Content-Length": "10000000"}
    # 10 bytes every 0.2 s (50 B/s) keeps the connection from ever being idle 1 s, and is
    # far below the 1,000 B/s the route requires once its 1 s of grace has passed.
    results: list[tuple[int, float]] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                _dribble(
                    slow_port,
                    f"/v1/volumes/{volume}/materials",
                    headers,
                    head.encode("utf-8") + b"%PDF-1.4\n",
                    b"x" * 10,
                    0.2,
                )
            )
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    time.sleep(0.5)
    assert _quick_call(slow_port, cast.operator.key) < 1.5
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 4
    for status, seconds in results:
        assert status == 408 and seconds < 4.0, (status, seconds)
    # The worker threads were let go: the service still takes uploads and calls at once.
    assert _quick_call(slow_port, cast.operator.key) < 1.5
