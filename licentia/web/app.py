"""The dashboard application, mounted at `/dashboard` by `licentia.api.app`.

Server-rendered pages (Jinja2) with htmx for in-place list updates; no build step and no
external resources. Every route leaves through `DashRoute`, which turns refusals into pages:
an unknown or foreign object is the 404 page, a missing right or a bad CSRF token the 403
page, and anything unexpected a plain 500 page (logged with its request id, no internals in
the page).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from licentia.services import dashboard_auth
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import DashSession
from licentia.services.runtime import Runtime
from licentia.web.context import (
    SESSION_COOKIE,
    STATIC_DIR,
    Dash,
    Redirect,
    Refused,
    base,
    csrf_refused,
    dash_of,
    given_csrf,
    render,
    request_id,
)

log = logging.getLogger("licentia.dashboard")

_SECURITY_HEADERS = {
    # Only our own files; htmx runs from /dashboard/static, inline scripts are not needed.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    response = render(
        request,
        "error.html",
        {"title": title, "message": message, "status": status},
        status=status,
    )
    return response


def _admin_error_page(request: Request, exc: AdminError) -> Response:
    if exc.is_not_found:
        return error_page(request, 404, "Not found", "There is nothing here.")
    if exc.code == "PERMISSION_DENIED":
        return error_page(request, 403, "Not allowed", "Your account may not do this.")
    return error_page(request, 400, "Request refused", exc.message)


class DashRoute(APIRoute):
    """Route class of every dashboard route: request ids, security headers, error pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            rid = request_id(request)
            try:
                response = await original(request)
            except Redirect as exc:
                response = Response(
                    status_code=303, headers={"Location": base(request) + exc.location}
                )
            except Refused as exc:
                response = error_page(request, exc.status, exc.title, exc.message)
            except AdminError as exc:
                response = _admin_error_page(request, exc)
            except RequestValidationError:
                response = error_page(request, 400, "Request refused", "The request is invalid.")
            except HTTPException as exc:
                response = error_page(request, exc.status_code, "Request refused", "Not available.")
            except Exception:
                log.exception("unhandled error in the dashboard (request id %s)", rid)
                response = error_page(
                    request,
                    500,
                    "Something went wrong",
                    f"The server could not complete this request. Reference: {rid}",
                )
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("Vary", "HX-Request")
            return response

        return handler


async def signed_in(request: Request, *, allow_forced: bool = False) -> DashSession:
    """The request's full session; every POST must also carry its CSRF token.

    No session: GET redirects to sign-in, POST is refused (403). While the account must
    change its password, only the account page (`allow_forced`) is reachable.
    """
    dash = dash_of(request)
    rt = dash.runtime()
    session = await dashboard_auth.load_session(
        rt, request.cookies.get(SESSION_COOKIE), ip=dash.client_ip(request)
    )
    if request.method != "GET":
        form = await request.form()
        if session is None or not dashboard_auth.csrf_ok(session, given_csrf(request, form)):
            raise csrf_refused()
    elif session is None:
        target = request.url.path
        query = f"?{request.url.query}" if request.url.query else ""
        raise Redirect("/signin?next=" + quote(target + query, safe=""))
    if session.account.must_change_password and not allow_forced:
        raise Redirect("/account")
    return session


def runtime(request: Request) -> Runtime:
    return dash_of(request).runtime()


async def form_values(request: Request) -> dict[str, str]:
    """The submitted form as plain strings (files are ignored)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    title = "Not found" if status == 404 else "Request refused"
    response = error_page(request, status, title, "There is nothing here.")
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def build_dashboard(get_runtime: Callable[[], Runtime | None]) -> FastAPI:
    """The dashboard as an ASGI app; mount it at `/dashboard`."""
    from licentia.web import (
        routes_account,
        routes_apps,
        routes_content,
        routes_identities,
        routes_lists,
        routes_online,
        routes_overview,
        routes_sales,
        routes_settings,
        routes_team,
        routes_tickets,
        routes_webhooks,
    )

    dash = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    dash.state.dash = Dash(get_runtime)
    dash.router.route_class = DashRoute
    dash.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    dash.include_router(routes_account.router)
    dash.include_router(routes_apps.router)
    dash.include_router(routes_overview.router)
    dash.include_router(routes_team.router)
    dash.include_router(routes_content.router)
    dash.include_router(routes_settings.router)
    dash.include_router(routes_tickets.router)  # before the generic license action route
    dash.include_router(routes_lists.router)
    dash.include_router(routes_identities.router)
    dash.include_router(routes_webhooks.router)
    dash.include_router(routes_online.router)
    dash.include_router(routes_sales.router)
    # Unknown paths and wrong methods never reach a route: answer them as pages too.
    dash.add_exception_handler(HTTPException, _not_found)
    return dash
