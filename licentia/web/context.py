"""Per-request plumbing of the dashboard: runtime, client address, cookies, CSRF, rendering.

Cookies (all `HttpOnly`, `SameSite=Lax`, path `/dashboard`):

* `licentia_dash`: the session (256 random bits; the server keeps only their SHA-256).
* `licentia_dash_pre`: before sign-in, a random value the sign-in forms must repeat in a
  hidden field (double-submit CSRF token), so a foreign page cannot sign a browser in.
* `licentia_dash_flash`: for one minute after an action, the message saying what changed;
  the next full page shows it once and clears it.
* `licentia_theme`: `light` or `dark` when the account chose one (else the system's).

Cookies are `Secure` except for plain `http` to `127.0.0.1`, `::1` or `localhost` while
`LICENTIA_ENV=dev`, so a local trial works without TLS; anywhere else run the dashboard
behind HTTPS.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from licentia.services.audit import Actor
from licentia.services.dashboard_auth import DashSession, account_actor
from licentia.services.netinfo import NetInfo, in_networks, to_ip
from licentia.services.runtime import Runtime

SESSION_COOKIE = "licentia_dash"
PRE_COOKIE = "licentia_dash_pre"
FLASH_COOKIE = "licentia_dash_flash"
THEME_COOKIE = "licentia_theme"
THEMES = ("auto", "light", "dark")
_MAX_FLASH = 400
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


class Refused(Exception):
    """Stops a request with an error page (403 CSRF refusal, 404, ...)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class Redirect(Exception):
    """Stops a request with a redirect (to sign-in, or to the forced password change)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def csrf_refused() -> Refused:
    return Refused(
        403,
        "Request refused",
        "This form has expired or did not come from this dashboard. Reload the page and try again.",
    )


@dataclass
class Dash:
    """The dashboard's state, built once per app."""

    get_runtime: Callable[[], Runtime | None]
    _net: tuple[Runtime, NetInfo] | None = field(default=None)

    def runtime(self) -> Runtime:
        rt = self.get_runtime()
        if rt is None:
            raise RuntimeError("the dashboard has no runtime yet")
        return rt

    def net(self) -> NetInfo:
        rt = self.runtime()
        if self._net is None or self._net[0] is not rt:
            self._net = (rt, NetInfo(rt.settings))
        return self._net[1]

    def client_ip(self, request: Request) -> str:
        peer = request.client.host if request.client is not None else ""
        headers = {k.lower(): v for k, v in request.headers.raw}
        return self.net().client_ip(peer, headers)[0]

    def scheme(self, request: Request) -> str:
        """The scheme the browser used: `X-Forwarded-Proto` when the request came from a
        trusted proxy (`LICENTIA_TRUSTED_PROXIES`), else the connection's own (#12 item 5)."""
        own = request.url.scheme
        peer = to_ip(request.client.host) if request.client is not None else None
        net = self.net()
        if peer is None or not in_networks(peer, net.trusted):
            return own
        # The leftmost value is the one the first proxy (the one facing the browser) saw.
        given = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return given if given in ("http", "https") else own


def dash_of(request: Request) -> Dash:
    dash: Dash = request.app.state.dash
    return dash


def base(request: Request) -> str:
    """The dashboard's URL prefix (`/dashboard`, or deeper behind a proxy's root path)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", "")
    if not rid:
        rid = uuid.uuid4().hex
        request.state.request_id = rid
    return str(rid)


def actor(request: Request, session: DashSession) -> Actor:
    """The audit actor of this request: the signed-in account, face `dashboard`."""
    return account_actor(
        session.account.id, dash_of(request).client_ip(request), request_id(request)
    )


def secure_cookies(request: Request) -> bool:
    if dash_of(request).scheme(request) == "https":
        return True
    rt = dash_of(request).runtime()
    host = (request.url.hostname or "").lower()
    return not (rt.settings.env == "dev" and host in LOCAL_HOSTS)


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=base(request) or "/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name,
        path=base(request) or "/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )


def pre_token(request: Request) -> tuple[str, bool]:
    """The pre-sign-in CSRF value and whether it is new (and must be set as a cookie)."""
    current = request.cookies.get(PRE_COOKIE, "")
    if 20 <= len(current) <= 64:
        return current, False
    return secrets.token_urlsafe(24), True


def given_csrf(request: Request, form: Mapping[str, Any]) -> str:
    value = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return value if isinstance(value, str) else ""


def check_pre_csrf(request: Request, form: Mapping[str, Any]) -> None:
    cookie = request.cookies.get(PRE_COOKIE, "")
    given = given_csrf(request, form)
    if not cookie or not given or not hmac.compare_digest(cookie.encode(), given.encode()):
        raise csrf_refused()


def redirect(
    request: Request, path: str, flash: str = "", *, bad: bool = False
) -> RedirectResponse:
    """A 303 to a dashboard path; `flash` is shown once on the page it leads to."""
    response = RedirectResponse(base(request) + path, status_code=303)
    if flash:
        raw = json.dumps([flash[:_MAX_FLASH], bad], separators=(",", ":")).encode()
        value = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        set_cookie(request, response, FLASH_COOKIE, value, max_age=60)
    return response


@dataclass(frozen=True)
class Flash:
    text: str
    bad: bool


def read_flash(request: Request) -> Flash | None:
    """The pending flash message (a malformed cookie is no message)."""
    value = request.cookies.get(FLASH_COOKIE, "")
    if not value or len(value) > 4 * _MAX_FLASH:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], str)):
        return None
    return Flash(data[0][:_MAX_FLASH], bool(data[1]))


def theme_of(request: Request) -> str:
    value = request.cookies.get(THEME_COOKIE, "")
    return value if value in THEMES else "auto"


def here(request: Request) -> str:
    """This page's path below the dashboard prefix, with its query (a form's way back)."""
    path = request.url.path
    prefix = base(request)
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    query = f"?{request.url.query}" if request.url.query else ""
    return (path or "/") + query


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    session: DashSession | None = None,
    csrf: str = "",
) -> HTMLResponse:
    # A full page shows (and clears) the pending flash message; an htmx fragment leaves it.
    full = not template.startswith("_")
    flash = read_flash(request) if full else None
    values: dict[str, Any] = {
        "base": base(request),
        "flash": flash,
        "theme": theme_of(request),
        "here": here(request),
        "session": session,
        "account": session.account if session is not None else None,
        "csrf": csrf or (session.csrf_token if session is not None else ""),
        "errors": {},
        "values": {},
    }
    if context:
        values.update(context)
    response = templates.TemplateResponse(request, template, values, status_code=status)
    if full and FLASH_COOKIE in request.cookies:
        clear_cookie(request, response, FLASH_COOKIE)
    return response
