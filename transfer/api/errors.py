"""Every error the API returns is an RFC 9457 problem document (application/problem+json).

Services raise a :class:`transfer.services.errors.ServiceError` (routes too, or one
of the HTTP layer's own :class:`ProblemError`); this module alone maps each kind to
its status and headers. Framework errors (unknown route,
wrong method, validation) and unexpected exceptions are converted here. An
unexpected exception becomes a 500 that names an incident id (also in the server
log) and nothing else: no message, type or trace reaches the client.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from transfer.services.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    Unprocessable,
    UnsupportedMediaType,
    VerificationProblem,
)
from transfer.services.problems_zh import validation_problem

log = logging.getLogger("transfer.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Problem types are URNs: stable identifiers that do not pretend to be web pages.
PROBLEM_TYPE_BASE = "urn:archive-notary:problem:"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the error is, e.g. ['body', 'kind'].")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details; extension members are allowed."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", examples=[PROBLEM_TYPE_BASE + "not-found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="Field errors (validation problems only)."
    )


class ProblemError(ServiceError):
    """A refusal of the HTTP layer itself (authentication, rate, body, media type),
    which may carry headers of its own."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail, **extensions)
        self.headers = dict(headers or {})


class Unauthorized(ProblemError):
    slug, title = "unauthorized", "Authentication required"


class RequestTimeout(ProblemError):
    slug, title = "request-timeout", "Request Timeout"


class TooManyRequests(ProblemError):
    slug, title = "too-many-requests", "Too Many Requests"

    def __init__(self, retry_after_s: int, detail: str | None = None) -> None:
        super().__init__(
            detail or f"请求过于频繁：请 {retry_after_s} 秒后再试",
            retry_after_s=retry_after_s,
        )
        # Also in the body, for clients that do not read headers.
        self.extensions["retry_after_s"] = retry_after_s


# The one mapping from a kind of refusal to its HTTP status (most specific class wins).
_STATUS: dict[type[ServiceError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    RequestTimeout: 408,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    Unprocessable: 422,
    VerificationProblem: 422,
    TooManyRequests: 429,
    ServiceUnavailable: 503,
}


def http_status(exc: ServiceError) -> int:
    if isinstance(exc, VerificationProblem) and exc.own_evidence:
        return 409
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


def http_headers(exc: ServiceError) -> dict[str, str]:
    headers = dict(exc.headers) if isinstance(exc, ProblemError) else {}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    return headers


def problem_type(exc: ServiceError | type[ServiceError]) -> str:
    return PROBLEM_TYPE_BASE + exc.slug


def problem_response(
    status: int,
    title: str,
    *,
    type_: str = "about:blank",
    detail: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extensions.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem+json errors of a route."""
    return {
        s: {
            "model": Problem,
            "description": HTTPStatus(s).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }


def _field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # Deliberately without pydantic's "input" and "ctx": the input may be a cadre's
    # identity number, which must never be echoed into responses or logs.
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type"))}
        for e in errors
    ]


def _server_roots(request: Request) -> list[str]:
    """Directories of this server whose paths must not reach a client."""
    roots = {tempfile.gettempdir(), os.path.realpath(tempfile.gettempdir())}
    state = getattr(request.app.state, "notary", None)
    if state is not None:
        home = state.settings.home
        roots |= {str(home), str(home.absolute()), os.path.realpath(home)}
    # Longest first: a root inside another is replaced whole.
    return sorted((r for r in roots if len(r) > 1), key=len, reverse=True)


def without_server_paths(text: str | None, roots: Sequence[str]) -> str | None:
    """``text`` with every server directory in ``roots`` replaced by ``…`` (an error
    detail may quote an exception that names a file)."""
    if text is None:
        return None
    for root in roots:
        text = text.replace(root, "…")
    return text


def refusal(
    exc: ServiceError, instance: str, *, roots: Sequence[str] = (), close: bool = False
) -> JSONResponse:
    """The problem document of a refusal. ``close``: the request's body was not read,
    so the connection cannot carry another request."""
    headers = http_headers(exc)
    if close:
        headers["Connection"] = "close"
    return problem_response(
        http_status(exc),
        exc.title,
        type_=problem_type(exc),
        detail=without_server_paths(exc.detail, roots),
        instance=instance,
        headers=headers,
        **exc.extensions,
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return refusal(exc, request.url.path, roots=_server_roots(request))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    return problem_response(
        exc.status_code,
        phrase,
        detail=detail,
        instance=request.url.path,
        headers=exc.headers,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Chinese for staff (detail, and field/message per error); loc/msg/type for developers.
    detail, errors = validation_problem(exc.errors())
    return problem_response(
        422,
        Unprocessable.title,
        type_=problem_type(Unprocessable),
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    # Routes check uniqueness first; this is the race where two requests passed the
    # check together and the database refused the second.
    log.info("integrity conflict on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        409,
        Conflict.title,
        type_=problem_type(Conflict),
        detail="the request conflicts with data written concurrently; retry",
        instance=request.url.path,
    )


async def _on_operational(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex
    log.error("database unavailable (incident %s)", incident, exc_info=exc)
    return problem_response(
        503,
        ServiceUnavailable.title,
        type_=problem_type(ServiceUnavailable),
        detail="the database is unavailable; retry later",
        instance=request.url.path,
        headers={"Retry-After": "1"},
        incident=incident,
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex
    log.error(
        "unhandled error (incident %s) on %s %s",
        incident,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return problem_response(
        500,
        "Internal Server Error",
        type_=PROBLEM_TYPE_BASE + "internal",
        detail=f"an unexpected error occurred; quote incident {incident} to the operators",
        instance=request.url.path,
        incident=incident,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(OperationalError, _on_operational)
    app.add_exception_handler(Exception, _on_unexpected)
