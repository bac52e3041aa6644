"""API access (API tokens, the Elite Key; management B.1, B.2) and the audit log (B.20).

Owner-level pages (`routes_team.owner_page`): owners, or staff members whose role grants the
capability the REST route checks (`token.list`, `elite-key.rotate`, `audit.export`, ...).
A staff member's new token is its own (`create_token(..., account=...)`, as the REST route
does for a staff member's token), so it never exceeds the member's rights. Token secrets and
the Elite Key are shown once, right after they are made; lists show only their prefixes.
Every change is one service call with the dashboard actor (its audit entry in the same
transaction).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import admin_accounts, audit, credentials, paging
from licentia.services.admin_common import AdminError, as_utc, invalid
from licentia.web.app import DashRoute, form_values, runtime
from licentia.web.context import Refused, redirect, render
from licentia.web.routes_team import (
    PAGE_SIZE,
    RESOURCE_NAMES,
    OwnerCtx,
    checked,
    cursor_arg,
    form_error,
    form_lists,
    owner_apps,
    owner_page,
    page,
    wants_rows,
)

router: APIRouter = APIRouter(route_class=DashRoute)

TOKEN_STATES = ("active", "expired", "revoked")
_TOKENS_KIND = "dash-token"
#: Elite Key capabilities grouped by function, for the disable switches.
ELITE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (
        function,
        tuple(sorted(c for c in credentials.ELITE_CAPABILITIES if c.startswith(function + "."))),
    )
    for function in sorted({c.partition(".")[0] for c in credentials.ELITE_CAPABILITIES})
)
RECENT_CALLS = 20


# -- API access page ----------------------------------------------------------------------


def _token_page(
    request: Request, tokens: list[credentials.TokenInfo], now: datetime
) -> tuple[list[credentials.TokenInfo], str | None, str]:
    state = request.query_params.get("status", "")
    state = state if state in TOKEN_STATES else ""
    items = sorted(tokens, key=lambda t: (as_utc(t.created_at), t.id), reverse=True)
    if state:
        items = [t for t in items if t.status(now) == state]
    position = paging.decode_cursor(_TOKENS_KIND, cursor_arg(request, "tc"))
    if position is not None:
        items = [t for t in items if (as_utc(t.created_at), t.id) < position]
    shown = items[:PAGE_SIZE]
    next_cursor = (
        paging.encode_cursor(_TOKENS_KIND, shown[-1].created_at, shown[-1].id)
        if len(items) > PAGE_SIZE
        else None
    )
    return shown, next_cursor, state


async def _access_page(
    request: Request,
    ctx: OwnerCtx,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    new_token: tuple[credentials.TokenInfo, str] | None = None,
    new_elite: str | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    now = rt.clock()
    tokens: list[credentials.TokenInfo] | None = None
    next_tokens = ""
    state = ""
    if ctx.may("token.list"):
        tokens, cursor, state = _token_page(
            request,
            await credentials.list_tokens(rt, ctx.owner_id, holder_account_id=ctx.token_holder),
            now,
        )
        if cursor:
            next_tokens = urlencode({"status": state, "tc": cursor})
    elite = None
    if ctx.may("elite-key.show"):
        elite = await credentials.get_elite_settings(rt, ctx.owner_id)
    calls: list[audit.AuditEntry] | None = None
    if ctx.may("elite-key.view"):
        calls, _next = await admin_accounts.elite_calls(rt, ctx.owner_id, limit=RECENT_CALLS)
    apps = await owner_apps(request, ctx)
    errors = errors or {}
    context = {
        "ctx": ctx,
        "now": now,
        "tokens": tokens,
        "token_state": state,
        "token_states": TOKEN_STATES,
        "next_tokens": next_tokens,
        "elite": elite,
        "elite_groups": ELITE_GROUPS,
        "rule_lists": credentials.RULE_LISTS,
        "calls": calls,
        "apps": apps,
        "app_names": {a.id: a.name for a in apps},
        "resources": RESOURCE_NAMES,
        "errors": errors,
        "values": values or {},
        "new_token": new_token,
        "new_elite": new_elite,
        "token_open": any(k.startswith("token_") for k in errors),
    }
    return await page(request, ctx.session, "access.html", context, status=status)


@router.get("/access")
async def access(request: Request) -> Response:
    ctx = await owner_page(request, "token.list", "elite-key.show")
    return await _access_page(request, ctx)


def _expiry(text: str, now: datetime) -> datetime | None:
    """A date (`YYYY-MM-DD`, the end of that UTC day) or a number of days from now."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit() and len(text) <= 5:
        return now + timedelta(days=int(text))
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise invalid("expires_at", "Enter a date as YYYY-MM-DD, or a number of days.") from None
    return day + timedelta(days=1)


_TOKEN_FIELDS = ("name", "scopes", "apps", "expires_at")


@router.post("/access/tokens")
async def token_create(request: Request) -> Response:
    ctx = await owner_page(request, "token.create")
    form = await form_values(request)
    lists = await form_lists(request)
    values: dict[str, Any] = {
        "name": form.get("name", ""),
        "perm": set(lists.get("perm", [])),
        "perm_extra": form.get("perm_extra", ""),
        "scope": form.get("scope", "all"),
        "apps": set(lists.get("apps", [])),
        "expires_at": form.get("expires_at", ""),
    }
    rt = runtime(request)
    try:
        expiry = _expiry(values["expires_at"], rt.clock())
        app_ids = sorted(values["apps"]) if values["scope"] == "some" else None
        created = await credentials.create_token(
            rt,
            ctx.owner_id,
            values["name"],
            checked(sorted(values["perm"]), values["perm_extra"]),
            app_ids,
            expiry,
            actor=ctx.actor,
            account=None if ctx.is_own else ctx.session.account.public_id,
        )
    except AdminError as exc:
        if exc.code == "PERMISSION_DENIED" and not exc.fields:
            field = "scopes"  # beyond the member's rights: said next to the scopes
        else:
            field = form_error(exc, _TOKEN_FIELDS, {"app_ids": "apps"})
        return await _access_page(
            request, ctx, errors={f"token_{field}": exc.message}, values=values, status=400
        )
    return await _access_page(request, ctx, new_token=created)


@router.post("/access/tokens/{token_id}/revoke")
async def token_revoke(request: Request, token_id: str) -> Response:
    ctx = await owner_page(request, "token.revoke")
    await credentials.revoke_token(
        runtime(request),
        ctx.owner_id,
        token_id[:64],
        actor=ctx.actor,
        holder_account_id=ctx.token_holder,
    )
    return redirect(request, "/access")


@router.post("/access/elite/rotate")
async def elite_rotate(request: Request) -> Response:
    ctx = await owner_page(request, "elite-key.rotate")
    key = await credentials.rotate_elite_key(runtime(request), ctx.owner_id, actor=ctx.actor)
    return await _access_page(request, ctx, new_elite=key)


@router.post("/access/elite/delete")
async def elite_delete(request: Request) -> Response:
    ctx = await owner_page(request, "elite-key.delete")
    await credentials.delete_elite_key(runtime(request), ctx.owner_id, actor=ctx.actor)
    return redirect(request, "/access")


@router.post("/access/elite/capabilities")
async def elite_capabilities(request: Request) -> Response:
    ctx = await owner_page(request, "elite-key.set_capabilities")
    enabled = set((await form_lists(request)).get("enabled", []))
    disabled = sorted(credentials.ELITE_CAPABILITIES - enabled)
    await credentials.set_elite_capabilities(
        runtime(request), ctx.owner_id, disabled, actor=ctx.actor
    )
    return redirect(request, "/access#elite-capabilities")


@router.post("/access/elite/rules/{list_name}/{action}")
async def elite_rule(request: Request, list_name: str, action: str) -> Response:
    if list_name not in credentials.RULE_LISTS or action not in ("add", "remove"):
        raise Refused(404, "Not found", "There is nothing here.")
    ctx = await owner_page(request, f"elite-key.{action}_rule")
    value = (await form_values(request)).get("value", "")[:256]
    rt = runtime(request)
    try:
        if action == "add":
            await credentials.add_elite_rule(rt, ctx.owner_id, list_name, value, actor=ctx.actor)
        else:
            await credentials.remove_elite_rule(rt, ctx.owner_id, list_name, value, actor=ctx.actor)
    except AdminError as exc:
        if exc.is_not_found and action == "remove":
            raise
        return await _access_page(
            request,
            ctx,
            errors={f"rule_{list_name}": exc.message},
            values={f"rule_{list_name}": value},
            status=400,
        )
    return redirect(request, "/access#elite-rules")


# -- audit log ----------------------------------------------------------------------------

_AUDIT_TEXT = {"capability": 64, "actor": 128, "target": 256, "app_id": 64}


def _when(text: str, field: str, errors: dict[str, str], *, end: bool = False) -> datetime | None:
    """`YYYY-MM-DD` (the start of that UTC day; `end`: the day after) or
    `YYYY-MM-DDTHH:MM` (UTC)."""
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            value = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return value + timedelta(days=1) if end and fmt == "%Y-%m-%d" else value
    errors[field] = "Enter a date as YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)."
    return None


async def _audit_filters(
    request: Request, ctx: OwnerCtx
) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """What was typed, the service's filter arguments, and the field errors."""
    params = request.query_params
    typed = {k: params.get(k, "")[:size].strip() for k, size in _AUDIT_TEXT.items()}
    typed["since"] = params.get("since", "")[:32]
    typed["until"] = params.get("until", "")[:32]
    typed["sign_ins"] = "1" if params.get("sign_ins") == "1" else ""
    errors: dict[str, str] = {}
    if typed["app_id"] and typed["app_id"] not in {a.id for a in await owner_apps(request, ctx)}:
        raise AdminError("APP_NOT_FOUND", "No such app.")  # another owner's, or out of scope
    args: dict[str, Any] = {k: typed[k] or None for k in _AUDIT_TEXT}
    args["sign_ins"] = bool(typed["sign_ins"])
    args["since"] = _when(typed["since"], "since", errors)
    args["until"] = _when(typed["until"], "until", errors, end=True)
    return typed, args, errors


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    ctx = await owner_page(request, "audit.list")
    typed, args, errors = await _audit_filters(request, ctx)
    entries: list[audit.AuditEntry] = []
    next_cursor = None
    if not errors:
        try:
            entries, next_cursor = await audit.list_entries(
                runtime(request),
                ctx.owner_id,
                cursor=cursor_arg(request, "cursor"),
                limit=PAGE_SIZE,
                **args,
            )
        except AdminError as exc:
            if exc.is_not_found:
                raise
            errors[form_error(exc, tuple(typed), {"cursor": "form"})] = exc.message
    query = {k: v for k, v in typed.items() if v}
    names = await audit.display_names(runtime(request), entries)
    apps = await owner_apps(request, ctx)
    partial = wants_rows(request)
    context = {
        "ctx": ctx,
        "partial": partial,
        "resources": RESOURCE_NAMES,
        "actor_names": names.actors,
        "target_names": names.targets,
        "entries": entries,
        "typed": typed,
        "apps": apps,
        "app_names": {a.id: a.name for a in apps},
        "errors": errors,
        "next_query": urlencode({**query, "cursor": next_cursor}) if next_cursor else "",
        "export_query": urlencode(query),
    }
    if partial:  # htmx swaps 200 answers only: the errors are shown in the rows
        return render(request, "_audit_rows.html", context, session=ctx.session)
    status = 400 if errors else 200
    return await page(request, ctx.session, "audit.html", context, status=status)


@router.get("/audit/export")
async def audit_export(request: Request) -> Response:
    ctx = await owner_page(request, "audit.export")
    fmt = request.query_params.get("format", "csv")
    if fmt not in audit.EXPORT_FORMATS:
        raise Refused(400, "Request refused", "The format must be csv or json.")
    _typed, args, errors = await _audit_filters(request, ctx)
    if errors:
        raise Refused(400, "Request refused", next(iter(errors.values())))
    data = await audit.export_entries(runtime(request), ctx.owner_id, fmt=fmt, **args)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="audit.{fmt}"'},
    )
