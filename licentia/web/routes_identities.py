"""Licenses, users, hardware devices and client sessions of one app (dashboard tabs
"Licenses", "Users", "Devices", "Sessions").

Every read is a service view (`views_licenses`, `views_users`, through `licentia.web.lists`)
and every change calls the admin service the REST API calls (`api/manage/routes_licenses.py`,
`routes_users.py`), guarded by the same capability name. `_change` runs the service call and
its audit entry in one write transaction, like `actions.audited`, but writes the entry after
the call so it can carry the before/after of what changed (an idempotent repeat, such as
banning a banned key or replaying a generation, changes nothing and leaves no entry). A
refused change shows the form again with the message next to the field, status 400.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import (
    admin,
    admin_bulk,
    dashboard_auth,
    paging,
    transfer,
    transfer_identities,
    views_licenses,
    views_users,
)
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import AppAccess, DashSession
from licentia.services.views_licenses import LicenseFilter
from licentia.web import list_query, lists, messages, routes_support
from licentia.web.actions import app_page
from licentia.web.app import DashRoute, runtime
from licentia.web.context import Refused, actor, redirect, render

router = APIRouter(route_class=DashRoute)

T = TypeVar("T")
_MAX_SEARCH = 64
#: Flags whose change makes a ban/pause action worth an audit entry (as the REST API).
_STATE_FLAGS = ("banned", "ban_reason", "paused", "paused_at")
#: Service argument names -> the form fields that carry them.
_ALIASES = {"expires": "expiry_date", "expiry": "expiry_date", "lifetime": "days"}


def _q(part: str) -> str:
    """One path segment, quoted (names may hold `/`, `?` or `#`)."""
    return quote(part, safe="")


def _nothing() -> Refused:
    return Refused(404, "Not found", "There is nothing here.")


# -- plumbing ----------------------------------------------------------------------------


async def _form(request: Request) -> tuple[dict[str, str], list[str]]:
    """The submitted form as plain strings, plus the values of every `key` checkbox."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    picked = [v for v in form.getlist("key") if isinstance(v, str) and v]
    return values, picked


async def _change(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    capability: str,
    target_type: str,
    target: str | Callable[[T], str],
    work: Callable[[], Awaitable[tuple[T, dict[str, Any] | None]]],
) -> T:
    """Run `work` (service calls returning `(result, changes)`) and its audit entry in one
    write transaction; `changes` None means nothing changed, and no entry is written."""
    rt = runtime(request)
    async with rt.db.write():
        result, changes = await work()
        if changes is not None:
            await dashboard_auth.record_action(
                rt,
                actor(request, session),
                owner_account_id=access.owner_account_id,
                capability=capability,
                target_type=target_type,
                target=target(result) if callable(target) else target,
                app_id=access.app_id,
                changes=changes,
            )
    return result


@dataclass
class _ActionForm:
    """What a license, user or device action reads from its form before it runs."""

    action: str
    form: Mapping[str, str]
    detail: bool  # posted from the detail page (errors shown there) or from a list
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    known: set[str] = field(default_factory=lambda: {"reason"})
    shift_args: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    changes: dict[str, Any] | None = None  # what the action changed (None: nothing)

    def done(self, noun: str, name: str) -> str:
        """The flash message after the action: what changed, or that nothing did."""
        verb = messages.DONE.get(self.action, "Updated")
        if self.changes is None:
            return f"Nothing changed: {noun} {name} already was as asked."
        if self.action == "delete":
            return f"Deleted {noun} {name}."
        return f"{verb} {noun} {name}" + messages.summary(self.changes)

    def read_common(self) -> None:
        """The parts every identity shares: the term shift and the delete confirmation."""
        if self.action in ("extend", "shorten"):
            self.known = {"shift_days", "to_date"}
            self.values = {k: self.form.get(k, "") for k in self.known}
            self.shift_args = _shift(self.form, self.errors)
            self.aliases.update({"days": "shift_days", "expires": "to_date"})
        elif self.action == "delete" and self.form.get("confirm") != "yes":
            self.errors["delete"] = "Tick “Yes, delete” to confirm."


async def _act(
    request: Request,
    session: DashSession,
    access: AppAccess,
    step: _ActionForm,
    *,
    capability: str,
    target_type: str,
    target: str,
    work: Callable[[], Awaitable[tuple[None, dict[str, Any] | None]]],
) -> None:
    """Run the action unless its form already has errors; a refusal from the detail page
    becomes a message next to its field, from a list it is the error page."""
    if step.errors:
        return

    async def tracked() -> tuple[None, dict[str, Any] | None]:
        result, changes = await work()
        step.changes = changes
        return result, changes

    try:
        await _change(
            request, session, access, capability=capability, target_type=target_type,
            target=target, work=tracked,
        )  # fmt: skip
    except AdminError as exc:
        if _is_page(exc) or not step.detail:
            raise
        name = _field(exc, step.known | set(step.aliases), step.action)
        step.errors[step.aliases.get(name, name)] = exc.message


async def _may(request: Request, session: DashSession, access: AppAccess, capability: str) -> bool:
    """Whether the account holds `capability` on this app (to leave out a section)."""
    try:
        await dashboard_auth.authorize_app(runtime(request), session, access.app_id, capability)
    except AdminError:
        return False
    return True


def _is_page(exc: AdminError) -> bool:
    """A refusal that is a 404/403 page rather than a message next to a field."""
    if exc.code == "SUBSCRIPTION_NOT_FOUND":
        return False
    return exc.is_not_found or exc.code == "PERMISSION_DENIED"


def _field(exc: AdminError, known: set[str], fallback: str) -> str:
    if exc.code == "SUBSCRIPTION_NOT_FOUND" and "subscription" in known:
        return "subscription"
    for name in exc.fields or []:
        name = _ALIASES.get(name, name)
        if name in known:
            return name
    return fallback


def _whole(form: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        errors[name] = "Enter a whole number."
        return None
    return int(text)


def _day(form: Mapping[str, str], name: str, errors: dict[str, str]) -> datetime | None:
    """A date field (YYYY-MM-DD) as 00:00 UTC of that day."""
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[name] = "Enter a date as YYYY-MM-DD."
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _ymd(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else ""


def _term(
    form: Mapping[str, str], errors: dict[str, str], *, default_days: int | None
) -> dict[str, Any]:
    """The service's term arguments: lifetime box, else a date, else days (A.7)."""
    if form.get("lifetime"):
        return {"lifetime": True}
    expires = _day(form, "expiry_date", errors)
    if expires is not None:
        return {"expires": expires}
    days = _whole(form, "days", errors)
    if days is None:
        days = default_days
    return {"days": days} if days else {"lifetime": True}


def _shift(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """Extend/shorten: `days`, or `to_date` (the new date), not both."""
    days = _whole(form, "shift_days", errors)
    to = _day(form, "to_date", errors)
    if errors:
        return {}
    if (days is None) == (to is None):
        errors["shift_days"] = "Give a number of days or a new date (one of them)."
        return {}
    return {"days": days, "expires": to}


def _state_changes(before: Any, after: Any) -> dict[str, list[Any]] | None:
    changes = {
        name: [getattr(before, name), getattr(after, name)]
        for name in (*_STATE_FLAGS, "expiry_date")
        if getattr(before, name) != getattr(after, name)
    }
    return changes if any(name in changes for name in _STATE_FLAGS) else None


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


def _back(form: Mapping[str, str]) -> str:
    query = {k: form.get(k, "") for k in _BACK_PARAMS if form.get(k)}
    return f"?{urlencode(query)}" if query else ""


_BACK_PARAMS = ("q", "state", "type", "kind", "in", "sub", "exp", "by", "sort", "dir")


def _back_to(form: Mapping[str, str], app_id: str, default: str) -> str:
    """The page a form came from (`back`), when it is a page of this app; else `default`."""
    back = form.get("back", "")
    prefix = f"/apps/{app_id}/"
    if back.startswith(prefix) and "//" not in back and "\\" not in back:
        return back
    return default


def _download(text: str, media_type: str, filename: str) -> Response:
    return Response(
        content=text,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _live_sessions(
    request: Request, session: DashSession, access: AppAccess, kind: str, name: str, cap: str
) -> list[views_users.SessionView] | None:
    """The identity's live sessions (newest 50), or None without the capability to see them."""
    if not await _may(request, session, access, cap):
        return None
    page = await lists.session_page(
        runtime(request), access.app_id, state="live", kind=kind, identity=name, cursor=None
    )
    return page.items


# -- licenses: list, generation, bulk actions, export -------------------------------------


async def _licenses_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    batch: admin.GeneratedBatch | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    query, subs = await list_query.from_request(request, "licenses")
    page: paging.Page[views_licenses.LicenseView] = paging.Page(items=[], next_cursor=None)
    # The list shows only to who may list licenses (a role may grant generation alone).
    listing = await _may(request, session, access, "license.list")
    if listing:
        page = await lists.license_page(rt, access.app_id, query)
    shown = batch is not None and len(batch.keys) <= lists.MAX_INLINE_KEYS
    context = {
        **await list_query.page_context(runtime(request), access.owner_account_id, query, subs),
        "app": access,
        "tab": "licenses",
        "page": page,
        "states": lists.LICENSE_STATES,
        "errors": errors or {},
        "values": values or {},
        "listing": listing,
        "batch": batch,
        "new_keys": batch.keys if batch is not None and shown else None,
        "max_generate": lists.MAX_GENERATE,
        "max_inline": lists.MAX_INLINE_KEYS,
        "idem": secrets.token_urlsafe(18),
        "next_query": query.next_query(page.next_cursor),
    }
    template = "_licenses_table.html" if _wants_rows(request) and listing else "licenses.html"
    return render(request, template, context, status=status, session=session)


@router.get("/apps/{app_id}/licenses")
async def licenses_list(request: Request, app_id: str) -> Response:
    """The list with `license.list`; the generation form alone with `license.generate`."""
    try:
        session, access = await app_page(request, app_id, "license.list")
    except AdminError as exc:
        if exc.code != "PERMISSION_DENIED":
            raise
        session, access = await app_page(request, app_id, "license.generate")
    return await _licenses_page(request, session, access)


_GENERATE_FIELDS = {"subscription", "count", "days", "expiry_date", "device_limit", "mask", "note"}


@router.post("/apps/{app_id}/licenses/generate")
async def licenses_generate(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "license.generate")
    form, _ = await _form(request)
    values = {k: form.get(k, "") for k in _GENERATE_FIELDS}
    values["lifetime"] = "on" if form.get("lifetime") else ""
    errors: dict[str, str] = {}
    count = _whole(form, "count", errors)
    count = 1 if count is None else count
    if count > lists.MAX_GENERATE:
        errors["count"] = f"At most {lists.MAX_GENERATE:,} keys per form."
    device_limit = _whole(form, "device_limit", errors)
    term = _term(form, errors, default_days=30)
    idem = form.get("idem", "").strip()[:128] or None
    if errors:
        return await _licenses_page(
            request, session, access, errors=errors, values=values, status=400
        )
    rt = runtime(request)

    async def work() -> tuple[admin.GeneratedBatch, dict[str, Any] | None]:
        batch = await admin.generate_batch(
            rt,
            access.app_id,
            values["subscription"],
            device_limit=1 if device_limit is None else device_limit,
            count=count,
            mask=values["mask"].strip() or admin.DEFAULT_MASK,
            note=values["note"],
            idempotency_key=idem,
            created_by=f"account:{session.account.id}",
            **term,
        )
        if batch.replayed:  # a double submit: the first batch, no second entry
            return batch, None
        return batch, {
            "count": [None, len(batch.keys)],
            "subscription": [None, values["subscription"]],
            "duration_days": [None, term.get("days")],
            "expiry_date": [None, term.get("expires")],
            "device_limit": [None, 1 if device_limit is None else device_limit],
            "note": [None, values["note"]],
            "mask": [None, values["mask"].strip() or admin.DEFAULT_MASK],
        }

    try:
        batch = await _change(
            request,
            session,
            access,
            capability="license.generate",
            target_type="license-batch",
            target=lambda b: b.batch_id,
            work=work,
        )
    except AdminError as exc:
        if _is_page(exc):
            raise
        errors[_field(exc, _GENERATE_FIELDS, "generate")] = exc.message
        return await _licenses_page(
            request, session, access, errors=errors, values=values, status=400
        )
    return await _licenses_page(request, session, access, batch=batch)


@router.get("/apps/{app_id}/licenses/batches/{batch_id}")
async def licenses_batch_download(request: Request, app_id: str, batch_id: str) -> Response:
    """The keys of one generated batch, one per line (what the generation page offers)."""
    _, access = await app_page(request, app_id, "license.generate")
    batch_id = batch_id.removesuffix(".txt")
    if not batch_id or len(batch_id) > 64:
        raise _nothing()
    # One read: a batch holds at most 100,000 keys (the paged export is much slower for a
    # batch, whose keys all share one creation time).
    page = await views_licenses.list_licenses(
        runtime(request), access.app_id, LicenseFilter(batch=batch_id), limit=None
    )
    if not page.items:
        raise _nothing()
    text = transfer.render(page.items, "text")
    return _download(text, transfer.MEDIA_TYPES["text"], f"licenses-{batch_id}.txt")


@router.get("/apps/{app_id}/licenses/export")
async def licenses_export(request: Request, app_id: str) -> Response:
    """Every license matching the list's current search and state filter."""
    _, access = await app_page(request, app_id, "license.export")
    query, _ = await list_query.from_request(request, "licenses")
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "text"):
        fmt = "csv"
    rt = runtime(request)
    text = await transfer.export_licenses(
        rt, access.app_id, query.license_filter(rt.clock()), fmt=fmt
    )
    return _download(text, transfer.MEDIA_TYPES[fmt], f"licenses.{transfer.EXTENSIONS[fmt]}")


_LICENSE_STATE_SERVICES: dict[str, Callable[..., Awaitable[Any]]] = {
    "ban": admin.ban_license,
    "unban": admin.unban_license,
    "pause": admin.pause_license,
    "unpause": admin.unpause_license,
}


@router.post("/apps/{app_id}/licenses/bulk")
async def licenses_bulk(request: Request, app_id: str) -> Response:
    """Ban, unban or delete the ticked licenses, all in one transaction (all or none)."""
    form, picked = await _form(request)
    action = form.get("do", "")
    if action not in ("ban", "unban", "delete"):
        raise _nothing()
    session, access = await app_page(request, app_id, f"license.{action}")
    keys = sorted(set(picked))
    errors: dict[str, str] = {}
    if not keys:
        errors["bulk"] = "Tick at least one license."
    elif len(keys) > lists.MAX_SELECTION:
        errors["bulk"] = f"At most {lists.MAX_SELECTION} licenses at once."
    elif action == "delete" and form.get("confirm") != "yes":
        errors["bulk"] = "Tick “Yes, delete” to confirm the deletion."
    if errors:
        return await _licenses_page(request, session, access, errors=errors, status=400)
    rt = runtime(request)
    who = actor(request, session)
    reason = form.get("reason", "")[:200]
    changed = 0
    try:
        async with rt.db.write():
            for key in keys:
                before = await views_licenses.get_license(rt, access.app_id, key)
                changes: dict[str, Any] | None
                if action == "delete":
                    await admin.delete_license(rt, access.app_id, before.key)
                    changes = {"state": [before.state, None]}
                else:
                    service = _LICENSE_STATE_SERVICES[action]
                    await service(rt, access.app_id, before.key, reason)
                    after = await views_licenses.get_license(rt, access.app_id, before.key)
                    changes = _state_changes(before, after)
                if changes is not None:
                    changed += 1
                    await dashboard_auth.record_action(
                        rt,
                        who,
                        owner_account_id=access.owner_account_id,
                        capability=f"license.{action}",
                        target_type="license",
                        target=before.key,
                        app_id=access.app_id,
                        changes=changes,
                    )
    except AdminError as exc:
        if exc.code == "PERMISSION_DENIED":
            raise
        errors["bulk"] = f"Nothing was changed: {exc.message}"
        return await _licenses_page(request, session, access, errors=errors, status=400)
    verb = {"ban": "Banned", "unban": "Unbanned", "delete": "Deleted"}[action]
    note = f" (reason: {reason})" if action == "ban" and reason else ""
    rest = len(keys) - changed
    same = f"; {messages.count(rest, 'license')} already were" if rest else ""
    return redirect(
        request,
        f"/apps/{access.app_id}/licenses{_back(form)}",
        f"{verb} {messages.count(changed, 'license')}{note}{same}.",
    )


@router.post("/apps/{app_id}/licenses/delete-matching")
async def licenses_delete_matching(request: Request, app_id: str) -> Response:
    """Delete every license matching the list's search and state filter (REST bulk delete)."""
    session, access = await app_page(request, app_id, "license.delete")
    form, _ = await _form(request)
    query, _ = await list_query.from_request(request, "licenses", form)
    errors: dict[str, str] = {}
    if form.get("confirm") != "yes":
        errors["bulk"] = "Tick “Yes, delete every match” to confirm."
    if not query.filtered:
        errors["bulk"] = "Filter the list first: deleting needs a search or a filter."
    if errors:
        return await _licenses_page(request, session, access, errors=errors, status=400)
    filters = query.license_filter(runtime(request).clock())

    async def work() -> tuple[list[str], dict[str, Any] | None]:
        keys = await admin.delete_licenses(runtime(request), access.app_id, filters)
        if not keys:
            return keys, None
        return keys, {"deleted": [None, len(keys)], "filter": [None, query.params()]}

    deleted = await _change(
        request,
        session,
        access,
        capability="license.delete",
        target_type="license",
        target=lambda keys: f"{len(keys)} licenses",
        work=work,
    )
    return redirect(
        request,
        f"/apps/{access.app_id}/licenses{_back(form)}",
        f"Deleted {messages.count(len(deleted), 'license')} matching the filter.",
    )


# -- licenses: one license ---------------------------------------------------------------


_LICENSE_EDIT = ("note", "device_limit", "subscription", "email")


async def _license_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    key: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    lic = await views_licenses.get_license(rt, access.app_id, key)
    shown = {
        "note": lic.note,
        "device_limit": str(lic.device_limit),
        "subscription": lic.subscription,
        "email": lic.email or "",
    }
    shown.update(values or {})
    bindings = None
    if await _may(request, session, access, "binding.list"):
        bindings = await views_users.list_bindings(rt, access.app_id, "license", lic.key)
    context = {
        "app": access,
        "tab": "licenses",
        "lic": lic,
        "bindings": bindings,
        "live": await _live_sessions(request, session, access, "license", lic.key, "session.list"),
        "subscriptions": await lists.subscription_names(rt, access.app_id),
        "errors": errors or {},
        "values": shown,
    }
    context.update(
        await routes_support.support_context(
            request, session, access, "license", lic.key, used_by=lic.used_by
        )
    )
    return render(request, "license_detail.html", context, status=status, session=session)


@router.get("/apps/{app_id}/license/{key}")
async def license_detail(request: Request, app_id: str, key: str) -> Response:
    session, access = await app_page(request, app_id, "license.info")
    return await _license_page(request, session, access, key)


_LICENSE_ACTIONS = {
    "ban",
    "unban",
    "pause",
    "unpause",
    "delete",
    "edit",
    "extend",
    "shorten",
    "reset_hwid",
    "end_sessions",
}


@router.post("/apps/{app_id}/licenses/{key}/{action}")
async def license_action(request: Request, app_id: str, key: str, action: str) -> Response:
    if action not in _LICENSE_ACTIONS:
        raise _nothing()
    session, access = await app_page(request, app_id, f"license.{action}")
    form, _ = await _form(request)
    rt = runtime(request)
    app = access.app_id
    detail = form.get("from") == "detail"
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    before = await views_licenses.get_license(rt, app, key)
    key = before.key

    async def work() -> tuple[None, dict[str, Any] | None]:
        if action in _LICENSE_STATE_SERVICES:
            await _LICENSE_STATE_SERVICES[action](rt, app, key, form.get("reason", "")[:200])
            return None, _state_changes(before, await views_licenses.get_license(rt, app, key))
        if action == "delete":
            await admin.delete_license(rt, app, key)
            return None, {"state": [before.state, None]}
        if action == "reset_hwid":
            removed = await admin.reset_license_hwid(rt, app, key)
            after = await views_licenses.get_license(rt, app, key)
            changes = _view_changes(before, after)
            if removed:
                changes["bindings_removed"] = [None, removed]
            return None, changes or None
        if action == "end_sessions":
            ended = await admin.end_license_sessions(rt, app, key)
            return None, {"sessions_ended": [None, ended]} if ended else None
        if action == "edit":
            await admin.edit_license(rt, app, key, **edits)
        else:
            await admin.shift_license(
                rt, app, key, sign=1 if action == "extend" else -1, **shift_args
            )
        return None, _view_changes(before, await views_licenses.get_license(rt, app, key)) or None

    edits: dict[str, Any] = {}
    step = _ActionForm(action, form, detail, errors=errors)
    if action == "edit":
        step.known = set(_LICENSE_EDIT)
        values = step.values = {k: form.get(k, "") for k in _LICENSE_EDIT}
        limit = _whole(form, "device_limit", errors)
        current = {
            "note": before.note,
            "device_limit": before.device_limit,
            "subscription": before.subscription,
            "email": before.email or "",
        }
        wanted: dict[str, Any] = {
            "note": values["note"],
            "device_limit": limit,
            "subscription": values["subscription"],
            "email": values["email"].strip(),
        }
        edits = {k: v for k, v in wanted.items() if v is not None and v != current[k]}
        if not errors and not edits:
            return redirect(request, f"/apps/{app}/license/{_q(key)}")
    step.read_common()
    shift_args = step.shift_args
    await _act(
        request, session, access, step, capability=f"license.{action}",
        target_type="license", target=key, work=work,
    )  # fmt: skip
    if errors:
        return await _license_page(
            request, session, access, key, errors=errors, values=step.values, status=400
        )
    done = step.done("license", key)
    if action == "delete" or not detail:
        return redirect(request, f"/apps/{app}/licenses{_back(form)}", done)
    return redirect(request, f"/apps/{app}/license/{_q(key)}", done)


def _view_changes(before: Any, after: Any) -> dict[str, list[Any]]:
    """Stored fields that differ (an unused duration key's moving expiry left out)."""
    old, new = before.as_dict(), after.as_dict()
    for data, view in ((old, before), (new, after)):
        if getattr(view, "status", None) == "unused":
            data["expiry_date"] = view.fixed_expiry
    derived = {"state", "expired", "id", "fixed_expiry", "current_devices"}
    return {k: [old.get(k), v] for k, v in new.items() if k not in derived and old.get(k) != v}


# -- users -------------------------------------------------------------------------------


_USER_CREATE = {
    "username",
    "password",
    "subscription",
    "email",
    "days",
    "expiry_date",
    "device_limit",
    "note",
}


async def _users_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    query, subs = await list_query.from_request(request, "users")
    page = await lists.user_page(rt, access.app_id, query)
    context = {
        **await list_query.page_context(runtime(request), access.owner_account_id, query, subs),
        "app": access,
        "tab": "users",
        "page": page,
        "states": lists.USER_STATES,
        "errors": errors or {},
        "values": values or {},
        "next_query": query.next_query(page.next_cursor),
        "bulk_actions": admin_bulk.ACTIONS,
    }
    template = "_users_table.html" if _wants_rows(request) else "users.html"
    return render(request, template, context, status=status, session=session)


@router.get("/apps/{app_id}/users")
async def users_list(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "user.list")
    return await _users_page(request, session, access)


@router.post("/apps/{app_id}/users/create")
async def users_create(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "user.create")
    form, _ = await _form(request)
    values = {k: form.get(k, "") for k in _USER_CREATE - {"password"}}
    errors: dict[str, str] = {}
    limit = _whole(form, "device_limit", errors)
    term = _term(form, errors, default_days=None)
    if not errors:
        rt = runtime(request)

        async def work() -> tuple[Any, dict[str, Any] | None]:
            state = await admin.create_user(
                rt,
                access.app_id,
                form.get("username", ""),
                form.get("password", ""),
                values["subscription"],
                email=values["email"],
                device_limit=1 if limit is None else limit,
                note=values["note"],
                created_by=f"account:{session.account.id}",
                **term,
            )
            out = await views_users.get_user(rt, access.app_id, state.name)
            return out, {
                "password": [None, "set"],
                "subscription": [None, out.subscription],
                "email": [None, out.email],
                "expiry_date": [None, out.expiry_date],
                "device_limit": [None, out.device_limit],
                "note": [None, out.note],
            }

        try:
            user = await _change(
                request,
                session,
                access,
                capability="user.create",
                target_type="user",
                target=lambda u: u.username,
                work=work,
            )
        except AdminError as exc:
            if _is_page(exc):
                raise
            errors[_field(exc, _USER_CREATE, "create")] = exc.message
        else:
            return redirect(
                request,
                f"/apps/{access.app_id}/user/{_q(user.username)}",
                f"Created user {user.username} ({user.subscription}).",
            )
    return await _users_page(request, session, access, errors=errors, values=values, status=400)


@router.get("/apps/{app_id}/users/export")
async def users_export(request: Request, app_id: str) -> Response:
    _, access = await app_page(request, app_id, "user.export")
    query, _ = await list_query.from_request(request, "users")
    rt = runtime(request)
    text = await transfer_identities.export_users(
        rt,
        access.app_id,
        fmt="csv",
        state=query.state or None,
        subscription=query.subscription or None,
        search=query.search or None,
        more=query.user_filter(rt.clock()),
    )
    return _download(text, "text/csv; charset=utf-8", "users.csv")


_USER_EDIT = ("email", "subscription", "device_limit", "expiry_date", "note")


async def _user_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    username: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    user = await views_users.get_user(rt, access.app_id, username)
    shown = {
        "email": user.email or "",
        "subscription": user.subscription,
        "device_limit": str(user.device_limit),
        "expiry_date": _ymd(user.expiry_date),
        "lifetime": "" if user.expiry_date else "on",
        "note": user.note,
    }
    shown.update(values or {})
    bindings = None
    if await _may(request, session, access, "binding.list"):
        bindings = await views_users.list_bindings(rt, access.app_id, "user", user.username)
    context = {
        "app": access,
        "tab": "users",
        "user": user,
        "bindings": bindings,
        "live": await _live_sessions(
            request, session, access, "user", user.username, "user.list_sessions"
        ),
        "subscriptions": await lists.subscription_names(rt, access.app_id),
        "errors": errors or {},
        "values": shown,
    }
    context.update(
        await routes_support.support_context(request, session, access, "user", user.username)
    )
    return render(request, "user_detail.html", context, status=status, session=session)


@router.get("/apps/{app_id}/user/{username:path}")
async def user_detail(request: Request, app_id: str, username: str) -> Response:
    session, access = await app_page(request, app_id, "user.info")
    return await _user_page(request, session, access, username)


_USER_STATE_SERVICES: dict[str, Callable[..., Awaitable[Any]]] = {
    "ban": admin.ban_user,
    "unban": admin.unban_user,
    "pause": admin.pause_user,
    "unpause": admin.unpause_user,
}
_USER_CAPS = {
    "ban": "user.ban",
    "unban": "user.unban",
    "pause": "user.pause",
    "unpause": "user.unpause",
    "delete": "user.delete",
    "edit": "user.edit",
    "extend": "user.extend",
    "shorten": "user.shorten",
    "reset_password": "user.reset_password",
    "reset_hwid": "user.reset_hwid",
    "end_sessions": "user.end_sessions",
    "unbind": "user.remove_device",
}


@router.post("/apps/{app_id}/users/{username:path}/{action}")
async def user_action(request: Request, app_id: str, username: str, action: str) -> Response:
    capability = _USER_CAPS.get(action)
    if capability is None:
        raise _nothing()
    session, access = await app_page(request, app_id, capability)
    form, _ = await _form(request)
    rt = runtime(request)
    app = access.app_id
    detail = form.get("from") == "detail"
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    before = await views_users.get_user(rt, app, username)
    name = before.username
    edits: dict[str, Any] = {}
    shift_args: dict[str, Any] = {}

    async def work() -> tuple[None, dict[str, Any] | None]:
        if action in _USER_STATE_SERVICES:
            await _USER_STATE_SERVICES[action](rt, app, name, form.get("reason", "")[:200])
            return None, _state_changes(before, await views_users.get_user(rt, app, name))
        if action == "delete":
            await admin.delete_user(rt, app, name)
            return None, {"state": [before.state, None]}
        if action == "reset_password":
            await admin.reset_user_password(rt, app, name, form.get("new_password", ""))
            return None, {"password": ["set", "set"]}
        if action == "reset_hwid":
            removed = await admin.reset_bindings(rt, app, "user", name)
            after = await views_users.get_user(rt, app, name)
            changes = views_users.changes_between(before.as_dict(), after.as_dict())
            if removed or changes:
                changes["bound_devices"] = [before.current_devices, 0]
                return None, changes
            return None, None
        if action == "end_sessions":
            ended = await admin.end_identity_sessions(rt, app, "user", name)
            return None, {"live_sessions": [ended, 0]} if ended else None
        if action == "unbind":
            removed_sid = await admin.remove_binding(rt, app, "user", name, form.get("sid", ""))
            return None, {"sid": [removed_sid.sid, None]}
        if action == "edit":
            await admin.edit_user(rt, app, name, **edits)
        elif action == "extend":
            await admin.extend_user(rt, app, name, **shift_args)
        else:
            await admin.shorten_user(rt, app, name, **shift_args)
        after = await views_users.get_user(rt, app, name)
        return None, views_users.changes_between(before.as_dict(), after.as_dict()) or None

    step = _ActionForm(action, form, detail, errors=errors, aliases={"password": "new_password"})
    if action == "edit":
        step.known = set(_USER_EDIT)
        values = step.values = {k: form.get(k, "") for k in _USER_EDIT}
        values["lifetime"] = "on" if form.get("lifetime") else ""
        edits = _identity_edits(form, values, before, errors, with_limit=True)
        if not errors and not edits:
            return redirect(request, f"/apps/{app}/user/{_q(name)}")
    elif action == "reset_password":
        step.known = {"new_password"}
    step.read_common()
    shift_args = step.shift_args
    await _act(
        request, session, access, step, capability=capability,
        target_type="user", target=name, work=work,
    )  # fmt: skip
    if errors:
        return await _user_page(
            request, session, access, name, errors=errors, values=step.values, status=400
        )
    done = step.done("user", name)
    if action == "delete" or not detail:
        return redirect(request, f"/apps/{app}/users{_back(form)}", done)
    return redirect(request, f"/apps/{app}/user/{_q(name)}", done)


def _identity_edits(
    form: Mapping[str, str],
    values: dict[str, str],
    before: Any,
    errors: dict[str, str],
    *,
    with_limit: bool = False,
    with_name: bool = False,
) -> dict[str, Any]:
    """The changed fields of a user or device edit form, as `edit_user`/`edit_device` take
    them. The date field is only sent when it differs from the shown one (it keeps no time)."""
    edits: dict[str, Any] = {}
    if values["email"].strip() != (before.email or ""):
        edits["email"] = values["email"].strip()
    if values["subscription"] and values["subscription"] != before.subscription:
        edits["subscription"] = values["subscription"]
    if values["note"] != before.note:
        edits["note"] = values["note"]
    if with_name and values["name"] != before.name:
        edits["name"] = values["name"]
    if with_limit:
        limit = _whole(form, "device_limit", errors)
        if limit is not None and limit != before.device_limit:
            edits["device_limit"] = limit
    if values["lifetime"]:
        if before.expiry_date is not None:
            edits["expiry"] = None
    elif values["expiry_date"].strip() != _ymd(before.expiry_date):
        expiry = _day(form, "expiry_date", errors)
        if expiry is None and "expiry_date" not in errors:
            errors["expiry_date"] = "Give a date, or tick lifetime."
        edits["expiry"] = expiry
    return edits


# -- hardware devices --------------------------------------------------------------------


def _device_args(request: Request) -> tuple[str, str, str, str | None]:
    search, state, cursor = _list_args(request, lists.DEVICE_STATES)
    device_type = request.query_params.get("type", "")
    if device_type not in lists.DEVICE_TYPES:
        device_type = ""
    return search, state, device_type, cursor


_DEVICE_CREATE = {
    "device_type",
    "device_id",
    "subscription",
    "name",
    "email",
    "days",
    "expiry_date",
    "note",
}


async def _devices_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    search, state, device_type, cursor = _device_args(request)
    page = await lists.device_page(
        rt, access.app_id, search=search, state=state, device_type=device_type, cursor=cursor
    )
    query = {"q": search, "state": state, "type": device_type}
    context = {
        "app": access,
        "tab": "devices",
        "page": page,
        "search": search,
        "state": state,
        "states": lists.DEVICE_STATES,
        "device_type": device_type,
        "device_types": lists.DEVICE_TYPES,
        "subscriptions": await lists.subscription_names(rt, access.app_id),
        "errors": errors or {},
        "values": values or {},
        "filter_query": urlencode(query),
        "next_query": urlencode({**query, "cursor": page.next_cursor or ""}),
    }
    template = "_devices_table.html" if _wants_rows(request) else "devices.html"
    return render(request, template, context, status=status, session=session)


@router.get("/apps/{app_id}/devices")
async def devices_list(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "device.list")
    return await _devices_page(request, session, access)


@router.post("/apps/{app_id}/devices")
async def devices_create(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "device.create")
    form, _ = await _form(request)
    values = {k: form.get(k, "") for k in _DEVICE_CREATE}
    errors: dict[str, str] = {}
    term = _term(form, errors, default_days=None)
    if not errors:
        rt = runtime(request)

        async def work() -> tuple[views_users.DeviceView, dict[str, Any] | None]:
            state = await admin.create_device(
                rt,
                access.app_id,
                values["device_type"],
                values["device_id"],
                values["subscription"],
                name=values["name"],
                email=values["email"],
                note=values["note"],
                created_by=f"account:{session.account.id}",
                **term,
            )
            out = await views_users.get_device(
                rt, access.app_id, str(state.device_type), state.name
            )
            return out, {
                "subscription": [None, out.subscription],
                "name": [None, out.name],
                "email": [None, out.email],
                "expiry_date": [None, out.expiry_date],
                "note": [None, out.note],
            }

        try:
            device = await _change(
                request,
                session,
                access,
                capability="device.create",
                target_type="device",
                target=lambda d: f"{d.device_type}:{d.device_id}",
                work=work,
            )
        except AdminError as exc:
            if _is_page(exc):
                raise
            errors[_field(exc, _DEVICE_CREATE, "create")] = exc.message
        else:
            return redirect(
                request,
                f"/apps/{access.app_id}/device/{device.device_type}/{_q(device.device_id)}",
                f"Registered {device.device_type} device {device.device_id}.",
            )
    return await _devices_page(request, session, access, errors=errors, values=values, status=400)


@router.get("/apps/{app_id}/devices/export")
async def devices_export(request: Request, app_id: str) -> Response:
    _, access = await app_page(request, app_id, "device.export")
    _, state, device_type, _ = _device_args(request)
    text = await transfer_identities.export_devices(
        runtime(request),
        access.app_id,
        fmt="csv",
        device_type=device_type or None,
        state=state or None,
    )
    return _download(text, "text/csv; charset=utf-8", "devices.csv")


_DEVICE_EDIT = ("name", "email", "subscription", "expiry_date", "note")


async def _device_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    device_type: str,
    device_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    device = await views_users.get_device(rt, access.app_id, device_type, device_id)
    shown = {
        "name": device.name,
        "email": device.email or "",
        "subscription": device.subscription,
        "expiry_date": _ymd(device.expiry_date),
        "lifetime": "" if device.expiry_date else "on",
        "note": device.note,
    }
    shown.update(values or {})
    target = f"{device.device_type}:{device.device_id}"
    context = {
        "app": access,
        "tab": "devices",
        "device": device,
        "live": await _live_sessions(request, session, access, "device", target, "session.list"),
        "subscriptions": await lists.subscription_names(rt, access.app_id),
        "errors": errors or {},
        "values": shown,
    }
    ref = f"{device.device_type}/{device.device_id}"
    context.update(await routes_support.support_context(request, session, access, "device", ref))
    return render(request, "devices_detail.html", context, status=status, session=session)


@router.get("/apps/{app_id}/device/{device_type}/{device_id:path}")
async def device_detail(
    request: Request, app_id: str, device_type: str, device_id: str
) -> Response:
    session, access = await app_page(request, app_id, "device.info")
    if device_type not in lists.DEVICE_TYPES:
        raise _nothing()
    return await _device_page(request, session, access, device_type, device_id)


_DEVICE_STATE_SERVICES: dict[str, Callable[..., Awaitable[Any]]] = {
    "ban": admin.ban_device,
    "unban": admin.unban_device,
    "pause": admin.pause_device,
    "unpause": admin.unpause_device,
}
_DEVICE_ACTIONS = {
    "ban",
    "unban",
    "pause",
    "unpause",
    "delete",
    "edit",
    "extend",
    "shorten",
    "reset",
    "end_sessions",
}


@router.post("/apps/{app_id}/devices/{device_type}/{device_id:path}/{action}")
async def device_action(
    request: Request, app_id: str, device_type: str, device_id: str, action: str
) -> Response:
    if action not in _DEVICE_ACTIONS or device_type not in lists.DEVICE_TYPES:
        raise _nothing()
    session, access = await app_page(request, app_id, f"device.{action}")
    form, _ = await _form(request)
    rt = runtime(request)
    app = access.app_id
    detail = form.get("from") == "detail"
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    before = await views_users.get_device(rt, app, device_type, device_id)
    kind, ident = before.device_type, before.device_id
    target = f"{kind}:{ident}"
    edits: dict[str, Any] = {}
    shift_args: dict[str, Any] = {}

    async def work() -> tuple[None, dict[str, Any] | None]:
        if action in _DEVICE_STATE_SERVICES:
            await _DEVICE_STATE_SERVICES[action](rt, app, kind, ident, form.get("reason", "")[:200])
            return None, _state_changes(before, await views_users.get_device(rt, app, kind, ident))
        if action == "delete":
            await admin.delete_device(rt, app, kind, ident)
            return None, {"state": [before.state, None]}
        if action == "end_sessions":
            ended = await admin.end_identity_sessions(rt, app, "device", target)
            return None, {"live_sessions": [ended, 0]} if ended else None
        if action == "reset":
            await admin.reset_device(rt, app, kind, ident)
        elif action == "edit":
            await admin.edit_device(rt, app, kind, ident, **edits)
        elif action == "extend":
            await admin.extend_device(rt, app, kind, ident, **shift_args)
        else:
            await admin.shorten_device(rt, app, kind, ident, **shift_args)
        after = await views_users.get_device(rt, app, kind, ident)
        return None, views_users.changes_between(before.as_dict(), after.as_dict()) or None

    step = _ActionForm(action, form, detail, errors=errors)
    if action == "edit":
        step.known = set(_DEVICE_EDIT)
        values = step.values = {k: form.get(k, "") for k in _DEVICE_EDIT}
        values["lifetime"] = "on" if form.get("lifetime") else ""
        edits = _identity_edits(form, values, before, errors, with_name=True)
        if not errors and not edits:
            return redirect(request, f"/apps/{app}/device/{kind}/{_q(ident)}")
    step.read_common()
    shift_args = step.shift_args
    await _act(
        request, session, access, step, capability=f"device.{action}",
        target_type="device", target=target, work=work,
    )  # fmt: skip
    if errors:
        return await _device_page(
            request, session, access, kind, ident, errors=errors, values=step.values, status=400
        )
    done = step.done("device", f"{kind} {ident}")
    if action == "delete" or not detail:
        return redirect(request, f"/apps/{app}/devices{_back(form)}", done)
    return redirect(request, f"/apps/{app}/device/{kind}/{_q(ident)}", done)


# -- client sessions ---------------------------------------------------------------------


async def _sessions_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    params = request.query_params
    state = params.get("state", "live")
    if state not in (*lists.SESSION_STATES, "any"):
        state = "live"
    kind = params.get("kind", "")
    if kind not in (*lists.SESSION_KINDS, lists.ALL_SESSIONS):
        kind = ""
    identity = params.get("q", "").strip()[:160]
    cursor = params.get("cursor") or None
    errors = dict(errors or {})
    page: paging.Page[views_users.SessionView] = paging.Page(items=[], next_cursor=None)
    try:
        page = await lists.session_page(
            runtime(request),
            access.app_id,
            state="" if state == "any" else state,
            kind=kind,
            identity=identity if kind else "",
            cursor=cursor,
        )
    except AdminError as exc:
        if exc.code == "PERMISSION_DENIED" or exc.code == "APP_NOT_FOUND":
            raise
        errors["q"] = "No such identity." if exc.is_not_found else exc.message
    if identity and kind in ("", lists.ALL_SESSIONS):
        errors["q"] = "Choose the kind of identity (user, license or device) to search for."
    query = {"state": state, "kind": kind, "q": identity}
    next_cursor = page.next_cursor
    context = {
        "app": access,
        "tab": "sessions",
        "page": page,
        "state": state,
        "states": (*lists.SESSION_STATES, "any"),
        "kind": kind,
        "kinds": lists.SESSION_KINDS,
        "search": identity,
        "errors": errors,
        "here": f"/apps/{access.app_id}/sessions?{urlencode(query)}",
        "next_query": urlencode({**query, "cursor": next_cursor or ""}),
    }
    template = "sessions_rows.html" if _wants_rows(request) else "sessions.html"
    return render(request, template, context, status=status, session=session)


@router.get("/apps/{app_id}/sessions")
async def sessions_list(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "session.list")
    return await _sessions_page(request, session, access)


@router.post("/apps/{app_id}/sessions/end-all")
async def sessions_end_all(request: Request, app_id: str) -> Response:
    """End every live session of the app, or of one identity (kind and name given)."""
    session, access = await app_page(request, app_id, "session.end_all")
    form, _ = await _form(request)
    kind = form.get("kind", "")
    identity = form.get("q", "").strip()
    if not identity:
        kind = ""
    errors: dict[str, str] = {}
    if form.get("confirm") != "yes":
        errors["end_all"] = "Tick “Yes, end them” to confirm."
    elif identity and kind not in ("user", "license", "device"):
        errors["end_all"] = "Choose the kind of identity (user, license or device)."
    if not errors:
        rt = runtime(request)

        async def work() -> tuple[int, dict[str, Any] | None]:
            ended = await admin.end_all_sessions(
                rt, access.app_id, identity_kind=kind or None, identity=identity or None
            )
            return ended, {"live_sessions": [ended, 0]} if ended else None

        try:
            ended = await _change(
                request,
                session,
                access,
                capability="session.end_all",
                target_type=kind or "app",
                target=identity or access.app_id,
                work=work,
            )
        except AdminError as exc:
            if exc.code == "PERMISSION_DENIED":
                raise
            errors["end_all"] = "No such identity." if exc.is_not_found else exc.message
        else:
            return redirect(
                request,
                f"/apps/{access.app_id}/sessions{_back(form)}",
                f"Ended {messages.count(ended, 'live session')}.",
            )
    return await _sessions_page(request, session, access, errors=errors, status=400)


@router.post("/apps/{app_id}/sessions/{session_id}/end")
async def session_end(request: Request, app_id: str, session_id: str) -> Response:
    session, access = await app_page(request, app_id, "session.end")
    form, _ = await _form(request)
    rt = runtime(request)

    async def work() -> tuple[Any, dict[str, Any] | None]:
        result, changed = await admin.end_session(rt, access.app_id, session_id)
        return result, {"state": ["live", "ended"]} if changed else None

    ended = await _change(
        request,
        session,
        access,
        capability="session.end",
        target_type="session",
        target=lambda s: str(s.id),
        work=work,
    )
    default = f"/apps/{access.app_id}/sessions"
    return redirect(
        request, _back_to(form, access.app_id, default), f"Ended session {str(ended.id)[:8]}."
    )
