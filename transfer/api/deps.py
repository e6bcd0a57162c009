"""FastAPI dependencies: app state, database sessions, the calling principal, role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from transfer.api.errors import Unauthorized
from transfer.api.state import AppState
from transfer.roles import Permission, refusal
from transfer.security import Principal, presented_digest, principal_for_digest
from transfer.services.context import NotaryContext
from transfer.services.errors import Forbidden, ServiceUnavailable


# The cheap dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in
# the thread pool, and a thread hop per dependency per request was a measurable share
# of a verify-by-SM3 call under load (benches/results/load.md).
def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.notary
    return state


async def get_state(request: Request) -> AppState:
    return state_of(request)


StateDep = Annotated[AppState, Depends(get_state)]


def get_db(state: StateDep) -> Iterator[Session]:
    """A read session; nothing it does is committed."""
    with state.sessions() as session:
        yield session


def get_write_db(state: StateDep) -> Iterator[Session]:
    """A write session (SQLite: BEGIN IMMEDIATE). The route commits; anything
    not committed when the request ends is rolled back."""
    with state.write_sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db)]
WriteSession = Annotated[Session, Depends(get_write_db)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="`Authorization: Bearer <API key>`",
)
_api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="`X-API-Key: <API key>` (alternative to the bearer header)",
)

_REALM = 'Bearer realm="archive-notary"'


def presented_key(authorization: str | None, api_key: str | None) -> str | None:
    """The API key a request presents: ``Authorization: Bearer <key>``, else
    ``X-API-Key``; as FastAPI's security schemes below read them."""
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return credentials
    return api_key or None


async def authenticate(state: AppState, presented: str | None) -> Principal:
    """The principal of a presented API key (suspended units' too: refused by
    :func:`get_principal`); :class:`Unauthorized` for none, an unknown or a revoked one.
    Also run before any request body is read (transfer/api/bodylimit.py)."""
    if not presented:
        raise Unauthorized(
            "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            headers={"WWW-Authenticate": _REALM},
        )

    digest = presented_digest(presented.strip())
    principal = None if digest is None else state.principals.get(digest)
    if digest is not None and principal is None:
        generation = state.principals.generation
        key_digest = digest

        def lookup() -> Principal | None:
            # A Core query on a bare connection, in one thread hop: a Session (or the
            # request's DbSession, a generator dependency costing two more hops) was a
            # measurable share of a small call under load.
            with state.engine.connect() as conn:
                return principal_for_digest(conn, key_digest)

        principal = await anyio.to_thread.run_sync(lookup)
        if principal is not None:
            # Suspended units' principals too: refused below, and cleared when reinstated.
            state.principals.put(digest, principal, generation)
    if principal is None:
        raise Unauthorized(
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": _REALM + ', error="invalid_token"'},
        )
    return principal


#: Where the body gate leaves the principal it authenticated (``request.state``).
GATE_PRINCIPAL = "notary_principal"


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    # The state from the request, not through StateDep: every route authenticates,
    # and FastAPI resolves each dependency on every call (a third of a verify call's
    # CPU went to dependency solving, benches/results/load.md).
    principal: Principal | None = request.scope.get("state", {}).get(GATE_PRINCIPAL)
    if principal is None:
        presented = bearer.credentials if bearer is not None else header_key
        principal = await authenticate(state_of(request), presented)
    if not principal.unit_active:
        raise Forbidden(
            f"单位 {principal.unit_code} 已暂停，其密钥暂不能使用：请联系安全保密管理员",
            unit=principal.unit_code,
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only principals whose role grants ``permission``
    (:func:`transfer.roles.refusal`, the one role decision)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        enforce(principal, permission)
        return principal

    return check


def enforce(principal: Principal, permission: Permission, **target: Any) -> None:
    """403 with the reason in Chinese unless :func:`transfer.roles.refusal` allows
    ``principal`` to use ``permission`` on ``target`` (its keyword arguments)."""
    why = refusal(principal.role, permission, **target)
    if why is not None:
        raise Forbidden(
            why.message, rule=why.rule, role=str(principal.role), permission=str(permission)
        )


async def get_notary(state: StateDep) -> NotaryContext:
    """The opened deployment; 503 while the home is not one (run notary init)."""
    if state.notary is None:
        raise ServiceUnavailable(
            "this service has no deployment (run 'notary init --home DIR' first)"
        )
    return state.notary


Notary = Annotated[NotaryContext, Depends(get_notary)]
