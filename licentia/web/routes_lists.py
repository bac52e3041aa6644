"""Safe actions around the license and user lists (#13 items 3, 4, 5, 8): the confirmation
page of a row's destructive action, bulk user actions with a preview count, CSV import, and
the colour theme switch.

A row's "ban…" or "delete…" link opens `confirm.html`, which says what will happen, asks
for the ban reason (the protocol stores one) and posts to the ordinary action route with
`confirm=yes`; that route answers with a flash message saying what changed. A bulk user
action (`users/bulk`) first answers with `bulk_confirm.html` (how many users it would
change, the first names) and runs only when that page is confirmed: one transaction and one
audit entry per changed user, in `services.admin_bulk`. Imports call the service the REST
API and the CLI call (`transfer.import_licenses`, `transfer_identities.import_users`): all
rows or none, audited like REST.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from licentia.services import (
    admin_bulk,
    dashboard_auth,
    transfer,
    transfer_identities,
    views_licenses,
    views_users,
)
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import AppAccess, DashSession
from licentia.web import list_query, routes_identities
from licentia.web.actions import app_page
from licentia.web.app import DashRoute, runtime
from licentia.web.context import (
    THEME_COOKIE,
    THEMES,
    Refused,
    actor,
    redirect,
    render,
    set_cookie,
)

router = APIRouter(route_class=DashRoute)

_YEAR = 365 * 24 * 3600
#: Row actions that open a confirmation page: (kind, action) -> capability.
_CONFIRM = {
    ("license", "ban"): "license.ban",
    ("license", "delete"): "license.delete",
    ("user", "ban"): "user.ban",
    ("user", "delete"): "user.delete",
}
_PREVIEW_NAMES = 20


def _nothing() -> Refused:
    return Refused(404, "Not found", "There is nothing here.")


def _safe_back(value: str) -> str:
    """A dashboard-relative path to return to (anything else: the apps list)."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:2000]
    return "/apps"


# -- theme -------------------------------------------------------------------------------


@router.post("/theme")
async def set_theme(request: Request) -> Response:
    """Remember the chosen theme in a cookie for a year (`auto` follows the system). No
    CSRF token: the worst a foreign page can do is switch someone's colours."""
    form = await request.form()
    theme = form.get("theme", "auto")
    back = form.get("back", "")
    response = redirect(request, _safe_back(back if isinstance(back, str) else ""))
    if isinstance(theme, str) and theme in THEMES:
        set_cookie(request, response, THEME_COOKIE, theme, max_age=_YEAR)
    return response


# -- one row's destructive action --------------------------------------------------------


@router.get("/apps/{app_id}/confirm")
async def confirm_page(request: Request, app_id: str) -> Response:
    params = request.query_params
    kind, action, name = params.get("kind", ""), params.get("do", ""), params.get("name", "")
    capability = _CONFIRM.get((kind, action))
    if capability is None or not name:
        raise _nothing()
    session, access = await app_page(request, app_id, capability)
    rt = runtime(request)
    tab = "licenses" if kind == "license" else "users"
    query, _ = await list_query.from_request(request, tab)
    target: Any
    if kind == "license":
        target = await views_licenses.get_license(rt, access.app_id, name)
        name = target.key
    else:
        target = await views_users.get_user(rt, access.app_id, name)
        name = target.username
    context = {
        "app": access,
        "tab": tab,
        "kind": kind,
        "action": action,
        "name": name,
        "target": target,
        "lq": query,
        "post": f"/apps/{access.app_id}/{tab}/{quote(name, safe='')}/{action}",
        "back": f"/apps/{access.app_id}/{tab}?{query.query()}",
    }
    return render(request, "confirm.html", context, session=session)


# -- bulk user actions -------------------------------------------------------------------


def _days(form: Mapping[str, str], errors: dict[str, str]) -> int | None:
    text = form.get("days", "").strip()
    if not text.isdigit() or not 1 <= int(text) <= admin_bulk.MAX_DAYS:
        errors["extend"] = f"Give a number of days, 1 to {admin_bulk.MAX_DAYS:,}."
        return None
    return int(text)


async def _bulk_names(
    request: Request, access: AppAccess, form: Mapping[str, str], picked: list[str]
) -> tuple[list[str], list_query.ListQuery, bool]:
    """The named users: every match of the carried filter (`scope=matching`), else the
    ticked ones. Also the list query (to come back to) and whether it was by filter."""
    query, _ = await list_query.from_request(request, "users", form)
    if form.get("scope") != "matching":
        return sorted(set(picked)), query, False
    q = admin_bulk.UserQuery(
        state=query.state or None,
        subscription=query.subscription or None,
        search=query.search or None,
        more=query.user_filter(runtime(request).clock()),
    )
    return await admin_bulk.matching_users(runtime(request), access.app_id, q), query, True


@router.post("/apps/{app_id}/users/bulk")
async def users_bulk(request: Request, app_id: str) -> Response:
    """Preview (how many users would change), then, confirmed, run in one transaction."""
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    picked = [v for v in raw.getlist("name") if isinstance(v, str) and v]
    action = form.get("do", "")
    if action not in admin_bulk.ACTIONS:
        raise _nothing()
    session, access = await app_page(request, app_id, admin_bulk.CAPABILITIES[action])
    errors: dict[str, str] = {}
    days = _days(form, errors) if action == "extend" else None
    if errors:
        return await routes_identities._users_page(
            request, session, access, errors=errors, values={"days": form.get("days", "")},
            status=400,
        )  # fmt: skip
    try:
        names, query, matching = await _bulk_names(request, access, form, picked)
    except AdminError as exc:
        if exc.code == "PERMISSION_DENIED" or exc.is_not_found:
            raise
        errors["extend" if action == "extend" else "bulk"] = exc.message
        return await routes_identities._users_page(
            request, session, access, errors=errors, status=400
        )
    back = f"/apps/{access.app_id}/users?{query.query()}"
    if not names:
        message = "No user matches this filter." if matching else "Tick at least one user."
        return redirect(request, back, message, bad=True)
    if not matching and len(names) > admin_bulk.MAX_SELECTION:
        return redirect(
            request, back, f"At most {admin_bulk.MAX_SELECTION} ticked users.", bad=True
        )
    if form.get("confirm") != "yes":
        return await _bulk_preview(request, session, access, action, names, query, days, matching)
    return await _bulk_run(request, session, access, action, names, back, days, form)


async def _bulk_preview(
    request: Request,
    session: DashSession,
    access: AppAccess,
    action: str,
    names: list[str],
    query: list_query.ListQuery,
    days: int | None,
    matching: bool,
) -> Response:
    count = await admin_bulk.preview(runtime(request), access.app_id, action, names)
    context = {
        "app": access,
        "tab": "users",
        "action": action,
        "names": names,
        "shown": names[:_PREVIEW_NAMES],
        "count": count,
        "unchanged": len(names) - count,
        "days": days,
        "matching": matching,
        "lq": query,
        "back": f"/apps/{access.app_id}/users?{query.query()}",
    }
    return render(request, "bulk_confirm.html", context, session=session)


_BULK_DONE = {
    "extend": "Extended",
    "reset_hwid": "Reset the HWIDs of",
    "ban": "Banned",
    "unban": "Unbanned",
    "delete": "Deleted",
}


async def _bulk_run(
    request: Request,
    session: DashSession,
    access: AppAccess,
    action: str,
    names: list[str],
    back: str,
    days: int | None,
    form: Mapping[str, str],
) -> Response:
    reason = form.get("reason", "")[:200]
    try:
        outcome = await admin_bulk.run_bulk(
            runtime(request),
            actor(request, session),
            owner_account_id=access.owner_account_id,
            app_id=access.app_id,
            action=action,
            names=names,
            days=days,
            reason=reason,
        )
    except AdminError as exc:
        if exc.code == "PERMISSION_DENIED":
            raise
        return redirect(request, back, f"Nothing was changed: {exc.message}", bad=True)
    n = len(outcome.changed)
    text = f"{_BULK_DONE[action]} {n:,} user{'' if n == 1 else 's'}"
    if action == "extend":
        text += f" by {days} days"
    if action == "ban" and reason:
        text += f" (reason: {reason})"
    if outcome.unchanged:
        text += f"; {outcome.unchanged:,} left as they were"
    return redirect(request, back, text + ".")


# -- CSV import --------------------------------------------------------------------------


async def _upload(request: Request) -> str:
    """The uploaded CSV as text; INVALID_INPUT when missing, too large or not UTF-8."""
    form = await request.form()
    upload = form.get("csv")
    if not isinstance(upload, UploadFile):
        raise AdminError("INVALID_INPUT", "choose a CSV file to import", ["csv"])
    try:
        raw = await upload.read(transfer.MAX_IMPORT_BYTES + 1)
    finally:
        await upload.close()
    if len(raw) > transfer.MAX_IMPORT_BYTES:
        raise AdminError("PAYLOAD_TOO_LARGE", "the file is too large")
    if not raw:
        raise AdminError("INVALID_INPUT", "the file is empty", ["csv"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AdminError("INVALID_INPUT", "the CSV must be UTF-8", ["csv"]) from None


def _import_refusal(exc: AdminError) -> bool:
    """A refusal shown next to the import form (else the 403/404 page)."""
    if exc.code == "PERMISSION_DENIED":
        return False
    return exc.code == "SUBSCRIPTION_NOT_FOUND" or not exc.is_not_found


async def _record_import(
    request: Request, session: DashSession, access: AppAccess, **entry: Any
) -> None:
    """The import's audit entry, after the import's own transaction (as REST does: a user
    import hashes initial passwords first and must not hold the write lock meanwhile)."""
    rt = runtime(request)
    await dashboard_auth.record_action(
        rt,
        actor(request, session),
        owner_account_id=access.owner_account_id,
        app_id=access.app_id,
        **entry,
    )


@router.post("/apps/{app_id}/licenses/import")
async def licenses_import(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "license.import")
    try:
        text = await _upload(request)
        result = await transfer.import_licenses(
            runtime(request), access.app_id, text, created_by=f"account:{session.account.id}"
        )
    except AdminError as exc:
        if not _import_refusal(exc):
            raise
        return await routes_identities._licenses_page(
            request, session, access, errors={"import": exc.message}, status=400
        )
    await _record_import(
        request, session, access, capability="license.import", target_type="license-batch",
        target=result.batch_id, changes={"count": [None, result.count], "imported": [None, True]},
    )  # fmt: skip
    n = result.count
    return redirect(
        request,
        f"/apps/{access.app_id}/licenses",
        f"Imported {n:,} license{'' if n == 1 else 's'} as unused keys (batch {result.batch_id}).",
    )


@router.post("/apps/{app_id}/users/import")
async def users_import(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "user.import")
    try:
        text = await _upload(request)
        result = await transfer_identities.import_users(
            runtime(request), access.app_id, text, created_by=f"account:{session.account.id}"
        )
    except AdminError as exc:
        if not _import_refusal(exc):
            raise
        return await routes_identities._users_page(
            request, session, access, errors={"import": exc.message}, status=400
        )
    await _record_import(
        request, session, access, capability="user.import", target_type="user",
        target=f"import of {result.created} users", changes={"created": [None, result.created]},
    )  # fmt: skip
    n = result.created
    return redirect(
        request, f"/apps/{access.app_id}/users", f"Imported {n:,} user{'' if n == 1 else 's'}."
    )
