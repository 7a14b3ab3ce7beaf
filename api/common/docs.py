"""Every API's /docs (Swagger UI) and /redoc (ReDoc) served with their scripts and styles from this process, not a CDN:
the pages work offline and load nothing from a third party.

The dist files come from the fastapi-standalone-docs package (pinned in pyproject.toml; its `static/` holds Swagger
UI's and ReDoc's builds with their licences, and ReDoc's logo patched to load from the page's own path). Only its
files are used: its `StandaloneDocs` replaces FastAPI's page functions process-wide. The apps are created with
`docs_url=None, redoc_url=None` and call `install_docs`, which lays the files out as that package does:

    /docs                  Swagger UI's page           /redoc                 ReDoc's page
    /docs/oauth2-redirect  Swagger UI's OAuth2 page    /redoc/<file>          ReDoc's build, licence, logo
    /docs/<file>           Swagger UI's build, licence /docs/fastapi/<file>   the favicon, FastAPI's licence
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
STATIC = Path(str(resources.files("fastapi_standalone_docs") / "static"))
# Asset URLs, relative to the app's root (a request's root_path goes in front).
SWAGGER_JS = f"{DOCS_URL}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{DOCS_URL}/swagger-ui.css"
REDOC_JS = f"{REDOC_URL}/redoc.standalone.js"
FAVICON = f"{DOCS_URL}/fastapi/favicon.png"
# Swagger UI would otherwise ask validator.swagger.io for a badge about any document not served from localhost.
SWAGGER_UI_PARAMETERS: dict[str, Any] = {"validatorUrl": None}


def install_docs(app: FastAPI) -> None:
    """Swagger UI on /docs and ReDoc on /redoc from local assets; the app must be created with
    ``docs_url=None, redoc_url=None`` (FastAPI's own pages load them from a CDN)."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("create the app with docs_url=None, redoc_url=None: install_docs serves both pages")
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs pages need the app's OpenAPI document (openapi_url)")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_URL}/oauth2-redirect"

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    # The pages' routes come before the mounts below: a mount on /docs takes every path under it.
    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        prefix = root(request)
        return get_swagger_ui_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=prefix + SWAGGER_JS,
            swagger_css_url=prefix + SWAGGER_CSS,
            swagger_favicon_url=prefix + FAVICON,
            oauth2_redirect_url=prefix + oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), **SWAGGER_UI_PARAMETERS},
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        prefix = root(request)
        return get_redoc_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=prefix + REDOC_JS,
            redoc_favicon_url=prefix + FAVICON,
            with_google_fonts=False,
        )

    app.mount(f"{DOCS_URL}/fastapi", StaticFiles(directory=STATIC / "fastapi"), name="docs-fastapi-assets")
    app.mount(DOCS_URL, StaticFiles(directory=STATIC / "swagger"), name="docs-assets")
    app.mount(REDOC_URL, StaticFiles(directory=STATIC / "redoc"), name="redoc-assets")
