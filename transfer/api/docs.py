"""The API's interactive documentation (Swagger UI) at ``/docs``, served from this
process: its scripts and styles come from the ``swagger-ui-py`` package (FastAPI's
default page loads them from a public CDN — unreachable on the archive network, and a
third party's code on the page where people paste API keys). The page, its initialiser
and the assets carry the console's security headers (transfer/api/pageheaders.py).
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from transfer.api.pageheaders import security_headers
from transfer.services.errors import NotFound

DOCS_PATH = "/docs"
_HEADERS = security_headers(inline_styles=True)
# Swagger UI 5 (OpenAPI 3.1, as FastAPI writes it), as the swagger-ui-py package ships it.
_VENDOR = Path(swagger_ui.__file__).parent / "static"
#: The bundle's files this page uses (an allowlist: no directory listing).
_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

_PAGE = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>Archive Notary API</title>
<link rel="stylesheet" href="{DOCS_PATH}/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="{DOCS_PATH}/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS_PATH}/assets/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/init.js"></script>
</body>
</html>
"""

# A file, not an inline script: the policy allows scripts from this origin only.
# validatorUrl null: Swagger UI would otherwise send the schema to a public validator.
_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"""


def docs_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(DOCS_PATH)
    def page() -> Response:
        return Response(_PAGE, media_type="text/html; charset=utf-8", headers=_HEADERS)

    @router.get(f"{DOCS_PATH}/init.js")
    def init() -> Response:
        return Response(_INIT, media_type="text/javascript; charset=utf-8", headers=_HEADERS)

    @router.get(DOCS_PATH + "/assets/{name}")
    def asset(name: str) -> Response:
        media_type = _ASSETS.get(name)
        if media_type is None:
            raise NotFound(f"the documentation has no file {name!r}")
        return FileResponse(_VENDOR / name, media_type=media_type, headers=_HEADERS)

    return router
