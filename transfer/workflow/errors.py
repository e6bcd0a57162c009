"""Typed errors of the transfer workflow (转递).

Every error names what failed — the field, the file in the bag, the act, the
transition — so that the sending and receiving units (转出/接收单位) and auditors can
act on the message without a debugger. They all derive from
:class:`notary.errors.NotaryError`, so a service can map the whole family at once.
"""

from __future__ import annotations

from notary.errors import NotaryError


class TransferError(NotaryError):
    """Base class of every error the transfer workflow raises on purpose."""


# ---------------------------------------------------------------- documents


class DocumentError(TransferError):
    """A workflow document (notice, envelope, act) is malformed or of an unknown version."""

    def __init__(self, document: str, detail: str) -> None:
        super().__init__(f"{document}: {detail}")
        self.document = document
        self.detail = detail


class NoticeError(DocumentError):
    """The transfer notice (转递通知单) is malformed or inconsistent."""

    def __init__(self, detail: str) -> None:
        super().__init__("transfer notice", detail)


class EnvelopeDocError(DocumentError):
    """``data/envelope.json`` is malformed or inconsistent with the notice."""

    def __init__(self, detail: str) -> None:
        super().__init__("data/envelope.json", detail)


# ---------------------------------------------------------------- packages


class PackageError(TransferError):
    """A transfer package (BagIt bag or its tar file) is malformed or unsafe.

    ``path`` names the offending file inside the bag (or tar member), when there is one.
    """

    def __init__(self, detail: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {detail}" if path else detail)
        self.path = path
        self.detail = detail


class UnsafePath(PackageError):
    """A path in a manifest or tar member would escape the bag, or is not a plain file."""


class LimitExceeded(PackageError):
    """The package exceeds a size, member-count or expansion limit (tar bomb protection)."""


class MissingFile(PackageError):
    """A file a manifest (or the bag layout) requires is absent."""


class UnexpectedFile(PackageError):
    """A file is present that no manifest covers: it would travel unprotected."""


class ManifestMismatch(PackageError):
    """A file's digest differs from the one its manifest lists."""

    def __init__(self, path: str, manifest: str, algorithm: str, listed: str, actual: str) -> None:
        super().__init__(
            f"{algorithm} is {actual}, but {manifest} lists {listed} (the file was altered)",
            path,
        )
        self.manifest = manifest
        self.algorithm = algorithm
        self.listed = listed
        self.actual = actual


class PackageRootMismatch(PackageError):
    """The bag's package root (SM3 of tagmanifest-sm3.txt) is not the one dispatched."""


# ---------------------------------------------------------------- signed acts


class ActError(TransferError):
    """A signed act (dispatch, receipt 回执, rejection) does not hold."""


class ActFormatError(ActError, DocumentError):
    """The act document is malformed, of an unknown version, or of another kind of act."""

    def __init__(self, detail: str) -> None:
        DocumentError.__init__(self, "signed act", detail)


class ForgedSignature(ActError):
    """The signature does not verify under the expected unit's key (wrong key or altered body)."""


class CrossTransferAct(ActError):
    """A validly signed act of another transfer was presented for this one."""


class ReplayedAct(ActError):
    """A validly signed act of this transfer was presented again out of context: for another
    package root or dispatch, with a nonce already used, or signed outside its window."""


# ---------------------------------------------------------------- state


class InvalidTransition(TransferError):
    """The event is not allowed in the transfer's current state."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"event {event!r} is not allowed in state {state!r}")
        self.state = state
        self.event = event
