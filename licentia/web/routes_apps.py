"""Apps list, licenses and users pages (the app overview is in routes_overview).

Reads go through `licentia.web.lists`; every change calls an admin service and writes its
audit entry in the same transaction (`actions.audited`), so the change and its entry commit
together and a refused change leaves neither. Every app page first passes
`dashboard_auth.authorize_app`, the one authorization check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import admin, dashboard_auth
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import AppAccess, DashSession
from licentia.web import lists
from licentia.web.actions import app_page, audited
from licentia.web.app import DashRoute, form_values, runtime, signed_in
from licentia.web.context import Refused, redirect, render

router = APIRouter(route_class=DashRoute)

T = TypeVar("T")
_MAX_SEARCH = 64


# -- apps --------------------------------------------------------------------------------


async def _apps_page(
    request: Request,
    session: DashSession,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    created: admin.CreatedApp | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    groups = [
        (scope, await lists.apps_of(rt, scope.owner_account_id, scope.app_ids))
        for scope in await dashboard_auth.app_scopes(rt, session.account)
    ]
    return render(
        request,
        "apps.html",
        {"groups": groups, "errors": errors or {}, "values": values or {}, "created": created},
        status=status,
        session=session,
    )


@router.get("/apps")
async def apps_list(request: Request) -> Response:
    session = await signed_in(request)
    return await _apps_page(request, session)


@router.post("/apps")
async def apps_create(request: Request) -> Response:
    session = await signed_in(request)
    form = await form_values(request)
    name = form.get("name", "")
    owner_id = session.account.owner_id
    if owner_id is None:
        raise Refused(403, "Not allowed", "Only an owner account creates apps.")
    try:
        created = await audited(
            request,
            session,
            lambda: admin.create_app(runtime(request), owner_id, name),
            capability="app.create",
            target_type="app",
            target=name.strip(),
            app_id=None,
            owner_account_id=session.account.id,
            changes={"name": [None, name.strip()]},
        )
    except AdminError as exc:
        if exc.is_not_found:
            raise
        return await _apps_page(
            request, session, errors={"name": exc.message}, values={"name": name}, status=400
        )
    return await _apps_page(request, session, created=created)


# -- licenses ----------------------------------------------------------------------------


def _list_args(request: Request, states: tuple[str, ...]) -> tuple[str, str, str | None]:
    search = request.query_params.get("q", "").strip()[:_MAX_SEARCH]
    state = request.query_params.get("state", "")
    if state not in states:
        state = ""
    cursor = request.query_params.get("cursor") or None
    return search, state, cursor


def _wants_rows(request: Request) -> bool:
    """htmx asks for the table only; a history restore (back button) needs the whole page."""
    headers = request.headers
    return (
        request.method == "GET"
        and headers.get("hx-request") == "true"
        and headers.get("hx-history-restore-request") != "true"
    )


async def _licenses_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    new_keys: list[str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    search, state, cursor = _list_args(request, lists.LICENSE_STATES)
    page = await lists.license_page(rt, access.app_id, search=search, state=state, cursor=cursor)
    partial = _wants_rows(request)
    context = {
        "app": access,
        "tab": "licenses",
        "page": page,
        "search": search,
        "state": state,
        "states": lists.LICENSE_STATES,
        "subscriptions": await lists.subscription_names(rt, access.app_id),
        "errors": errors or {},
        "values": values or {},
        "new_keys": new_keys,
        "next_query": urlencode({"q": search, "state": state, "cursor": page.next_cursor or ""}),
    }
    template = "_licenses_table.html" if partial else "licenses.html"
    return render(request, template, context, status=status, session=session)


@router.get("/apps/{app_id}/licenses")
async def licenses_list(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "license.list")
    return await _licenses_page(request, session, access)


def _int(form: dict[str, str], name: str, errors: dict[str, str], default: int) -> int:
    text = form.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or len(text) > 9:
        errors[name] = "Enter a whole number."
        return default
    return int(text)


@router.post("/apps/{app_id}/licenses/generate")
async def licenses_generate(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "license.generate")
    form = await form_values(request)
    values = {k: form.get(k, "") for k in ("subscription", "count", "days", "mask", "note")}
    values["lifetime"] = "on" if form.get("lifetime") else ""
    errors: dict[str, str] = {}
    count = _int(form, "count", errors, 1)
    lifetime = bool(form.get("lifetime"))
    days = None if lifetime else _int(form, "days", errors, 30)
    if count > lists.MAX_GENERATE:
        errors["count"] = (
            f"At most {lists.MAX_GENERATE} keys per form; use the CLI or API for more."
        )
    if not errors:
        try:
            keys = await audited(
                request,
                session,
                lambda: admin.generate_licenses(
                    runtime(request),
                    access.app_id,
                    values["subscription"],
                    days=days,
                    lifetime=lifetime,
                    count=count,
                    mask=values["mask"].strip() or admin.DEFAULT_MASK,
                    note=values["note"],
                    created_by=f"account:{session.account.id}",
                ),
                capability="license.generate",
                target_type="license_batch",
                target=f"{count} keys",
                app_id=access.app_id,
                owner_account_id=access.owner_account_id,
                changes={"count": [None, count], "subscription": [None, values["subscription"]]},
            )
        except AdminError as exc:
            if exc.code in {"APP_NOT_FOUND"}:
                raise
            field = _field_of(exc, {"count", "days", "mask", "note", "subscription"})
            errors[field] = exc.message
        else:
            return await _licenses_page(request, session, access, new_keys=keys)
    return await _licenses_page(request, session, access, errors=errors, values=values, status=400)


def _field_of(exc: AdminError, known: set[str]) -> str:
    if exc.code == "SUBSCRIPTION_NOT_FOUND":
        return "subscription"
    for name in exc.fields or []:
        if name in known:
            return name
    return "form"


_LICENSE_ACTIONS = {"ban", "unban", "delete"}
_USER_ACTIONS = {"ban", "unban"}


def _back(form: dict[str, str]) -> str:
    query = {k: form.get(k, "") for k in ("q", "state") if form.get(k)}
    return f"?{urlencode(query)}" if query else ""


@router.post("/apps/{app_id}/licenses/{key}/{action}")
async def license_action(request: Request, app_id: str, key: str, action: str) -> Response:
    if action not in _LICENSE_ACTIONS:
        raise Refused(404, "Not found", "There is nothing here.")
    session, access = await app_page(request, app_id, f"license.{action}")
    form = await form_values(request)
    rt = runtime(request)
    reason = form.get("reason", "")[:200]
    call: Callable[[], Awaitable[Any]]
    if action == "ban":
        call = lambda: admin.ban_license(rt, access.app_id, key, reason)  # noqa: E731
    elif action == "unban":
        call = lambda: admin.unban_license(rt, access.app_id, key)  # noqa: E731
    else:
        call = lambda: admin.delete_license(rt, access.app_id, key)  # noqa: E731
    await audited(
        request,
        session,
        call,
        capability=f"license.{action}",
        target_type="license",
        target=key,
        app_id=access.app_id,
        owner_account_id=access.owner_account_id,
        changes={"banned": [action == "unban", action == "ban"]} if action != "delete" else None,
    )
    return redirect(request, f"/apps/{access.app_id}/licenses{_back(form)}")


# -- users -------------------------------------------------------------------------------


@router.get("/apps/{app_id}/users")
async def users_list(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "user.list")
    search, state, cursor = _list_args(request, lists.USER_STATES)
    page = await lists.user_page(
        runtime(request), access.app_id, search=search, state=state, cursor=cursor
    )
    partial = _wants_rows(request)
    context = {
        "app": access,
        "tab": "users",
        "page": page,
        "search": search,
        "state": state,
        "states": lists.USER_STATES,
        "next_query": urlencode({"q": search, "state": state, "cursor": page.next_cursor or ""}),
    }
    template = "_users_table.html" if partial else "users.html"
    return render(request, template, context, session=session)


@router.post("/apps/{app_id}/users/{username}/{action}")
async def user_action(request: Request, app_id: str, username: str, action: str) -> Response:
    if action not in _USER_ACTIONS:
        raise Refused(404, "Not found", "There is nothing here.")
    session, access = await app_page(request, app_id, f"user.{action}")
    form = await form_values(request)
    rt = runtime(request)
    reason = form.get("reason", "")[:200]
    call: Callable[[], Awaitable[Any]]
    if action == "ban":
        call = lambda: admin.ban_user(rt, access.app_id, username, reason)  # noqa: E731
    else:
        call = lambda: admin.unban_user(rt, access.app_id, username)  # noqa: E731
    await audited(
        request,
        session,
        call,
        capability=f"user.{action}",
        target_type="user",
        target=username,
        app_id=access.app_id,
        owner_account_id=access.owner_account_id,
        changes={"banned": [action == "unban", action == "ban"]},
    )
    return redirect(request, f"/apps/{access.app_id}/users{_back(form)}")
