"""Chat (channels, messages, mutes; B.11) and logs (client logs and auth events; B.12) pages.

Every read and change calls the admin service the REST API (`api/manage/routes_apps.py`) and
the CLI call, guarded by the same capability: `channel.*` for chat, `log.list`,
`log.export` and `log.purge` for logs. Changes run with their audit entry in one write
transaction (`actions.audited`), so a refused change leaves neither.

Destructive actions (delete or clear a channel, purge logs) need the form's "confirm" box
ticked: the check is on the server, so it holds without JavaScript.

"Follow live" on the log pages is an htmx poll (`hx-trigger="every 3s"`) on an empty first
`<tbody>` of the table: it asks only for entries newer than the newest one shown and is
replaced by a fresh poller plus a `<tbody>` of the new rows, so they appear on top. Pausing
is a plain link back to the list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.domain.timeutil import parse_iso
from licentia.services import admin_content, admin_logs, audit, principals
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import AppAccess, DashSession
from licentia.web.actions import app_page, audited
from licentia.web.app import DashRoute, form_values, runtime
from licentia.web.context import Refused, redirect, render

router = APIRouter(route_class=DashRoute)

T = TypeVar("T")

PAGE_SIZE = 50
#: Most new entries one live poll adds; more than that asks for a reload.
LIVE_BATCH = 200
#: Entries are matched by id after a time window this much older than the newest shown,
#: so an entry committed a little late (its time before the newest shown) is not missed.
LIVE_SLACK = timedelta(minutes=5)
#: A page follows live for at most this long (each poll keeps the session from going idle),
#: then the poll stops and offers to follow again.
LIVE_MAX = timedelta(hours=1)
_MAX_TEXT = 200

#: Mute durations offered by the form (the service takes an end time or none).
MUTE_DURATIONS: tuple[tuple[str, str, timedelta | None], ...] = (
    ("1h", "1 hour", timedelta(hours=1)),
    ("1d", "1 day", timedelta(days=1)),
    ("7d", "7 days", timedelta(days=7)),
    ("30d", "30 days", timedelta(days=30)),
    ("forever", "permanent", None),
    ("until", "until the date below", None),
)
ENDPOINTS = (
    "init",
    "register",
    "login",
    "licenses",
    "extend",
    "device-auth",
    "change-password",
)


# -- helpers -----------------------------------------------------------------------------


def _not_found() -> Refused:
    return Refused(404, "Not found", "There is nothing here.")


async def _allowed(
    request: Request, session: DashSession, access: AppAccess, capabilities: tuple[str, ...]
) -> set[str]:
    """Which of `capabilities` the account holds on this app (to show only usable forms)."""
    rights = await principals.rights_for(
        runtime(request), session.account.id, access.owner_account_id
    )
    return {c for c in capabilities if rights.allows(c, access.app_id)}


async def _act(
    request: Request,
    session: DashSession,
    access: AppAccess,
    call: Callable[[], Awaitable[T]],
    *,
    capability: str,
    target_type: str,
    target: str,
    changes: dict[str, Any] | None = None,
    result_changes: Callable[[T], dict[str, Any]] | None = None,
) -> T:
    """`actions.audited` for this app; `result_changes` adds what the call returned
    (a count, the values after an edit) to the entry, written in the same transaction."""
    entry: dict[str, Any] = dict(changes or {})

    async def run() -> T:
        result = await call()
        if result_changes is not None:
            entry.update(result_changes(result))
        return result

    return await audited(
        request,
        session,
        run,
        capability=capability,
        target_type=target_type,
        target=target,
        app_id=access.app_id,
        owner_account_id=access.owner_account_id,
        changes=entry,
    )


def _field_of(exc: AdminError, known: dict[str, str], default: str = "form") -> str:
    """The form field a refusal names (`known` maps service field names to form fields)."""
    for name in exc.fields or []:
        if name in known:
            return known[name]
    return default


def _whole(text: str, name: str, errors: dict[str, str]) -> int | None:
    value = text.strip()
    if not value:
        errors[name] = "Enter a whole number."
        return None
    if not value.isdigit() or len(value) > 9:
        errors[name] = "Enter a whole number."
        return None
    return int(value)


def _when(text: str, name: str, errors: dict[str, str]) -> datetime | None:
    """An optional date or date and time from a form or query (UTC)."""
    value = text.strip()
    if not value:
        return None
    try:
        if len(value) > 40:
            raise ValueError
        return parse_iso(value)
    except ValueError:
        errors[name] = "Enter a date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM), in UTC."
        return None


def _wants_rows(request: Request) -> bool:
    headers = request.headers
    return (
        request.method == "GET"
        and headers.get("hx-request") == "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def _confirmed(form: dict[str, str], errors: dict[str, str]) -> bool:
    if form.get("confirm") == "yes":
        return True
    errors["confirm"] = "Tick the box to confirm."
    return False


# -- chat: channels ----------------------------------------------------------------------

_CHANNEL_CAPS = (
    "channel.create",
    "channel.messages",
    "channel.mutes",
    "channel.edit",
    "channel.delete",
    "channel.clear",
)


async def _chat_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    channels = await admin_content.list_channels(rt, access.app_id)
    context = {
        "app": access,
        "tab": "chat",
        "sub": "channels",
        "channels": channels,
        "may": await _allowed(request, session, access, _CHANNEL_CAPS),
        "errors": errors or {},
        "values": values or {"send_delay": "2", "max_messages": "10000"},
    }
    return render(request, "chat.html", context, status=status, session=session)


@router.get("/apps/{app_id}/chat")
async def chat_channels(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "channel.list")
    return await _chat_page(request, session, access)


_CHANNEL_FIELDS = {
    "name": "name",
    "new_name": "name",
    "send_delay": "send_delay",
    "max_messages": "max_messages",
}


@router.post("/apps/{app_id}/chat/channels")
async def chat_channel_create(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "channel.create")
    form = await form_values(request)
    values = {k: form.get(k, "")[:_MAX_TEXT] for k in ("name", "send_delay", "max_messages")}
    errors: dict[str, str] = {}
    delay = _whole(values["send_delay"], "send_delay", errors)
    cap = _whole(values["max_messages"], "max_messages", errors)
    if not errors and delay is not None and cap is not None:
        rt = runtime(request)
        try:
            made = await _act(
                request,
                session,
                access,
                lambda: admin_content.create_channel(rt, access.app_id, values["name"], delay, cap),
                capability="channel.create",
                target_type="channel",
                target=values["name"].strip(),
                result_changes=lambda c: {
                    "name": [None, c.name],
                    "send_delay": [None, c.send_delay],
                    "max_messages": [None, c.max_messages],
                },
            )
        except AdminError as exc:
            if exc.code == "APP_NOT_FOUND":
                raise
            errors[_field_of(exc, _CHANNEL_FIELDS, "name")] = exc.message
        else:
            return redirect(request, f"/apps/{access.app_id}/chat/channels/{made.name}")
    return await _chat_page(request, session, access, errors=errors, values=values, status=400)


@dataclass(frozen=True)
class _MessageQuery:
    username: str
    include_deleted: bool
    cursor: str | None

    def query(self, **extra: str) -> str:
        values = {"username": self.username, "deleted": "1" if self.include_deleted else ""}
        values.update(extra)
        return urlencode({k: v for k, v in values.items() if v})


def _message_query(request: Request) -> _MessageQuery:
    params = request.query_params
    return _MessageQuery(
        username=params.get("username", "").strip()[:64],
        include_deleted=params.get("deleted") == "1",
        cursor=(params.get("cursor") or "")[:32] or None,
    )


async def _channel_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    channel: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    view = await admin_content.get_channel(rt, access.app_id, channel)
    q = _message_query(request)
    page = await admin_content.list_messages(
        rt,
        access.app_id,
        view.name,
        username=q.username or None,
        include_deleted=q.include_deleted,
        cursor=q.cursor,
        limit=PAGE_SIZE,
    )
    context = {
        "app": access,
        "tab": "chat",
        "sub": "channels",
        "channel": view,
        "page": page,
        "q": q,
        "next_query": q.query(cursor=page.next_cursor or ""),
        "back_query": q.query(),
        "may": await _allowed(
            request,
            session,
            access,
            (*_CHANNEL_CAPS, "channel.delete_message", "channel.delete_by_user", "channel.mute"),
        ),
        "errors": errors or {},
        "values": values
        or {
            "name": view.name,
            "send_delay": str(view.send_delay),
            "max_messages": str(view.max_messages),
        },
    }
    template = "_chat_messages.html" if _wants_rows(request) else "chat_channel.html"
    return render(request, template, context, status=status, session=session)


@router.get("/apps/{app_id}/chat/channels/{channel}")
async def chat_channel(request: Request, app_id: str, channel: str) -> Response:
    session, access = await app_page(request, app_id, "channel.messages")
    return await _channel_page(request, session, access, channel)


@router.post("/apps/{app_id}/chat/channels/{channel}/edit")
async def chat_channel_edit(request: Request, app_id: str, channel: str) -> Response:
    session, access = await app_page(request, app_id, "channel.edit")
    form = await form_values(request)
    values = {k: form.get(k, "")[:_MAX_TEXT] for k in ("name", "send_delay", "max_messages")}
    errors: dict[str, str] = {}
    delay = _whole(values["send_delay"], "send_delay", errors)
    cap = _whole(values["max_messages"], "max_messages", errors)
    rt = runtime(request)
    before = await admin_content.get_channel(rt, access.app_id, channel)
    if not errors:
        new_name = values["name"] if values["name"].strip() != before.name else None
        new_delay = delay if delay != before.send_delay else None
        new_cap = cap if cap != before.max_messages else None
        if new_name is None and new_delay is None and new_cap is None:
            return redirect(request, f"/apps/{access.app_id}/chat/channels/{before.name}")
        try:
            after = await _act(
                request,
                session,
                access,
                lambda: admin_content.edit_channel(
                    rt,
                    access.app_id,
                    before.name,
                    new_name=new_name,
                    send_delay=new_delay,
                    max_messages=new_cap,
                ),
                capability="channel.edit",
                target_type="channel",
                target=before.name,
                result_changes=lambda a: audit.field_changes(
                    before, a, ("name", "send_delay", "max_messages")
                ),
            )
        except AdminError as exc:
            if exc.code in {"APP_NOT_FOUND", "CHANNEL_NOT_FOUND"}:
                raise
            errors[_field_of(exc, _CHANNEL_FIELDS, "name")] = exc.message
        else:
            return redirect(request, f"/apps/{access.app_id}/chat/channels/{after.name}")
    return await _channel_page(
        request, session, access, before.name, errors=errors, values=values, status=400
    )


@router.post("/apps/{app_id}/chat/channels/{channel}/{action}")
async def chat_channel_action(request: Request, app_id: str, channel: str, action: str) -> Response:
    """Delete the channel (with its messages and mutes) or clear its messages."""
    if action not in {"delete", "clear"}:
        raise _not_found()
    session, access = await app_page(request, app_id, f"channel.{action}")
    form = await form_values(request)
    rt = runtime(request)
    before = await admin_content.get_channel(rt, access.app_id, channel)
    errors: dict[str, str] = {}
    if not _confirmed(form, errors):
        errors[f"{action}_confirm"] = errors.pop("confirm")
        return await _channel_page(request, session, access, before.name, errors=errors, status=400)
    if action == "delete":
        await _act(
            request,
            session,
            access,
            lambda: admin_content.delete_channel(rt, access.app_id, before.name),
            capability="channel.delete",
            target_type="channel",
            target=before.name,
            result_changes=lambda gone: {
                "name": [gone.name, None],
                "messages": [gone.message_count, 0],
            },
        )
        return redirect(request, f"/apps/{access.app_id}/chat")
    await _act(
        request,
        session,
        access,
        lambda: admin_content.clear_channel(rt, access.app_id, before.name),
        capability="channel.clear",
        target_type="channel",
        target=before.name,
        result_changes=lambda n: {"cleared": [None, n]},
    )
    return redirect(request, f"/apps/{access.app_id}/chat/channels/{before.name}")


@router.post("/apps/{app_id}/chat/messages/{message_id}/delete")
async def chat_message_delete(request: Request, app_id: str, message_id: str) -> Response:
    session, access = await app_page(request, app_id, "channel.delete_message")
    if not message_id.isdigit() or len(message_id) > 18:
        raise _not_found()
    form = await form_values(request)
    rt = runtime(request)
    gone = await _act(
        request,
        session,
        access,
        lambda: admin_content.delete_message(rt, access.app_id, int(message_id)),
        capability="channel.delete_message",
        target_type="message",
        target=message_id,
        changes={"deleted": [False, True]},
    )
    back = _MessageQuery(
        username=form.get("username", "").strip()[:64],
        include_deleted=form.get("deleted") == "1",
        cursor=None,
    ).query(cursor=form.get("cursor", "")[:32])
    query = f"?{back}" if back else ""
    return redirect(request, f"/apps/{access.app_id}/chat/channels/{gone.channel}{query}")


# -- chat: mutes and moderation ----------------------------------------------------------

_MUTE_CAPS = ("channel.mute", "channel.unmute", "channel.delete_by_user", "channel.messages")


async def _mutes_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    rt = runtime(request)
    search = request.query_params.get("username", "").strip()[:64]
    prefill = {
        "username": search,
        "channel": request.query_params.get("channel", "")[:64],
        "duration": "1d",
    }
    context = {
        "app": access,
        "tab": "chat",
        "sub": "mutes",
        "mutes": await admin_content.list_mutes(rt, access.app_id, search or None),
        "channels": [c.name for c in await admin_content.list_channels(rt, access.app_id)],
        "search": search,
        "durations": MUTE_DURATIONS,
        "may": await _allowed(request, session, access, _MUTE_CAPS),
        "errors": errors or {},
        "values": values or prefill,
        "notice": notice or request.query_params.get("done", "")[:100],
    }
    return render(request, "chat_mutes.html", context, status=status, session=session)


@router.get("/apps/{app_id}/chat/mutes")
async def chat_mutes(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "channel.mutes")
    return await _mutes_page(request, session, access)


@router.post("/apps/{app_id}/chat/mutes")
async def chat_mute(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "channel.mute")
    form = await form_values(request)
    values = {k: form.get(k, "")[:600] for k in ("username", "channel", "duration", "until")}
    values["reason"] = form.get("reason", "")[:600]
    errors: dict[str, str] = {}
    rt = runtime(request)
    durations = {key: span for key, _, span in MUTE_DURATIONS}
    expires: datetime | None = None
    if values["duration"] not in durations:
        errors["duration"] = "Choose how long."
    elif values["duration"] == "until":
        expires = _when(values["until"], "until", errors)
        if expires is None and "until" not in errors:
            errors["until"] = "Enter the end of the mute."
        elif expires is not None and expires <= rt.clock():
            errors["until"] = "The end of the mute must be in the future."
    else:
        span = durations[values["duration"]]
        expires = rt.clock() + span if span is not None else None
    channel = values["channel"].strip() or None
    if not values["username"].strip():
        errors["username"] = "Enter the username."
    if not errors:
        try:
            await _act(
                request,
                session,
                access,
                lambda: admin_content.mute_user(
                    rt,
                    access.app_id,
                    values["username"],
                    channel,
                    expires,
                    values["reason"],
                    created_by=f"account:{session.account.id}"[:64],
                ),
                capability="channel.mute",
                target_type="user",
                target=values["username"].strip(),
                changes={
                    "muted": [None, channel or "*"],
                    "expires_at": [None, expires],
                    "reason": [None, values["reason"]],
                },
            )
        except AdminError as exc:
            if exc.code == "APP_NOT_FOUND":
                raise
            known = {"username": "username", "channel": "channel", "reason": "reason"}
            errors[_field_of(exc, known, "username")] = exc.message
        else:
            return redirect(request, f"/apps/{access.app_id}/chat/mutes")
    return await _mutes_page(request, session, access, errors=errors, values=values, status=400)


@router.post("/apps/{app_id}/chat/unmute")
async def chat_unmute(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "channel.unmute")
    form = await form_values(request)
    username = form.get("username", "")[:64]
    channel = form.get("channel", "").strip()[:64] or None
    rt = runtime(request)
    await _act(
        request,
        session,
        access,
        lambda: admin_content.unmute_user(rt, access.app_id, username, channel),
        capability="channel.unmute",
        target_type="user",
        target=username,
        changes={"muted": [channel or "*", None]},
        result_changes=lambda n: {"removed": [None, n]},
    )
    return redirect(request, f"/apps/{access.app_id}/chat/mutes")


@router.post("/apps/{app_id}/chat/delete-by-user")
async def chat_delete_by_user(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "channel.delete_by_user")
    form = await form_values(request)
    values = {"purge_username": form.get("username", "")[:64]}
    values["purge_channel"] = form.get("channel", "")[:64]
    channel = values["purge_channel"].strip() or None
    errors: dict[str, str] = {}
    rt = runtime(request)
    if not values["purge_username"].strip():
        errors["purge_username"] = "Enter the username."
    else:
        try:
            count = await _act(
                request,
                session,
                access,
                lambda: admin_content.delete_messages_by_user(
                    rt, access.app_id, values["purge_username"], channel
                ),
                capability="channel.delete_by_user",
                target_type="user",
                target=values["purge_username"].strip(),
                result_changes=lambda n: {"messages_deleted": [None, n]},
            )
        except AdminError as exc:
            if exc.code == "APP_NOT_FOUND":
                raise
            known = {"username": "purge_username", "channel": "purge_channel"}
            errors[_field_of(exc, known, "purge_username")] = exc.message
        else:
            done = f"Deleted {count} message{'s' if count != 1 else ''}."
            return redirect(
                request, f"/apps/{access.app_id}/chat/mutes?{urlencode({'done': done})}"
            )
    return await _mutes_page(request, session, access, errors=errors, values=values, status=400)


# -- logs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """Client logs or auth events: their filters, service calls and paths."""

    name: str  # "logs" or "events"
    path: str  # below /apps/{id}/logs
    fields: tuple[str, ...]
    label: str
    export_name: str
    target_type: str


_LOGS = _Kind("logs", "", ("identity", "ip", "text"), "Client logs", "client-logs", "client-logs")
_EVENTS = _Kind(
    "events",
    "/auth-events",
    ("identity", "ip", "code", "endpoint"),
    "Auth events",
    "auth-events",
    "auth-events",
)


@dataclass(frozen=True)
class _LogQuery:
    values: dict[str, str]
    since: datetime | None
    until: datetime | None
    cursor: str | None
    errors: dict[str, str]

    def filters(self, kind: _Kind) -> Any:
        v = {k: (self.values.get(k) or None) for k in kind.fields}
        if kind is _LOGS:
            return admin_logs.LogFilter(since=self.since, until=self.until, **v)
        return admin_logs.EventFilter(since=self.since, until=self.until, **v)

    def query(self, **extra: str) -> str:
        values = {**self.values, **extra}
        return urlencode({k: v for k, v in values.items() if v})


def _log_query(request: Request, kind: _Kind) -> _LogQuery:
    params = request.query_params
    values = {k: params.get(k, "").strip()[:_MAX_TEXT] for k in (*kind.fields, "since", "until")}
    if kind is _EVENTS and values["endpoint"] not in ENDPOINTS:
        values["endpoint"] = ""
    errors: dict[str, str] = {}
    since = _when(values["since"], "since", errors)
    until = _when(values["until"], "until", errors)
    if since is not None and until is not None and since > until:
        errors["until"] = "The end must not be before the start."
    cursor = (params.get("cursor") or "")[:64] or None
    return _LogQuery(values, since, until, cursor, errors)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _logs_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    kind: _Kind,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    rt = runtime(request)
    q = _log_query(request, kind)
    page: admin_logs.Page = admin_logs.Page(items=[], next_cursor=None)
    shown_errors = dict(q.errors)
    if not q.errors:
        lister = admin_logs.list_client_logs if kind is _LOGS else admin_logs.list_auth_events
        try:
            page = await lister(
                rt, access.app_id, q.filters(kind), cursor=q.cursor, limit=PAGE_SIZE
            )
        except AdminError as exc:
            if exc.code == "APP_NOT_FOUND":
                raise
            shown_errors[_field_of(exc, {"since": "since", "until": "until"}, "cursor")] = (
                exc.message
            )
    partial = _wants_rows(request)
    if shown_errors and status == 200 and not partial:
        # htmx swaps only 2xx answers: a filter refused while typing still shows its message.
        status = 400
    follow = request.query_params.get("follow") == "1" and q.cursor is None and not shown_errors
    newest = page.items[0] if page.items else None
    context = {
        "app": access,
        "tab": "logs",
        "kind": kind.name,
        "label": kind.label,
        "path": f"/apps/{access.app_id}/logs{kind.path}",
        "page": page,
        "filters": q.values,
        "filter_errors": shown_errors,
        "endpoints": ENDPOINTS,
        "query": q.query(),
        "next_query": q.query(cursor=page.next_cursor or ""),
        "follow": follow,
        "page_cursor_set": q.cursor is not None,
        "live_query": q.query(
            after=str(newest.id if newest else 0),
            at=_stamp(newest.created_at if newest else rt.clock()),
            t0=_stamp(rt.clock()),
        ),
        "may": await _allowed(request, session, access, ("log.export", "log.purge")),
        "errors": errors or {},
        "values": values or {},
        "notice": notice or request.query_params.get("done", "")[:100],
    }
    template = "_logs_rows.html" if partial else "logs.html"
    return render(request, template, context, status=status, session=session)


@router.get("/apps/{app_id}/logs")
async def logs_list(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "log.list")
    return await _logs_page(request, session, access, _LOGS)


@router.get("/apps/{app_id}/logs/auth-events")
async def events_list(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "log.list")
    return await _logs_page(request, session, access, _EVENTS)


async def _live(request: Request, app_id: str, kind: _Kind) -> Response:
    """Entries newer than `after` (the newest shown), newest first, with the next poller."""
    session, access = await app_page(request, app_id, "log.list")
    rt = runtime(request)
    q = _log_query(request, kind)
    after_text = request.query_params.get("after", "")
    at_errors: dict[str, str] = {}
    at = _when(request.query_params.get("at", ""), "at", at_errors)
    if q.errors or at_errors or at is None or not after_text.isdigit() or len(after_text) > 18:
        raise Refused(400, "Request refused", "The request is invalid.")
    after = int(after_text)
    started = _when(request.query_params.get("t0", ""), "t0", at_errors)
    if started is None or at_errors:
        raise Refused(400, "Request refused", "The request is invalid.")
    path = f"/apps/{access.app_id}/logs{kind.path}"
    if rt.clock() - started > LIVE_MAX:
        # Status 286 tells htmx to stop polling.
        ended = {"path": path, "query": q.query(follow="1")}
        return render(request, "_logs_live_end.html", ended, status=286, session=session)
    window = at - LIVE_SLACK
    since = window if q.since is None or q.since < window else q.since
    live = _LogQuery(q.values, since, q.until, None, {})
    lister = admin_logs.list_client_logs if kind is _LOGS else admin_logs.list_auth_events
    page = await lister(rt, access.app_id, live.filters(kind), limit=LIVE_BATCH)
    items = [i for i in page.items if i.id > after]
    if not items:
        return Response(status_code=204)
    newest = items[0]
    context = {
        "app": access,
        "kind": kind.name,
        "path": path,
        "items": items,
        "skipped": len(items) == len(page.items) and page.next_cursor is not None,
        "live_query": q.query(
            after=str(newest.id), at=_stamp(newest.created_at), t0=_stamp(started)
        ),
        "query": q.query(),
    }
    return render(request, "_logs_live.html", context, session=session)


@router.get("/apps/{app_id}/logs/live")
async def logs_live(request: Request, app_id: str) -> Response:
    return await _live(request, app_id, _LOGS)


@router.get("/apps/{app_id}/logs/auth-events/live")
async def events_live(request: Request, app_id: str) -> Response:
    return await _live(request, app_id, _EVENTS)


async def _export(request: Request, app_id: str, kind: _Kind) -> Response:
    session, access = await app_page(request, app_id, "log.export")
    q = _log_query(request, kind)
    fmt = request.query_params.get("format", "csv")
    if q.errors or fmt not in admin_logs.EXPORT_FORMATS:
        return await _logs_page(request, session, access, kind, status=400)
    exporter = admin_logs.export_client_logs if kind is _LOGS else admin_logs.export_auth_events
    export = await exporter(runtime(request), access.app_id, q.filters(kind), fmt)
    media = "text/csv; charset=utf-8" if export.format == "csv" else "application/json"
    return Response(
        content=export.content,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{kind.export_name}.{export.format}"',
            "X-Total-Count": str(export.count),
        },
    )


@router.get("/apps/{app_id}/logs/export")
async def logs_export(request: Request, app_id: str) -> Response:
    return await _export(request, app_id, _LOGS)


@router.get("/apps/{app_id}/logs/auth-events/export")
async def events_export(request: Request, app_id: str) -> Response:
    return await _export(request, app_id, _EVENTS)


async def _purge(request: Request, app_id: str, kind: _Kind) -> Response:
    session, access = await app_page(request, app_id, "log.purge")
    form = await form_values(request)
    values = {"before": form.get("before", "")[:40], "all": "yes" if form.get("all") else ""}
    errors: dict[str, str] = {}
    everything = bool(values["all"])
    before = _when(values["before"], "before", errors)
    if not errors and before is not None and everything:
        errors["before"] = "Give a date, or tick “everything”, not both."
    elif not errors and before is None and not everything:
        errors["before"] = "Give a date, or tick “everything”."
    if not errors and _confirmed(form, errors):
        rt = runtime(request)
        purge = admin_logs.purge_client_logs if kind is _LOGS else admin_logs.purge_auth_events
        try:
            count = await _act(
                request,
                session,
                access,
                lambda: purge(rt, access.app_id, before=before, everything=everything),
                capability="log.purge",
                target_type=kind.target_type,
                target="all" if everything else "before",
                changes={"before": [None, before]},
                result_changes=lambda n: {"purged": [None, n]},
            )
        except AdminError as exc:
            if exc.code == "APP_NOT_FOUND":
                raise
            errors[_field_of(exc, {"before": "before", "all": "before"}, "before")] = exc.message
        else:
            done = f"Purged {count} entr{'ies' if count != 1 else 'y'}."
            return redirect(
                request,
                f"/apps/{access.app_id}/logs{kind.path}?{urlencode({'done': done})}",
            )
    return await _logs_page(
        request, session, access, kind, errors=errors, values=values, status=400
    )


@router.post("/apps/{app_id}/logs/purge")
async def logs_purge(request: Request, app_id: str) -> Response:
    return await _purge(request, app_id, _LOGS)


@router.post("/apps/{app_id}/logs/auth-events/purge")
async def events_purge(request: Request, app_id: str) -> Response:
    return await _purge(request, app_id, _EVENTS)
