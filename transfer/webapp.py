"""The whole web application: the service's /v1 API plus the web console at /console.

The API (``transfer.api``) knows nothing of the console; this module builds it with
:func:`transfer.api.app.create_app` and adds the console's pages, whose files are the
one thing of ``clients`` the service uses (``clients.console``: static files and their
allowlist, no code; tests/test_layers.py holds it to that)::

    uvicorn --factory transfer.webapp:full_app_from_env

The console is static HTML, CSS and small ES-module scripts from
``clients/console`` (an explicit allowlist, no directory listing), served with a strict
Content-Security-Policy: scripts, styles and requests only from this origin, no inline
code, no frames. One JSON route is console-specific: ``GET /console/api/session`` says
who the presented API key belongs to (unit, role, permissions), so the console can
check a key at sign-in and show only the pages that role may use.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import FileResponse, RedirectResponse, Response

from clients.console import ASSETS, CONSOLE_DIR
from transfer.api.app import create_app
from transfer.api.deps import DbSession, StateDep, get_principal
from transfer.api.pageheaders import content_security_policy, security_headers
from transfer.db.models import Unit
from transfer.roles import ROLE_PERMISSIONS
from transfer.security import Principal
from transfer.services.errors import NotFound
from transfer.settings import Settings
from transfer.workflow.times import zone_label

CONSOLE_PATH = "/console"

CONTENT_SECURITY_POLICY = content_security_policy()
SECURITY_HEADERS = security_headers()


def _asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"the console has no file {name!r}")
    return FileResponse(CONSOLE_DIR / name, media_type=media_type, headers=SECURITY_HEADERS)


def console_router() -> APIRouter:
    """The console's pages and its one session route (not part of the OpenAPI /v1)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)

    @router.get(CONSOLE_PATH)
    def console_bare() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)

    @router.get(f"{CONSOLE_PATH}/")
    def console_index() -> Response:
        return _asset("index.html")

    @router.get(f"{CONSOLE_PATH}/api/session")
    def session(
        caller: Annotated[Principal, Depends(get_principal)], db: DbSession, state: StateDep
    ) -> dict[str, Any]:
        unit = db.get(Unit, caller.unit_id)
        return {
            "unit_id": str(caller.unit_id),
            "unit_code": caller.unit_code,
            "unit_name": None if unit is None else unit.name,
            "role": str(caller.role),
            # 经办人 (None: the key was issued without a name, shown as 未登记).
            "handler": caller.handler,
            # Times are shown in the deployment's zone, labelled (GET /v1/display).
            "timezone": state.settings.timezone,
            "timezone_label": zone_label(state.settings.timezone),
            "permissions": sorted(str(p) for p in ROLE_PERMISSIONS[caller.role]),
        }

    @router.get(CONSOLE_PATH + "/{name}")
    def console_asset(name: str) -> Response:
        return _asset(name)

    return router


def create_full_app(settings: Settings | None = None, **kw: Any) -> FastAPI:
    """The service app (``create_app(settings, **kw)``) with the console mounted at
    ``/console`` and ``/`` redirecting to it."""
    app = create_app(settings, **kw)
    app.include_router(console_router())
    return app


def full_app_from_env() -> FastAPI:
    return create_full_app(Settings())
