"""Every error the API returns is an RFC 9457 problem document (application/problem+json).

Routes raise a :class:`ProblemError` subclass; framework errors (unknown route,
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

from transfer.api.problems_zh import validation_problem

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


class ProblemError(Exception):
    """An error with a problem type; subclass per kind, raise with a specific detail."""

    status: int = 500
    slug: str = "internal"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions

    @property
    def type(self) -> str:
        return PROBLEM_TYPE_BASE + self.slug


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad Request"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not Found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class RequestTimeout(ProblemError):
    status, slug, title = 408, "request-timeout", "Request Timeout"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Payload Too Large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported Media Type"


class Unprocessable(ProblemError):
    status, slug, title = 422, "validation", "Request validation failed"


class TooManyRequests(ProblemError):
    status, slug, title = 429, "too-many-requests", "Too Many Requests"

    def __init__(self, retry_after_s: int, detail: str | None = None) -> None:
        super().__init__(
            detail or f"请求过于频繁：请 {retry_after_s} 秒后再试",
            headers={"Retry-After": str(retry_after_s)},
            retry_after_s=retry_after_s,
        )


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "unavailable", "Service Unavailable"


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


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.title,
        type_=exc.type,
        detail=without_server_paths(exc.detail, _server_roots(request)),
        instance=request.url.path,
        headers=exc.headers,
        **exc.extensions,
    )


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
        Unprocessable.status,
        Unprocessable.title,
        type_=PROBLEM_TYPE_BASE + Unprocessable.slug,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    # Routes check uniqueness first; this is the race where two requests passed the
    # check together and the database refused the second.
    log.info("integrity conflict on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        Conflict.status,
        Conflict.title,
        type_=PROBLEM_TYPE_BASE + Conflict.slug,
        detail="the request conflicts with data written concurrently; retry",
        instance=request.url.path,
    )


async def _on_operational(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex
    log.error("database unavailable (incident %s)", incident, exc_info=exc)
    return problem_response(
        ServiceUnavailable.status,
        ServiceUnavailable.title,
        type_=PROBLEM_TYPE_BASE + ServiceUnavailable.slug,
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
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(OperationalError, _on_operational)
    app.add_exception_handler(Exception, _on_unexpected)
