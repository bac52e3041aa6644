"""`/` and `/docs`: what a new user's browser finds first.

`/` redirects to the dashboard (`/dashboard/`, which signs in and lands on the workspace).
`/docs` is FastAPI's Swagger UI page, but its script and style sheet come from the installed
`swagger-ui-bundle` package (served under `/docs/assets/`), not from a CDN: the page works on
a server without internet access. ReDoc (CDN only) is not offered.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
DASHBOARD_PATH = "/dashboard/"


def swagger_assets_dir() -> str:
    """The folder of the Swagger UI files shipped by the `swagger-ui-bundle` package."""
    import swagger_ui_bundle

    return str(swagger_ui_bundle.swagger_ui_path)


def install(web: FastAPI) -> None:
    """Add `/` (to the dashboard) and an offline `/docs` to `web` (created with docs_url=None,
    redoc_url=None)."""
    openapi_url = web.openapi_url or "/openapi.json"
    redirect_url = web.swagger_ui_oauth2_redirect_url or f"{DOCS_PATH}/oauth2-redirect"

    async def home() -> RedirectResponse:
        return RedirectResponse(DASHBOARD_PATH, status_code=307)

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{web.title} - API documentation",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            oauth2_redirect_url=redirect_url,
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    web.add_api_route("/", home, methods=["GET", "HEAD"], include_in_schema=False)
    web.add_api_route(DOCS_PATH, docs, methods=["GET"], include_in_schema=False)
    web.add_api_route(redirect_url, oauth2_redirect, methods=["GET"], include_in_schema=False)
    web.mount(ASSETS_PATH, StaticFiles(directory=swagger_assets_dir()), name="docs-assets")
