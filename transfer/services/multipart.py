"""Pull-based streaming of a multipart/form-data body.

Starlette's form parser spools file parts to temporary files in plaintext once they
pass 1 MiB; an archive material must never be on disk unencrypted, so uploads are
parsed here instead. The body is *pulled* chunk by chunk (``pull()`` returns ``b""``
at the end) and pushed through python-multipart's streaming parser; file data is
handed out through :class:`FilePart` ``read(n)`` as it arrives, so no more than a
chunk or two of the body is ever held.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

Pull = Callable[[], bytes]
MAX_FIELD_BYTES = 64 << 10
MAX_FIELDS = 64


class FormError(ValueError):
    """The body is not a well-formed multipart/form-data document."""


@dataclass(frozen=True, slots=True)
class PartInfo:
    name: str
    filename: str | None
    content_type: str | None


class StreamingForm:
    def __init__(self, content_type: str | None, pull: Pull) -> None:
        kind, params = parse_options_header(content_type or "")
        boundary = params.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise FormError("the body must be multipart/form-data with a boundary")
        self._pull = pull
        self._events: deque[tuple[str, object]] = deque()
        self._headers: dict[str, str] = {}
        self._field = b""
        self._value = b""
        self._done = False
        callbacks = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        except Exception as e:
            raise FormError(f"bad multipart boundary: {e}") from None

    # --- parser callbacks ----------------------------------------------------------

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        # Latin-1 keeps the raw bytes: parse_options_header re-encodes with it, and a
        # UTF-8 filename (材料.pdf) is decoded below. Decoding as UTF-8 here made any
        # non-Latin-1 header value a UnicodeEncodeError (a 500).
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("latin-1")
        self._field = self._value = b""

    def _on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get("content-disposition"))
        if disposition != b"form-data" or b"name" not in params:
            raise FormError("a part lacks Content-Disposition: form-data; name=...")
        filename = params.get(b"filename")
        info = PartInfo(
            name=params[b"name"].decode("utf-8", errors="replace"),
            filename=None if filename is None else filename.decode("utf-8", errors="replace"),
            content_type=self._headers.get("content-type"),
        )
        self._events.append(("begin", info))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(("data", bytes(data[start:end])))

    def _on_part_end(self) -> None:
        self._events.append(("end", None))

    def _on_end(self) -> None:
        self._done = True

    # --- pulling -------------------------------------------------------------------

    def next_event(self) -> tuple[str, object]:
        """The next ("begin", PartInfo) / ("data", bytes) / ("end", None) / ("eof", None)."""
        while not self._events:
            if self._done:
                return ("eof", None)
            chunk = self._pull()
            if not chunk:
                try:
                    self._parser.finalize()
                except FormParserError as e:
                    raise FormError(f"malformed multipart body: {e}") from None
                if not self._done and not self._events:
                    raise FormError("the multipart body ends before its closing boundary")
                self._done = True
                continue
            try:
                self._parser.write(chunk)
            except FormParserError as e:
                raise FormError(f"malformed multipart body: {e}") from None
        return self._events.popleft()

    def read_field(self) -> str:
        """The rest of the current (non-file) part, as text."""
        value = bytearray()
        while True:
            kind, payload = self.next_event()
            if kind == "data":
                assert isinstance(payload, bytes)
                value += payload
                if len(value) > MAX_FIELD_BYTES:
                    raise FormError("a form field is too long")
            elif kind == "end":
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    raise FormError("form fields must be UTF-8") from None
            else:
                raise FormError("the multipart body ends inside a field")

    def skip_part(self, limit: int, on_chunk: Callable[[bytes], None] | None = None) -> None:
        """Drops the rest of the current part without holding it; more than ``limit``
        bytes is a :class:`FormError` (``on_chunk`` may raise its own first)."""
        size = 0
        while True:
            kind, payload = self.next_event()
            if kind == "data":
                assert isinstance(payload, bytes)
                size += len(payload)
                if on_chunk is not None:
                    on_chunk(payload)
                if size > limit:
                    raise FormError("a form part is too long")
            elif kind == "end":
                return
            else:
                raise FormError("the multipart body ends inside a part")


class FilePart:
    """The data of the current file part as a readable binary stream."""

    def __init__(self, form: StreamingForm, on_chunk: Callable[[bytes], None]) -> None:
        self._form = form
        self._on_chunk = on_chunk
        # A bytearray: appending and dropping a prefix are amortised O(1) (bytes
        # concatenation copied the whole buffer per chunk: quadratic in the part).
        self._buffer = bytearray()
        self.finished = False

    def _fill(self, want: int) -> None:
        while not self.finished and (want < 0 or len(self._buffer) < want):
            kind, payload = self._form.next_event()
            if kind == "data":
                assert isinstance(payload, bytes)
                self._on_chunk(payload)
                self._buffer += payload
            elif kind == "end":
                self.finished = True
            else:
                raise FormError("the multipart body ends inside the file")

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return bytes(self._buffer[:n])

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all the rest for ``n < 0``: only for parts known small)."""
        self._fill(n)
        if n < 0 or n >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:n])
            del self._buffer[:n]
        return out

    def drain(self) -> None:
        """Drops the rest of the part, passing each chunk to ``on_chunk`` (which counts
        and limits it), without holding it."""
        self._buffer.clear()
        if not self.finished:
            self._form.skip_part(1 << 62, self._on_chunk)
            self.finished = True
