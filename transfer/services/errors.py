"""The errors the services raise: what went wrong, in the caller's terms, with no HTTP.

Each class names a kind of refusal; ``slug`` is its stable problem type (the API
serves it as ``urn:archive-notary:problem:<slug>``) and ``detail`` the specific,
Chinese where staff read it, sentence. How a kind becomes an HTTP status and headers
is decided in one place, :mod:`transfer.api.errors` (RFC 9457); the CLI's server-side
commands print ``detail`` the same way.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal; subclass per kind, raise with a specific detail.

    ``retry_after_s`` says the refusal is temporary (a chain or store that is down, a
    checkpoint not anchored yet); ``extensions`` are machine-readable facts for the
    caller (never secrets, never server paths).
    """

    slug: str = "internal"
    title: str = "Internal Server Error"

    def __init__(
        self, detail: str | None = None, *, retry_after_s: int | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.extensions = extensions


class BadRequest(ServiceError):
    slug, title = "bad-request", "Bad Request"


class Forbidden(ServiceError):
    slug, title = "forbidden", "Forbidden"


class NotFound(ServiceError):
    slug, title = "not-found", "Not Found"


class Conflict(ServiceError):
    slug, title = "conflict", "Conflict"


class PayloadTooLarge(ServiceError):
    slug, title = "payload-too-large", "Payload Too Large"


class UnsupportedMediaType(ServiceError):
    slug, title = "unsupported-media-type", "Unsupported Media Type"


class Unprocessable(ServiceError):
    slug, title = "validation", "Request validation failed"


class ServiceUnavailable(ServiceError):
    slug, title = "unavailable", "Service Unavailable"


class VerificationProblem(ServiceError):
    """A verification failed; ``slug`` ends in the check's name (``verification-sm3``…).

    ``own_evidence``: the service's own stored evidence fails (a tampered store: the
    request was fine, the state is not) rather than evidence the caller presented.
    """

    slug, title = "verification", "Verification failed"

    def __init__(
        self, check: str, detail: str, *, own_evidence: bool = False, **extensions: Any
    ) -> None:
        super().__init__(detail, check=check, **extensions)
        self.check = check
        self.slug = f"verification-{check}"
        self.own_evidence = own_evidence
