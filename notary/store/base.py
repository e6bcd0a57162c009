"""The content store interface and its typed errors.

Every store addresses content by its IPFS CID (CIDv1, raw leaves, 256 KiB chunks,
exactly as Kubo's ``ipfs add --cid-version=1 --raw-leaves`` computes it), and
every read re-checks each block against its CID: a store is never trusted to
return what it was given.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import BinaryIO, Self

from notary.errors import NotaryError


class StoreError(NotaryError):
    """Base class of every content-store failure."""


class InvalidCIDError(StoreError, ValueError):
    """A string is not a CID, or names a codec or hash this store cannot verify."""


class ContentNotFound(StoreError, KeyError):
    """The store does not hold the content (or one block of it)."""

    def __init__(self, cid: str, detail: str) -> None:
        super().__init__(f"{cid}: {detail}")
        self.cid = cid
        self.detail = detail

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message; keep it readable.
        return f"{self.cid}: {self.detail}"


class ContentIntegrityError(StoreError):
    """A block's bytes do not hash to its CID, or a DAG is malformed.

    ``cid`` names the offending block (not necessarily the root that was asked for).
    """

    def __init__(self, cid: str, detail: str) -> None:
        super().__init__(f"block {cid}: {detail}")
        self.cid = cid
        self.detail = detail


class StoreUnavailable(StoreError):
    """The backing node cannot be reached or did not answer in time."""


class CarFormatError(StoreError, ValueError):
    """A CAR stream is malformed (bad header, truncated section, oversized block)."""


class ContentStore(abc.ABC):
    """Content-addressed storage of opaque byte strings (SM4 ciphertext, in practice)."""

    @abc.abstractmethod
    def put(self, data: BinaryIO | bytes) -> str:
        """Store and pin ``data``; return its CIDv1 (base32) string.

        A stream is read in 256 KiB chunks and never held whole in memory.
        """

    @abc.abstractmethod
    def iter_content(self, cid: str) -> Iterator[bytes]:
        """Yield the content of ``cid`` chunk by chunk, each block verified before it is yielded.

        Raises ContentNotFound if a block is missing, ContentIntegrityError if a
        block does not match its CID (the error names that block).
        """

    def get(self, cid: str) -> bytes:
        """Return the whole content of ``cid`` (verified); use iter_content for large objects."""
        return b"".join(self.iter_content(cid))

    @abc.abstractmethod
    def has(self, cid: str) -> bool:
        """Whether the store holds ``cid`` (see each backend for how deep it looks)."""

    @abc.abstractmethod
    def pin(self, cid: str) -> None:
        """Protect the whole DAG of ``cid`` from garbage collection; it must be present."""

    @abc.abstractmethod
    def is_pinned(self, cid: str) -> bool:
        """Whether ``cid`` is pinned recursively."""

    @abc.abstractmethod
    def export_car(self, cid: str, out: BinaryIO) -> None:
        """Write the DAG of ``cid`` to ``out`` as a CARv1 with ``cid`` as its only root."""

    @abc.abstractmethod
    def import_car(self, stream: BinaryIO) -> list[str]:
        """Import every block of a CARv1 stream, pin its roots, and return the roots."""

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release resources (HTTP connections); the default holds none."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
