"""Function/action dispatch of the Elite Key API (management A.7).

Each handler reads its parameters from `Context.params`, calls the admin service the other
faces use (or, where none exists yet, a scoped SQLAlchemy Core query in this package), and
returns the response fields besides `success`. Handlers set `Context.target*` and
`Context.changes` for the audit entry the router writes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select

from licentia.api.elite import objects as obj
from licentia.api.elite.params import NULL, Params, bad, missing
from licentia.services import admin, usage, views_apps, views_licenses, views_users
from licentia.services.admin_common import (
    MAX_DAYS,
    AdminError,
    trim,
)
from licentia.services.audit import Actor
from licentia.services.credentials import ElitePrincipal
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    apps,
)

Result = dict[str, Any]


@dataclass
class Context:
    rt: Runtime
    principal: ElitePrincipal
    actor: Actor
    params: Params
    capability: str
    app: Row[Any] | None = None
    target_type: str = ""
    target: str = ""
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def app_id(self) -> str | None:
        return None if self.app is None else str(self.app.id)

    @property
    def aid(self) -> str:
        assert self.app is not None
        return str(self.app.id)

    def now(self) -> datetime:
        return self.rt.clock()

    async def resolve_app(self) -> None:
        """A.3 `app_name`: exact (case-sensitive) among the owner's apps; absent or empty with
        exactly one app: that app; else MISSING_FIELDS; unknown: APP_NOT_FOUND."""
        name = self.params.text("app_name") or ""
        async with self.rt.db.read() as conn:
            query = select(apps).where(apps.c.owner_account_id == self.principal.account_id)
            if name:
                row = (await conn.execute(query.where(apps.c.name == name))).first()
                if row is None:
                    raise AdminError("APP_NOT_FOUND", f"no app named {name!r}", ["app_name"])
            else:
                rows = (await conn.execute(query.limit(2))).all()
                if len(rows) != 1:
                    raise missing("app_name")
                row = rows[0]
        self.app = row

    def on(self, target_type: str, target: str) -> None:
        self.target_type, self.target = target_type, target


Handler = Callable[[Context], Awaitable[Result]]


@dataclass(frozen=True)
class ActionSpec:
    run: Handler
    mutating: bool
    app_scoped: bool = True


_READS = frozenset({"list", "info", "get", "usage", "roles", "rate_plans", "verify_password"})
_REGISTRY: dict[tuple[str, str], ActionSpec] = {}


def action(function: str, *names: str, app_scoped: bool = True) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            _REGISTRY[(function, name)] = ActionSpec(
                run=handler, mutating=name not in _READS, app_scoped=app_scoped
            )
        return handler

    return register


def lookup(function: str, name: str) -> ActionSpec | None:
    return _REGISTRY.get((function, name))


# -- common parameter helpers ------------------------------------------------------------


def term_inputs(p: Params) -> tuple[int | None, datetime | None, bool]:
    """(days, expires, lifetime) from `duration_days` / `expiry_date` (null or absent =
    lifetime when no duration is given)."""
    duration = p.integer("duration_days", low=1, high=MAX_DAYS)
    expiry = p.date("expiry_date")
    if duration is not None and expiry is not None:
        raise AdminError(
            "INVALID_INPUT",
            "give expiry_date or duration_days, not both",
            ["expiry_date", "duration_days"],
        )
    return duration, expiry, duration is None and expiry is None


def email_input(p: Params) -> str | None:
    """None when not given; "" for an explicit null (no email)."""
    if p.is_null("email"):
        return ""
    value = p.text("email")
    return None if value is None else value


def shift_inputs(p: Params) -> tuple[int | None, datetime | None]:
    days = p.integer("days", low=1, high=MAX_DAYS)
    expiry = p.date("expiry_date")
    if days is not None and expiry is not None:
        raise AdminError(
            "INVALID_INPUT", "give days or expiry_date, not both", ["days", "expiry_date"]
        )
    if days is None and expiry is None:
        raise missing("days")
    return days, expiry


# -- app ---------------------------------------------------------------------------------


@action("app", "list", app_scoped=False)
async def app_list(ctx: Context) -> Result:
    apps_ = await views_apps.list_apps(ctx.rt, ctx.principal.account_id)
    result = sorted(a.name for a in apps_)
    return {"message": f"{len(result)} apps", "apps": result}


_TOTALS = (
    "total_users",
    "total_licenses",
    "total_devices",
    "total_subscriptions",
    "total_variables",
)


@action("app", "info")
async def app_info(ctx: Context) -> Result:
    assert ctx.app is not None
    details = await views_apps.app_details(ctx.rt, ctx.aid)
    return {
        "message": "App found",
        "app_name": ctx.app.name,
        **{name: details[name] for name in _TOTALS},
        "plan_name": details["plan_name"],
        "is_enabled": bool(ctx.app.is_enabled),
        "user_panel_enabled": bool(ctx.app.user_panel_enabled),
    }


@action("app", "usage")
async def app_usage(ctx: Context) -> Result:
    """Client API requests per UTC day, the last 7 days ending today (B.12 usage)."""
    series = await usage.daily_series(ctx.rt, ctx.aid, 7)
    return {"message": "Usage for the last 7 days", "series": series}


_APP_EDITABLE = (
    "is_enabled",
    "user_panel_enabled",
    "hwid_lock",
    "allow_password_change",
    "client_create_variables",
    "hash_check",
    "vpn_block",
    "require_request_signature",
    "session_idle_timeout",
    "session_max_lifetime",
    "offline_ticket_ttl",
)


@action("app", "edit")
async def app_edit(ctx: Context) -> Result:
    assert ctx.app is not None
    p = ctx.params
    wanted = {name: p.raw(name) for name in _APP_EDITABLE if p.given(name)}
    if not wanted:
        raise missing("is_enabled", "give at least one of is_enabled, user_panel_enabled")
    for name in wanted:
        if name.startswith("session_"):
            wanted[name] = p.integer(name, low=1)
        elif name == "offline_ticket_ttl":
            wanted[name] = p.integer(name, low=0)
        else:
            wanted[name] = p.boolean(name)
    ctx.on("app", ctx.app.name)
    changed = await admin.set_app_settings(ctx.rt, ctx.aid, wanted)
    ctx.changes = {c.setting: [ctx.app._mapping[c.setting], c.value] for c in changed}
    app_obj: dict[str, Any] = {
        "name": ctx.app.name,
        "is_enabled": bool(ctx.app.is_enabled),
        "user_panel_enabled": bool(ctx.app.user_panel_enabled),
    }
    app_obj.update({c.setting: c.value for c in changed})
    return {"message": "App updated", "app": app_obj}


# -- subscription ------------------------------------------------------------------------


def _sub(row: Any) -> dict[str, Any]:
    return {"name": row.name, "level": row.level}


@action("subscription", "list")
async def subscription_list(ctx: Context) -> Result:
    subs = await views_licenses.list_subscriptions(ctx.rt, ctx.aid)
    return {"message": f"{len(subs)} subscriptions", "subscriptions": [_sub(s) for s in subs]}


@action("subscription", "create")
async def subscription_create(ctx: Context) -> Result:
    name = ctx.params.req("name")
    level = ctx.params.integer("level", default=1)
    ctx.on("subscription", name)
    sub = await admin.create_subscription(ctx.rt, ctx.aid, name, level if level is not None else 1)
    ctx.changes = {"name": [None, sub.name], "level": [None, sub.level]}
    return {"message": "Subscription created", "subscription": _sub(sub)}


@action("subscription", "edit")
async def subscription_edit(ctx: Context) -> Result:
    p = ctx.params
    name = p.req("name")
    new_name = p.text("new_name")
    level = p.integer("level")
    if new_name is None and level is None:
        raise missing("new_name", "give new_name or level")
    ctx.on("subscription", name)
    before, after = await admin.edit_subscription(
        ctx.rt, ctx.aid, name, new_name=new_name, level=level
    )
    ctx.changes = obj.diff(_sub(before), _sub(after))
    return {"message": "Subscription updated", "subscription": _sub(after)}


@action("subscription", "delete")
async def subscription_delete(ctx: Context) -> Result:
    p = ctx.params
    name = p.req("name")
    ctx.on("subscription", name)
    gone = await admin.delete_subscription(ctx.rt, ctx.aid, name, reassign_to=p.text("reassign_to"))
    ctx.changes = {"subscription": [gone.name, None]}
    if gone.reassigned_to is not None:
        ctx.changes["reassigned_to"] = [None, gone.reassigned_to]
    return {"message": "Subscription deleted"}


# -- license -----------------------------------------------------------------------------


async def _license_result(ctx: Context, key: str, message: str) -> Result:
    async with ctx.rt.db.read() as conn:
        row = await obj.require_license(conn, ctx.aid, key)
        return {"message": message, "license": await obj.license_object(conn, row, ctx.now())}


async def _license_snapshot(ctx: Context, key: str) -> dict[str, Any]:
    async with ctx.rt.db.read() as conn:
        row = await obj.require_license(conn, ctx.aid, key)
        return await obj.license_object(conn, row, ctx.now())


@action("license", "add")
async def license_add(ctx: Context) -> Result:
    p = ctx.params
    key = p.req("license_key")
    subscription = p.req("subscription")
    days, expires, lifetime = term_inputs(p)
    device_limit = p.integer("device_limit", default=1, low=0)
    ctx.on("license", key)
    state = await admin.add_license(
        ctx.rt,
        ctx.aid,
        key,
        subscription,
        days=days,
        expires=expires,
        lifetime=lifetime,
        device_limit=device_limit if device_limit is not None else 1,
        note=p.text("note") or "",
        email=email_input(p) or "",
        created_by="elite-key",
    )
    result = await _license_result(ctx, state.key, "License added")
    ctx.changes = obj.diff(None, result["license"])
    return result


@action("license", "generate")
async def license_generate(ctx: Context) -> Result:
    p = ctx.params
    subscription = p.req("subscription")
    amount = p.integer("amount", default=1, low=1, high=admin.MAX_COUNT)
    days, expires, lifetime = term_inputs(p)
    device_limit = p.integer("device_limit", default=1, low=0)
    ctx.on("license", "")
    batch = await admin.generate_batch(
        ctx.rt,
        ctx.aid,
        subscription,
        days=days,
        expires=expires,
        lifetime=lifetime,
        device_limit=device_limit if device_limit is not None else 1,
        count=amount or 1,
        mask=p.text("mask") or admin.DEFAULT_MASK,
        note=p.text("note") or "",
        use_capital=bool(p.boolean("use_capital", default=True)),
        use_lowercase=bool(p.boolean("use_lowercase", default=False)),
        use_numbers=bool(p.boolean("use_numbers", default=True)),
        idempotency_key=p.text("idempotency_key"),
        created_by="elite-key",
    )
    keys = batch.keys
    ctx.on("license", f"{len(keys)} keys")
    if batch.replayed:  # an idempotent retry: nothing new was created
        ctx.changes = {"replayed_batch": [None, batch.batch_id]}
    else:
        ctx.changes = {
            "count": [None, len(keys)],
            "subscription": [None, subscription],
            "batch_id": [None, batch.batch_id],
        }
    noun = "license key" if len(keys) == 1 else "license keys"
    return {"message": f"{len(keys)} {noun} generated", "keys": keys, "count": len(keys)}


@action("license", "info")
async def license_info(ctx: Context) -> Result:
    key = ctx.params.req("license_key")
    ctx.on("license", key)
    return await _license_result(ctx, key, "License found")


@action("license", "edit")
async def license_edit(ctx: Context) -> Result:
    p = ctx.params
    key = p.req("license_key")
    ctx.on("license", key)
    note = (p.text("note") or "") if p.given("note") else None
    device_limit = p.integer("device_limit", low=0) if p.given("device_limit") else None
    email = email_input(p)
    term_given = p.given("duration_days") or "expiry_date" in _keys(p)
    subscription = p.text("subscription")
    nothing = note is None and device_limit is None and email is None and subscription is None
    if nothing and not term_given:
        raise missing("note", "give at least one of note, device_limit, subscription")
    term = None
    if term_given:
        days, expires, lifetime = term_inputs(p)
        term = admin.TermChange(days=days, expires=expires, lifetime=lifetime)
    before = await _license_snapshot(ctx, key)
    await admin.edit_license(
        ctx.rt,
        ctx.aid,
        key,
        note=note,
        device_limit=device_limit,
        subscription=subscription,
        email=email,
        term=term,
    )
    result = await _license_result(ctx, key, "License updated")
    ctx.changes = obj.diff(before, result["license"])
    return result


def _keys(p: Params) -> set[str]:
    return {name for name in ("expiry_date",) if p.given(name) or p.is_null(name)}


async def _state_change(ctx: Context, kind: str, verb: str) -> Result:
    """ban / unban / pause / unpause of a license (`license_key`) or a user (`username`)."""
    license_kind = kind == "license"
    name = ctx.params.req("license_key" if license_kind else "username")
    ctx.on(kind, name)
    snapshot, result_of = (
        (_license_snapshot, _license_result) if license_kind else (_user_snapshot, _user_result)
    )
    before = await snapshot(ctx, name)
    change = _STATE_CHANGES[kind][verb]
    reason = (ctx.params.text("reason") or "") if verb == "ban" else ""
    await change(ctx.rt, ctx.aid, name, reason)
    past = f"{verb}ned" if verb.endswith("ban") else f"{verb}d"
    result = await result_of(ctx, name, f"{kind.capitalize()} {past}")
    ctx.changes = obj.diff(before, result[kind])
    return result


_STATE_CHANGES: dict[str, dict[str, Any]] = {
    "license": {
        "ban": admin.ban_license,
        "unban": admin.unban_license,
        "pause": admin.pause_license,
        "unpause": admin.unpause_license,
    },
    "user": {
        "ban": admin.ban_user,
        "unban": admin.unban_user,
        "pause": admin.pause_user,
        "unpause": admin.unpause_user,
    },
}


@action("license", "ban")
async def license_ban(ctx: Context) -> Result:
    return await _state_change(ctx, "license", "ban")


@action("license", "unban")
async def license_unban(ctx: Context) -> Result:
    return await _state_change(ctx, "license", "unban")


@action("license", "pause")
async def license_pause(ctx: Context) -> Result:
    return await _state_change(ctx, "license", "pause")


@action("license", "unpause")
async def license_unpause(ctx: Context) -> Result:
    return await _state_change(ctx, "license", "unpause")


@action("license", "delete")
async def license_delete(ctx: Context) -> Result:
    key = ctx.params.req("license_key")
    ctx.on("license", key)
    await _license_snapshot(ctx, key)  # LICENSE_NOT_FOUND with the A.7 parameter name
    await admin.delete_license(ctx.rt, ctx.aid, key)
    ctx.changes = {"deleted": [False, True]}
    return {"message": "License deleted"}


async def _license_shift(ctx: Context, sign: int) -> Result:
    p = ctx.params
    key = p.req("license_key")
    ctx.on("license", key)
    days, expiry = shift_inputs(p)
    before = await _license_snapshot(ctx, key)
    await admin.shift_license(ctx.rt, ctx.aid, key, days=days, expires=expiry, sign=sign)
    result = await _license_result(
        ctx, key, "License extended" if sign > 0 else "License shortened"
    )
    ctx.changes = obj.diff(before, result["license"])
    return result


@action("license", "extend")
async def license_extend(ctx: Context) -> Result:
    return await _license_shift(ctx, 1)


@action("license", "shorten")
async def license_shorten(ctx: Context) -> Result:
    return await _license_shift(ctx, -1)


@action("license", "reset_hwid")
async def license_reset_hwid(ctx: Context) -> Result:
    key = ctx.params.req("license_key")
    ctx.on("license", key)
    before = await _license_snapshot(ctx, key)
    await admin.reset_license_hwid(ctx.rt, ctx.aid, key)
    result = await _license_result(ctx, key, "HWID reset")
    ctx.changes = obj.diff(before, result["license"])
    return result


# -- user --------------------------------------------------------------------------------


async def _user_result(ctx: Context, username: str, message: str) -> Result:
    async with ctx.rt.db.read() as conn:
        row = await obj.require_user(conn, ctx.aid, username)
        return {"message": message, "user": await obj.user_object(conn, row, ctx.now())}


async def _user_snapshot(ctx: Context, username: str) -> dict[str, Any]:
    return dict((await _user_result(ctx, username, ""))["user"])


@action("user", "generate")
async def user_generate(ctx: Context) -> Result:
    p = ctx.params
    username = p.req("username")
    password = p.req("password")
    subscription = p.req("subscription")
    expires = p.date("expiry_date")
    device_limit = p.integer("device_limit", default=1, low=0)
    ctx.on("user", username)
    state = await admin.create_user(
        ctx.rt,
        ctx.aid,
        username,
        password,
        subscription,
        expires=expires,
        lifetime=expires is None,
        email=email_input(p) or "",
        device_limit=device_limit if device_limit is not None else 1,
        note=p.text("note") or "",
        created_by="elite-key",
    )
    result = await _user_result(ctx, state.name, "User created")
    ctx.changes = obj.diff(None, result["user"])
    ctx.changes["password"] = [None, "set"]
    return result


@action("user", "info")
async def user_info(ctx: Context) -> Result:
    username = ctx.params.req("username")
    ctx.on("user", username)
    return await _user_result(ctx, username, "User found")


@action("user", "edit")
async def user_edit(ctx: Context) -> Result:
    p = ctx.params
    username = p.req("username")
    ctx.on("user", username)
    fields: dict[str, Any] = {}
    email = email_input(p)
    if email is not None:
        fields["email"] = email
    if p.given("device_limit"):
        fields["device_limit"] = p.integer("device_limit", low=0)
    if p.given("note"):
        fields["note"] = p.text("note") or ""
    if "expiry_date" in _keys(p):
        fields["expiry"] = p.date("expiry_date")
    subscription = p.text("subscription")
    if subscription is not None:
        fields["subscription"] = subscription
    if not fields:
        raise missing(
            "email", "give at least one of email, subscription, device_limit, expiry_date, note"
        )
    before = await _user_snapshot(ctx, username)
    await admin.edit_user(ctx.rt, ctx.aid, username, **fields)
    result = await _user_result(ctx, username, "User updated")
    ctx.changes = obj.diff(before, result["user"])
    return result


@action("user", "ban")
async def user_ban(ctx: Context) -> Result:
    return await _state_change(ctx, "user", "ban")


@action("user", "unban")
async def user_unban(ctx: Context) -> Result:
    return await _state_change(ctx, "user", "unban")


@action("user", "pause")
async def user_pause(ctx: Context) -> Result:
    return await _state_change(ctx, "user", "pause")


@action("user", "unpause")
async def user_unpause(ctx: Context) -> Result:
    return await _state_change(ctx, "user", "unpause")


@action("user", "delete")
async def user_delete(ctx: Context) -> Result:
    username = ctx.params.req("username")
    ctx.on("user", username)
    await admin.delete_user(ctx.rt, ctx.aid, username)
    ctx.changes = {"deleted": [False, True]}
    return {"message": "User deleted"}


async def _user_shift(ctx: Context, sign: int) -> Result:
    p = ctx.params
    username = p.req("username")
    ctx.on("user", username)
    days, expiry = shift_inputs(p)
    before = await _user_snapshot(ctx, username)
    shift = admin.extend_user if sign > 0 else admin.shorten_user
    await shift(ctx.rt, ctx.aid, username, days=days, expires=expiry)
    result = await _user_result(ctx, username, "User extended" if sign > 0 else "User shortened")
    ctx.changes = obj.diff(before, result["user"])
    return result


@action("user", "extend")
async def user_extend(ctx: Context) -> Result:
    return await _user_shift(ctx, 1)


@action("user", "shorten")
async def user_shorten(ctx: Context) -> Result:
    return await _user_shift(ctx, -1)


@action("user", "reset_password")
async def user_reset_password(ctx: Context) -> Result:
    p = ctx.params
    username = p.req("username")
    password = p.req("new_password")
    ctx.on("user", username)
    await admin.reset_user_password(ctx.rt, ctx.aid, username, password)
    ctx.changes = {"password": ["changed", "changed"]}
    return await _user_result(ctx, username, "Password reset")


@action("user", "verify_password")
async def user_verify_password(ctx: Context) -> Result:
    p = ctx.params
    username = p.req("username")
    password = p.req("password")
    ctx.on("user", username)
    await admin.verify_user_password(ctx.rt, ctx.aid, username, password)
    user = await views_users.get_user(ctx.rt, ctx.aid, username)
    return {
        "message": "Password is valid",
        "valid": True,
        "username": user.username,
        "subscription": user.subscription,
        "expiry": obj.date(user.expiry_date),
        "banned": user.banned,
        "paused": user.paused,
    }


@action("user", "reset_hwid")
async def user_reset_hwid(ctx: Context) -> Result:
    username = ctx.params.req("username")
    ctx.on("user", username)
    before = await _user_snapshot(ctx, username)
    await admin.reset_bindings(ctx.rt, ctx.aid, "user", username)
    result = await _user_result(ctx, username, "HWID reset")
    ctx.changes = obj.diff(before, result["user"])
    return result


# -- device ------------------------------------------------------------------------------


def _device_key(ctx: Context) -> tuple[str, str]:
    p = ctx.params
    kind = p.req("device_type").strip().lower()
    if kind not in admin.DEVICE_TYPES:
        raise bad("device_type", "device_type must be motherboard or processor")
    ident = p.req("device_id")
    ctx.on("device", f"{kind}:{trim(ident)}")
    return kind, ident


async def _device_result(ctx: Context, kind: str, ident: str, message: str) -> Result:
    async with ctx.rt.db.read() as conn:
        row = await obj.require_device(conn, ctx.aid, kind, ident)
    return {"message": message, "device": obj.device_object(row, ctx.now())}


async def _device_snapshot(ctx: Context, kind: str, ident: str) -> dict[str, Any]:
    return dict((await _device_result(ctx, kind, ident, ""))["device"])


@action("device", "create")
async def device_create(ctx: Context) -> Result:
    p = ctx.params
    kind, ident = _device_key(ctx)
    subscription = p.req("subscription")
    expires = p.date("expiry_date")
    await admin.create_device(
        ctx.rt,
        ctx.aid,
        kind,
        ident,
        subscription,
        expires=expires,
        lifetime=expires is None,
        name=p.text("name") or "",
        email=email_input(p) or "",
        note=p.text("note") or "",
        created_by="elite-key",
    )
    result = await _device_result(ctx, kind, ident, "Device created")
    ctx.changes = obj.diff(None, result["device"])
    return result


@action("device", "list")
async def device_list(ctx: Context) -> Result:
    p = ctx.params
    kind = p.text("device_type")
    if kind:
        kind = kind.strip().lower()
        if kind not in admin.DEVICE_TYPES:
            raise bad("device_type", "device_type must be motherboard or processor")
    page = await views_users.list_devices(
        ctx.rt,
        ctx.aid,
        device_type=kind or None,
        subscription=p.text("subscription") or None,
        state=(p.text("state") or "").strip().lower() or None,
        limit=None,
    )
    rows = sorted(page.items, key=lambda d: (d.device_type, d.device_id.casefold()))
    items = [
        {
            "device_id": d.device_id,
            "device_type": d.device_type,
            "name": d.name,
            "activated": d.activated,
            "banned": d.banned,
            "paused": d.paused,
            "subscription_name": d.subscription,
            "expiry_date": obj.date(d.expiry_date),
        }
        for d in rows
    ]
    return {"message": f"{len(items)} devices", "devices": items}


@action("device", "info")
async def device_info(ctx: Context) -> Result:
    kind, ident = _device_key(ctx)
    return await _device_result(ctx, kind, ident, "Device found")


@action("device", "edit")
async def device_edit(ctx: Context) -> Result:
    p = ctx.params
    kind, ident = _device_key(ctx)
    fields: dict[str, Any] = {}
    if p.given("name"):
        fields["name"] = p.text("name") or ""
    email = email_input(p)
    if email is not None:
        fields["email"] = email
    if p.given("note"):
        fields["note"] = p.text("note") or ""
    if "expiry_date" in _keys(p):
        fields["expiry"] = p.date("expiry_date")
    subscription = p.text("subscription")
    if subscription is not None:
        fields["subscription"] = subscription
    if not fields:
        raise missing("name", "give at least one of name, email, subscription, expiry_date, note")
    before = await _device_snapshot(ctx, kind, ident)
    await admin.edit_device(ctx.rt, ctx.aid, kind, ident, **fields)
    result = await _device_result(ctx, kind, ident, "Device updated")
    ctx.changes = obj.diff(before, result["device"])
    return result


@action("device", "delete")
async def device_delete(ctx: Context) -> Result:
    kind, ident = _device_key(ctx)
    await admin.delete_device(ctx.rt, ctx.aid, kind, ident)
    ctx.changes = {"deleted": [False, True]}
    return {"message": "Device deleted"}


@action("device", "reset")
async def device_reset(ctx: Context) -> Result:
    kind, ident = _device_key(ctx)
    before = await _device_snapshot(ctx, kind, ident)
    await admin.reset_device(ctx.rt, ctx.aid, kind, ident)
    result = await _device_result(ctx, kind, ident, "Device reset")
    ctx.changes = obj.diff(before, result["device"])
    return result


async def _device_state(ctx: Context, verb: str) -> Result:
    kind, ident = _device_key(ctx)
    before = await _device_snapshot(ctx, kind, ident)
    change = {
        "ban": admin.ban_device,
        "unban": admin.unban_device,
        "pause": admin.pause_device,
        "unpause": admin.unpause_device,
    }[verb]
    reason = (ctx.params.text("reason") or "") if verb == "ban" else ""
    await change(ctx.rt, ctx.aid, kind, ident, reason)
    past = f"{verb}ned" if verb.endswith("ban") else f"{verb}d"
    result = await _device_result(ctx, kind, ident, f"Device {past}")
    ctx.changes = obj.diff(before, result["device"])
    return result


@action("device", "ban")
async def device_ban(ctx: Context) -> Result:
    return await _device_state(ctx, "ban")


@action("device", "unban")
async def device_unban(ctx: Context) -> Result:
    return await _device_state(ctx, "unban")


@action("device", "pause")
async def device_pause(ctx: Context) -> Result:
    return await _device_state(ctx, "pause")


@action("device", "unpause")
async def device_unpause(ctx: Context) -> Result:
    return await _device_state(ctx, "unpause")


async def _device_shift(ctx: Context, sign: int) -> Result:
    kind, ident = _device_key(ctx)
    days, expiry = shift_inputs(ctx.params)
    before = await _device_snapshot(ctx, kind, ident)
    shift = admin.extend_device if sign > 0 else admin.shorten_device
    await shift(ctx.rt, ctx.aid, kind, ident, days=days, expires=expiry)
    result = await _device_result(
        ctx, kind, ident, "Device extended" if sign > 0 else "Device shortened"
    )
    ctx.changes = obj.diff(before, result["device"])
    return result


@action("device", "extend")
async def device_extend(ctx: Context) -> Result:
    return await _device_shift(ctx, 1)


@action("device", "shorten")
async def device_shorten(ctx: Context) -> Result:
    return await _device_shift(ctx, -1)


# -- variable ----------------------------------------------------------------------------


def _var_name(ctx: Context) -> str:
    p = ctx.params
    name = p.text("key") if p.given("key") else p.text("var_key")
    if name is None or not name.strip():
        raise missing("key")
    ctx.on("variable", trim(name))
    return trim(name)


def _var(row: Any) -> dict[str, Any]:
    return {
        "key": row.key,
        "value": row.value,
        "writable": bool(row.writable),
        "auth_required": bool(row.auth_required),
        "updated_at": obj.date(row.updated_at),
    }


async def _find_var(ctx: Context, name: str) -> Any:
    try:
        return await admin.get_variable(ctx.rt, ctx.aid, name)
    except AdminError as exc:
        if exc.code == "VARIABLE_NOT_FOUND":
            return None
        raise


@action("variable", "list")
async def variable_list(ctx: Context) -> Result:
    rows = await admin.list_variables(ctx.rt, ctx.aid)
    return {"message": f"{len(rows)} variables", "variables": [_var(r) for r in rows]}


@action("variable", "get")
async def variable_get(ctx: Context) -> Result:
    name = _var_name(ctx)
    return {
        "message": "Variable found",
        "variable": _var(await admin.get_variable(ctx.rt, ctx.aid, name)),
    }


@action("variable", "set")
async def variable_set(ctx: Context) -> Result:
    p = ctx.params
    name = _var_name(ctx)
    if not p.given("value"):
        raise missing("value")
    value = p.text("value") or ""
    before = await _find_var(ctx, name)
    saved = await admin.set_variable(
        ctx.rt,
        ctx.aid,
        name,
        value,
        p.boolean("writable"),
        p.boolean("auth_required"),
        updated_by="elite-key",
    )
    after = await admin.get_variable(ctx.rt, ctx.aid, saved.key)
    ctx.changes = obj.diff(_var(before) if before else None, _var(after))
    ctx.changes.pop("updated_at", None)
    out: Result = {
        "message": "Variable created" if saved.created else "Variable updated",
        "variable": _var(after),
    }
    if saved.warnings:
        out["warnings"] = saved.warnings
    return out


@action("variable", "delete")
async def variable_delete(ctx: Context) -> Result:
    name = _var_name(ctx)
    await admin.delete_variable(ctx.rt, ctx.aid, name)
    ctx.changes = {"deleted": [False, True]}
    return {"message": "Variable deleted"}


# -- version -----------------------------------------------------------------------------


def _rule(row: Any) -> dict[str, Any]:
    return {
        "version": row.version,
        "mode": row.mode,
        "allowed_until": obj.date(row.allowed_until),
    }


_VERSION_SETTINGS = (
    "latest_version",
    "download_url",
    "auto_update_enabled",
    "reminder_message",
    "changelog",
)


@action("version", "add")
async def version_add(ctx: Context) -> Result:
    p = ctx.params
    version = p.req("version")
    ctx.on("version", version)
    rule = await admin.add_version_rule(
        ctx.rt, ctx.aid, version, p.text("mode") or "allow", p.date("allowed_until")
    )
    ctx.changes = obj.diff(None, _rule(rule))
    return {"message": "Version rule added", "version": _rule(rule)}


@action("version", "edit")
async def version_edit(ctx: Context) -> Result:
    p = ctx.params
    version = trim(p.req("version"))
    ctx.on("version", version)
    mode = p.text("mode")
    until = p.date("allowed_until")
    if mode is None and until is None:
        raise missing("mode", "give mode or allowed_until")
    before, after = await admin.edit_version_rule(
        ctx.rt, ctx.aid, version, mode=mode, allowed_until=until
    )
    ctx.changes = obj.diff(_rule(before), _rule(after))
    return {"message": "Version rule updated", "version": _rule(after)}


@action("version", "remove")
async def version_remove(ctx: Context) -> Result:
    version = ctx.params.req("version")
    ctx.on("version", version)
    await admin.remove_version_rule(ctx.rt, ctx.aid, version)
    ctx.changes = {"deleted": [False, True]}
    return {"message": "Version rule removed"}


def _version_settings(app: Any) -> dict[str, Any]:
    return {
        "latest_version": app["latest_version"],
        "download_url": app["download_url"],
        "auto_update_enabled": bool(app["auto_update_enabled"]),
        "reminder_message": app["reminder_message"],
        "changelog": app["changelog"],
    }


@action("version", "list")
async def version_list(ctx: Context) -> Result:
    rows = await admin.list_version_rules(ctx.rt, ctx.aid)
    settings = await admin.get_app_settings(ctx.rt, ctx.aid)
    return {
        "message": f"{len(rows)} version rules",
        "versions": [_rule(r) for r in rows],
        "settings": _version_settings(settings),
    }


@action("version", "settings")
async def version_settings(ctx: Context) -> Result:
    p = ctx.params
    wanted: dict[str, object] = {}
    for name in _VERSION_SETTINGS:
        if p.given(name) or (p.raw(name) == "" and name != "auto_update_enabled"):
            if name == "auto_update_enabled":
                wanted[name] = bool(p.boolean(name))
            else:
                wanted[name] = p.text(name) or ""
    if not wanted:
        raise missing("latest_version", "give at least one of " + ", ".join(_VERSION_SETTINGS))
    ctx.on("app", "version settings")
    before = _version_settings(await admin.get_app_settings(ctx.rt, ctx.aid))
    changed = await admin.set_version_settings(ctx.rt, ctx.aid, wanted)
    after = _version_settings(await admin.get_app_settings(ctx.rt, ctx.aid))
    ctx.changes = obj.diff(before, after)
    out: Result = {"message": "Version settings updated", "settings": after}
    warnings = [w for c in changed for w in c.warnings]
    if warnings:
        out["warnings"] = warnings
    return out


# -- response (custom messages) ------------------------------------------------------------


def _response(message: Any) -> dict[str, Any]:
    return {"code": message.code, "message": message.message, "is_default": message.is_default}


@action("response", "set")
async def response_set(ctx: Context) -> Result:
    p = ctx.params
    code = p.req("code")
    ctx.on("response", code)
    saved = await admin.set_custom_message(ctx.rt, ctx.aid, code, p.req("message"))
    ctx.changes = {"message": [None, saved.message]}
    return {"message": "Response updated", "response": _response(saved)}


@action("response", "reset")
async def response_reset(ctx: Context) -> Result:
    code = ctx.params.req("code")
    ctx.on("response", code)
    saved = await admin.reset_custom_message(ctx.rt, ctx.aid, code)
    ctx.changes = {"message": [None, saved.message]}
    return {"message": "Response reset", "response": _response(saved)}


@action("response", "list")
async def response_list(ctx: Context) -> Result:
    items = [
        {
            "code": m.code,
            "category": m.category,
            "default_message": m.default_message,
            "message": m.message,
            "is_default": m.is_default,
        }
        for m in await admin.list_custom_messages(ctx.rt, ctx.aid)
    ]
    return {"message": f"{len(items)} responses", "responses": items}


# -- hash --------------------------------------------------------------------------------


def _hash(row: Any) -> dict[str, Any]:
    return {"hash": row.hash, "note": row.note, "created_at": obj.date(row.created_at)}


@action("hash", "register")
async def hash_register(ctx: Context) -> Result:
    p = ctx.params
    value = p.req("hash")
    ctx.on("hash", value.strip().lower())
    saved = await admin.add_allowed_hash(ctx.rt, ctx.aid, value, p.text("note") or "")
    ctx.changes = {"hash": [None, saved.hash]}
    row = await admin.get_allowed_hash(ctx.rt, ctx.aid, saved.hash)
    return {"message": "Hash registered", "hash": _hash(row)}


@action("hash", "list")
async def hash_list(ctx: Context) -> Result:
    hash_check, rows = await admin.list_allowed_hashes(ctx.rt, ctx.aid)
    return {
        "message": f"{len(rows)} hashes",
        "hashes": [_hash(r) for r in rows],
        "hash_check": hash_check,
    }


@action("hash", "remove")
async def hash_remove(ctx: Context) -> Result:
    value = ctx.params.req("hash")
    ctx.on("hash", value.strip().lower())
    await admin.remove_allowed_hash(ctx.rt, ctx.aid, value)
    ctx.changes = {"deleted": [False, True]}
    return {"message": "Hash removed"}


__all__ = ["NULL", "ActionSpec", "Context", "lookup"]
