"""The end-user portal, mounted at `/portal` by `licentia.api.app` (management B.22).

One page per app at `/portal/{app_id}`: sign-in (username and password, or a license key),
then the holder's subscription, expiry, bound devices and recent resets, with "Reset my HWID"
and, when the app allows it, a password change. The rules live in `services/portal`.

Cookies (all `HttpOnly`, `SameSite=Lax`, path `/portal/{app_id}`, `Secure` except for local
dev over plain http, as for the dashboard):

* `licentia_portal`: the session (256 random bits; the server keeps only their SHA-256).
* `licentia_portal_pre`: before sign-in, a random value the sign-in forms repeat in a hidden
  field (double-submit CSRF token).

An app whose portal is off, a disabled app and an unknown id all answer the same 404 page.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from licentia.services import portal
from licentia.services.admin_common import AdminError
from licentia.services.portal import PortalApp, PortalSession
from licentia.services.runtime import Runtime
from licentia.web.context import (
    STATIC_DIR,
    Dash,
    Refused,
    base,
    dash_of,
    given_csrf,
    pre_token,
    request_id,
    secure_cookies,
    templates,
)

log = logging.getLogger("licentia.portal")

SESSION_COOKIE = "licentia_portal"
PRE_COOKIE = "licentia_portal_pre"

_SECURITY_HEADERS = {
    # No scripts at all: the portal is plain forms.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

#: HTTP statuses of refused sign-ins and actions.
_STATUS = {
    "RATE_LIMITED": 429,
    "HWID_RESET_COOLDOWN": 429,
    "HWID_RESET_LIMIT": 429,
    "IDENTITY_BLOCKED": 403,
    "PERMISSION_DENIED": 403,
}


def _render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    csrf: str = "",
) -> HTMLResponse:
    values: dict[str, Any] = {"base": base(request), "csrf": csrf, "errors": {}, "values": {}}
    if context:
        values.update(context)
    return templates.TemplateResponse(request, template, values, status_code=status)


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return _render(
        request,
        "portal_error.html",
        {"title": title, "message": message, "status": status},
        status=status,
    )


def _csrf_refused() -> Refused:
    return Refused(
        403,
        "Request refused",
        "This form has expired or did not come from this page. Reload the page and try again.",
    )


class PortalRoute(APIRoute):
    """Route class of every portal route: security headers and error pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            rid = request_id(request)
            try:
                response = await original(request)
            except Refused as exc:
                response = _error_page(request, exc.status, exc.title, exc.message)
            except AdminError as exc:
                if exc.is_not_found:
                    response = _error_page(request, 404, "Not found", "There is nothing here.")
                else:
                    status = _STATUS.get(exc.code, 400)
                    response = _error_page(request, status, "Request refused", exc.message)
            except (RequestValidationError, HTTPException):
                response = _error_page(request, 404, "Not found", "There is nothing here.")
            except Exception:
                log.exception("unhandled error in the portal (request id %s)", rid)
                response = _error_page(
                    request,
                    500,
                    "Something went wrong",
                    f"The server could not complete this request. Reference: {rid}",
                )
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return handler


router = APIRouter(route_class=PortalRoute)


# -- plumbing ----------------------------------------------------------------------------


def _runtime(request: Request) -> Runtime:
    return dash_of(request).runtime()


def _ip(request: Request) -> str:
    return dash_of(request).client_ip(request)


def _cookie_path(request: Request, app_id: str) -> str:
    return f"{base(request)}/{app_id}"


def _set_cookie(request: Request, response: Response, app_id: str, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=_cookie_path(request, app_id),
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )


def _clear_cookie(request: Request, response: Response, app_id: str, name: str) -> None:
    response.delete_cookie(
        name,
        path=_cookie_path(request, app_id),
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )


def _redirect(request: Request, app_id: str, tail: str = "") -> RedirectResponse:
    return RedirectResponse(f"{base(request)}/{app_id}{tail}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _app(request: Request, app_id: str) -> PortalApp:
    return await portal.portal_app(_runtime(request), app_id)


async def _session(request: Request, app: PortalApp) -> PortalSession | None:
    return await portal.load_session(
        _runtime(request), app.id, request.cookies.get(SESSION_COOKIE), ip=_ip(request)
    )


async def _posted(request: Request, app_id: str) -> tuple[PortalApp, PortalSession, dict[str, str]]:
    """A POST of a signed-in holder: the app, the session and the form (CSRF checked)."""
    app = await _app(request, app_id)
    form = await _form(request)
    session = await _session(request, app)
    if session is None or not portal.csrf_ok(session, given_csrf(request, form)):
        raise _csrf_refused()
    return app, session, form


def _signin_page(
    request: Request,
    app: PortalApp,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    token, fresh = pre_token(request)
    response = _render(
        request,
        "portal_signin.html",
        {"app": app, "errors": errors or {}, "values": values or {}},
        status=status,
        csrf=token,
    )
    if fresh:
        _set_cookie(request, response, app.id, PRE_COOKIE, token)
    return response


async def _home_page(
    request: Request,
    app: PortalApp,
    session: PortalSession,
    *,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    view = await portal.overview(_runtime(request), app, session)
    context = {
        "app": app,
        "view": view,
        "errors": errors or {},
        "notice": notice,
        "shown_name": shown_name(view.kind, view.name),
        "cooldown_text": duration_text(app.reset_cooldown),
    }
    return _render(
        request,
        "portal.html",
        context,
        status=status,
        csrf=session.csrf_token,
    )


def shown_name(kind: str, name: str) -> str:
    """The holder as the page shows it: a license key only by its ends."""
    if kind == "license" and len(name) > 10:
        return f"{name[:4]}…{name[-4:]}"
    return name


def duration_text(seconds: int) -> str:
    """`90` -> `2 minutes`, `86400` -> `24 hours`, `259200` -> `3 days` (rounded up)."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size * (2 if unit == "day" else 1) and (unit != "day" or seconds % size == 0):
            count = -(-seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


_NOTICES = {
    "reset": "Your HWID was reset. Your next sign-in in the app binds the device you use then.",
    "password": "Your password was changed.",
}


# -- routes ------------------------------------------------------------------------------


@router.get("/{app_id}")
async def home(request: Request, app_id: str, done: str = "") -> Response:
    app = await _app(request, app_id)
    session = await _session(request, app)
    if session is None:
        return _redirect(request, app.id, "/signin")
    return await _home_page(request, app, session, notice=_NOTICES.get(done, ""))


@router.get("/{app_id}/signin")
async def signin_form(request: Request, app_id: str) -> Response:
    app = await _app(request, app_id)
    if await _session(request, app) is not None:
        return _redirect(request, app.id)
    return _signin_page(request, app)


@router.post("/{app_id}/signin")
async def signin(request: Request, app_id: str) -> Response:
    app = await _app(request, app_id)
    form = await _form(request)
    cookie = request.cookies.get(PRE_COOKIE, "")
    given = given_csrf(request, form)
    if not cookie or not given or not hmac.compare_digest(cookie.encode(), given.encode()):
        raise _csrf_refused()
    rt = _runtime(request)
    method = form.get("method", "user")
    agent = request.headers.get("user-agent", "")
    try:
        if method == "license":
            result = await portal.sign_in_license(
                rt, app, form.get("key", ""), ip=_ip(request), user_agent=agent
            )
        else:
            result = await portal.sign_in_user(
                rt,
                app,
                form.get("username", ""),
                form.get("password", ""),
                ip=_ip(request),
                user_agent=agent,
            )
    except AdminError as exc:
        field = "key_form" if method == "license" else "user_form"
        return _signin_page(
            request,
            app,
            errors={field: exc.message},
            values={"username": form.get("username", "")[:64]},
            status=_STATUS.get(exc.code, 400),
        )
    response = _redirect(request, app.id)
    _set_cookie(request, response, app.id, SESSION_COOKIE, result.token)
    return response


@router.post("/{app_id}/reset")
async def reset(request: Request, app_id: str) -> Response:
    app, session, _ = await _posted(request, app_id)
    try:
        await portal.reset_hwid(
            _runtime(request), app.id, session, ip=_ip(request), request_id=request_id(request)
        )
    except AdminError as exc:
        if exc.is_not_found:
            raise
        return await _home_page(
            request, app, session, errors={"reset": exc.message}, status=_STATUS.get(exc.code, 400)
        )
    return _redirect(request, app.id, "?done=reset")


@router.post("/{app_id}/password")
async def password(request: Request, app_id: str) -> Response:
    app, session, form = await _posted(request, app_id)
    try:
        await portal.change_password(
            _runtime(request),
            app.id,
            session,
            form.get("current_password", ""),
            form.get("new_password", ""),
            ip=_ip(request),
            request_id=request_id(request),
        )
    except AdminError as exc:
        if exc.is_not_found:
            raise
        field = (exc.fields or ["password"])[0]
        return await _home_page(
            request, app, session, errors={field: exc.message}, status=_STATUS.get(exc.code, 400)
        )
    return _redirect(request, app.id, "?done=password")


@router.post("/{app_id}/signout")
async def signout(request: Request, app_id: str) -> Response:
    app, session, _ = await _posted(request, app_id)
    await portal.sign_out(_runtime(request), session)
    response = _redirect(request, app.id, "/signin")
    _clear_cookie(request, response, app.id, SESSION_COOKIE)
    return response


async def _not_found(request: Request, exc: Exception) -> Response:
    response = _error_page(request, 404, "Not found", "There is nothing here.")
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def build_portal(get_runtime: Callable[[], Runtime | None]) -> FastAPI:
    """The end-user portal as an ASGI app; mount it at `/portal`."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.dash = Dash(get_runtime)
    app.router.route_class = PortalRoute
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(router)
    app.add_exception_handler(HTTPException, _not_found)
    return app
