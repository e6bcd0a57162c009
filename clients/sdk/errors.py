"""Typed errors of the SDK.

``NotaryAPIError`` carries the service's RFC 9457 problem (``status``, ``type``,
``title``, ``detail``); ``ClientVerificationError`` is raised when a check the SDK
runs on the client side fails (a tampered download, a receipt that does not verify).
"""

from __future__ import annotations

from typing import Any


class NotaryClientError(Exception):
    """Base class of every error the SDK raises."""


class TransportError(NotaryClientError):
    """The service could not be reached (bad URL, refused connection, timeout)."""


class NotaryAPIError(NotaryClientError):
    """The service answered with an error (RFC 9457 problem+json)."""

    def __init__(
        self,
        status: int,
        type: str = "about:blank",
        title: str = "",
        detail: str = "",
        problem: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.problem: dict[str, Any] = problem or {}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.detail or self.title or "error"
        return f"HTTP {self.status}: {text}"

    @property
    def check(self) -> str | None:
        """The failed check of a ``…:verification-<check>`` problem, else None."""
        prefix = "urn:archive-notary:problem:verification-"
        return self.type[len(prefix) :] if self.type.startswith(prefix) else None


class BadRequest(NotaryAPIError):
    """400 or 422: the request is malformed or refused by validation."""


class AuthenticationError(NotaryAPIError):
    """401: unknown or revoked API key."""


class PermissionDenied(NotaryAPIError):
    """403: the key's role may not do this, or the unit is suspended."""


class NotFound(NotaryAPIError):
    """404 (also: not held by the caller's unit)."""


class Conflict(NotaryAPIError):
    """409: the state does not allow it, or server-side verification failed on read."""


class ServiceUnavailable(NotaryAPIError):
    """503: a dependency (chain, store, database) is down, or not a deployment yet."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


_BY_STATUS: dict[int, type[NotaryAPIError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: BadRequest,
    503: ServiceUnavailable,
}


def api_error_class(status: int) -> type[NotaryAPIError]:
    return _BY_STATUS.get(status, NotaryAPIError)


class ClientVerificationError(NotaryClientError):
    """A client-side check failed: the data must not be trusted.

    ``check`` names it like the server does (``content-sm3``, ``entry``, ``inclusion``,
    ``checkpoint-signature``, ``log-key``, ``anchor``, ``format``, ``header``).
    """

    def __init__(self, check: str, detail: str) -> None:
        self.check = check
        self.detail = detail
        super().__init__(f"client-side verification failed ({check}): {detail}")
