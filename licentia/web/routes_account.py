"""Sign-in (password, then TOTP when on), sign-out, and the account page.

The account page changes the password, turns TOTP on (a secret shown once, confirmed with a
code) or off (with a code), and signs out everywhere. The rules live in
`services/dashboard_auth`; these routes only read forms and render pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import dashboard_auth, dashboard_guard, dashboard_lockpass
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import DashAccount, SignInResult
from licentia.web.app import DashRoute, form_values, runtime, signed_in
from licentia.web.context import (
    PRE_COOKIE,
    SESSION_COOKIE,
    actor,
    check_pre_csrf,
    clear_cookie,
    dash_of,
    pre_token,
    redirect,
    render,
    set_cookie,
)

router = APIRouter(route_class=DashRoute)

_STATUS = {"RATE_LIMITED": 429, "ACCOUNT_SUSPENDED": 403}


def _landing(account: DashAccount) -> str:
    """Owners start at their apps; staff and resellers at what they may open (/workspace)."""
    return "/apps" if account.is_owner else "/workspace"


def _safe_next(value: str, account: DashAccount) -> str:
    """Only a path inside the dashboard (never another site) is a valid `next`."""
    if value.startswith("/dashboard/") and not value.startswith("//") and "\\" not in value:
        return value[len("/dashboard") :]
    return _landing(account)


def _signin_page(
    request: Request, *, errors: dict[str, str], values: dict[str, str], status: int = 200
) -> Response:
    token, fresh = pre_token(request)
    response = render(
        request, "signin.html", {"errors": errors, "values": values}, status=status, csrf=token
    )
    if fresh:
        set_cookie(request, response, PRE_COOKIE, token)
    return response


def _devices(request: Request) -> list[str]:
    """The browser's known-device cookies (`dashboard_guard`): they lift the account-wide lock."""
    prefix = dashboard_guard.DEVICE_COOKIE_PREFIX
    return [v for k, v in sorted(request.cookies.items()) if k.startswith(prefix)]


def _remember_device(request: Request, response: Response, result: SignInResult) -> None:
    if result.device:
        name = dashboard_guard.device_cookie_name(result.session.account.id)
        lifetime = int(dashboard_guard.DEVICE_LIFETIME.total_seconds())
        set_cookie(request, response, name, result.device, max_age=lifetime)


@router.get("/")
async def home(request: Request) -> Response:
    return redirect(request, "/workspace")


@router.get("/signin")
async def signin_form(request: Request, next: str = "") -> Response:
    rt = runtime(request)
    session = await dashboard_auth.load_session(rt, request.cookies.get(SESSION_COOKIE))
    if session is not None:
        return redirect(request, _landing(session.account))
    return _signin_page(request, errors={}, values={"next": next})


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await form_values(request)
    check_pre_csrf(request, form)
    rt = runtime(request)
    username = form.get("username", "")
    values = {"username": username, "next": form.get("next", "")}
    try:
        result = await dashboard_auth.sign_in(
            rt,
            username,
            form.get("password", ""),
            ip=dash_of(request).client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            devices=_devices(request),
        )
    except AdminError as exc:
        past = await _past_lock(request, form, exc)
        if past is None:
            return _signin_page(
                request,
                errors={"form": exc.message},
                values={**values, "locked": "1"} if exc.code == "RATE_LIMITED" else values,
                status=_STATUS.get(exc.code, 400),
            )
        result = past
    if result.stage == "totp":
        response = redirect(request, "/signin/totp")
    elif result.session.account.must_change_password:
        response = redirect(request, "/account")
    else:
        response = redirect(request, _safe_next(values["next"], result.session.account))
    set_cookie(request, response, SESSION_COOKIE, result.token)
    _remember_device(request, response, result)
    return response


async def _past_lock(
    request: Request, form: dict[str, str], refused: AdminError
) -> SignInResult | None:
    """A locked sign-in with a TOTP code: the password-and-code step past the account-wide
    lock (`services.dashboard_lockpass`); None to show the refusal."""
    code = form.get("code", "").strip()
    if refused.code != "RATE_LIMITED" or not code:
        return None
    try:
        return await dashboard_lockpass.sign_in_with_code(
            runtime(request),
            form.get("username", ""),
            form.get("password", ""),
            code,
            ip=dash_of(request).client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
    except AdminError:
        return None


@router.get("/signin/totp")
async def totp_form(request: Request) -> Response:
    rt = runtime(request)
    pending = await dashboard_auth.load_session(
        rt, request.cookies.get(SESSION_COOKIE), stage="totp"
    )
    if pending is None:
        return redirect(request, "/signin")
    return render(request, "totp.html", csrf=pending.csrf_token)


@router.post("/signin/totp")
async def totp(request: Request) -> Response:
    rt = runtime(request)
    form = await form_values(request)
    ip = dash_of(request).client_ip(request)
    pending = await dashboard_auth.load_session(
        rt, request.cookies.get(SESSION_COOKIE), ip=ip, stage="totp"
    )
    if pending is None:
        return redirect(request, "/signin")
    if not dashboard_auth.csrf_ok(pending, form.get("csrf_token", "")):
        from licentia.web.context import csrf_refused

        raise csrf_refused()
    try:
        result = await dashboard_auth.complete_totp(
            rt,
            request.cookies.get(SESSION_COOKIE),
            form.get("code", ""),
            ip=ip,
            devices=_devices(request),
        )
    except AdminError as exc:
        return render(
            request,
            "totp.html",
            {"errors": {"code": exc.message}},
            status=_STATUS.get(exc.code, 400),
            csrf=pending.csrf_token,
        )
    account = result.session.account
    target = "/account" if account.must_change_password else _landing(account)
    response = redirect(request, target)
    set_cookie(request, response, SESSION_COOKIE, result.token)
    _remember_device(request, response, result)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    session = await signed_in(request, allow_forced=True)
    await dashboard_auth.sign_out(runtime(request), session, actor(request, session))
    response = redirect(request, "/signin")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


# -- account page ------------------------------------------------------------------------


async def _account_page(
    request: Request,
    session: dashboard_auth.DashSession,
    *,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    setup = await dashboard_auth.pending_totp(runtime(request), session)
    return render(
        request,
        "account.html",
        {"errors": errors or {}, "notice": notice, "setup": setup},
        status=status,
        session=session,
    )


@router.get("/account")
async def account(request: Request) -> Response:
    session = await signed_in(request, allow_forced=True)
    return await _account_page(request, session)


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    session = await signed_in(request, allow_forced=True)
    form = await form_values(request)
    new = form.get("new_password", "")
    if new != form.get("confirm_password", ""):
        return await _account_page(
            request, session, errors={"confirm_password": "The passwords differ."}, status=400
        )
    try:
        await dashboard_auth.change_password(
            runtime(request),
            session,
            form.get("current_password", ""),
            new,
            actor(request, session),
        )
    except AdminError as exc:
        field = (exc.fields or ["new_password"])[0]
        return await _account_page(request, session, errors={field: exc.message}, status=400)
    fresh = await signed_in(request, allow_forced=True)
    return await _account_page(request, fresh, notice="Password changed.")


@router.post("/account/totp/start")
async def totp_start(request: Request) -> Response:
    session = await signed_in(request)
    await dashboard_auth.start_totp(runtime(request), session)
    return redirect(request, "/account#totp")


@router.post("/account/totp/enable")
async def totp_enable(request: Request) -> Response:
    session = await signed_in(request)
    form = await form_values(request)
    try:
        await dashboard_auth.enable_totp(
            runtime(request), session, form.get("code", ""), actor(request, session)
        )
    except AdminError as exc:
        return await _account_page(request, session, errors={"code": exc.message}, status=400)
    fresh = await signed_in(request)
    return await _account_page(request, fresh, notice="Two-factor sign-in is on.")


@router.post("/account/totp/disable")
async def totp_disable(request: Request) -> Response:
    session = await signed_in(request)
    form = await form_values(request)
    try:
        await dashboard_auth.disable_totp(
            runtime(request), session, form.get("code", ""), actor(request, session)
        )
    except AdminError as exc:
        return await _account_page(
            request, session, errors={"disable_code": exc.message}, status=400
        )
    fresh = await signed_in(request)
    return await _account_page(request, fresh, notice="Two-factor sign-in is off.")


@router.post("/account/signout-everywhere")
async def signout_everywhere(request: Request) -> Response:
    session = await signed_in(request, allow_forced=True)
    await dashboard_auth.sign_out_everywhere(runtime(request), session, actor(request, session))
    response = redirect(request, "/signin")
    clear_cookie(request, response, SESSION_COOKIE)
    return response
