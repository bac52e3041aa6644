"""Function/action dispatch of the Elite Key API (management A.7).

Each handler reads its parameters from `Context.params`, calls the admin service the other
faces use (or, where none exists yet, a scoped SQLAlchemy Core query in this package), and
returns the response fields besides `success`. Handlers set `Context.target*` and
`Context.changes` for the audit entry the router writes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from licentia.api.elite import objects as obj
from licentia.api.elite.params import NULL, Params, bad, missing
from licentia.services import admin
from licentia.services.admin_common import (
    MAX_DAYS,
    AdminError,
    bump_config_rev,
    check_email,
    check_length,
    check_norm_length,
    check_note,
    check_sdk_safe,
    end_sessions,
    norm,
    require_subscription,
    trim,
)
from licentia.services.admin_rules import default_text
from licentia.services.audit import Actor
from licentia.services.credentials import ElitePrincipal
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    accounts,
    allowed_hashes,
    apps,
    auth_events,
    bindings,
    custom_messages,
    devices,
    licenses,
    subscriptions,
    users,
    variables,
    version_rules,
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
    unsupported: bool = False


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


def shifted(current: datetime | None, days: int | None, expiry: datetime | None, sign: int) -> Any:
    if current is None:
        raise bad("days", "a lifetime term cannot be extended or shortened")
    if expiry is not None:
        return expiry
    assert days is not None
    return current + sign * timedelta(days=days)


# -- app ---------------------------------------------------------------------------------


@action("app", "list", app_scoped=False)
async def app_list(ctx: Context) -> Result:
    async with ctx.rt.db.read() as conn:
        names = (
            await conn.execute(
                select(apps.c.name).where(apps.c.owner_account_id == ctx.principal.account_id)
            )
        ).scalars()
        result = sorted(names)
    return {"message": f"{len(result)} apps", "apps": result}


async def _count(conn: Any, table: Any, app_id: str) -> int:
    return int(
        (
            await conn.execute(
                select(func.count()).select_from(table).where(table.c.app_id == app_id)
            )
        ).scalar_one()
    )


@action("app", "info")
async def app_info(ctx: Context) -> Result:
    assert ctx.app is not None
    async with ctx.rt.db.read() as conn:
        plan = (
            await conn.execute(
                select(accounts.c.plan_label).where(accounts.c.id == ctx.principal.account_id)
            )
        ).scalar_one()
        counts = {
            name: await _count(conn, table, ctx.aid)
            for name, table in (
                ("total_users", users),
                ("total_licenses", licenses),
                ("total_devices", devices),
                ("total_subscriptions", subscriptions),
                ("total_variables", variables),
            )
        }
    return {
        "message": "App found",
        "app_name": ctx.app.name,
        **counts,
        "plan_name": plan,
        "is_enabled": bool(ctx.app.is_enabled),
        "user_panel_enabled": bool(ctx.app.user_panel_enabled),
    }


@action("app", "usage")
async def app_usage(ctx: Context) -> Result:
    today = ctx.now().replace(hour=0, minute=0, second=0, microsecond=0)
    series = []
    async with ctx.rt.db.read() as conn:
        for back in range(6, -1, -1):
            start = today - timedelta(days=back)
            count = (
                await conn.execute(
                    select(func.count())
                    .select_from(auth_events)
                    .where(
                        and_(
                            auth_events.c.app_id == ctx.aid,
                            auth_events.c.created_at >= start,
                            auth_events.c.created_at < start + timedelta(days=1),
                        )
                    )
                )
            ).scalar_one()
            series.append({"date": start.strftime("%Y-%m-%d"), "count": int(count)})
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
    async with ctx.rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(subscriptions)
                .where(subscriptions.c.app_id == ctx.aid)
                .order_by(subscriptions.c.level, subscriptions.c.name)
            )
        ).all()
    return {"message": f"{len(rows)} subscriptions", "subscriptions": [_sub(r) for r in rows]}


@action("subscription", "create")
async def subscription_create(ctx: Context) -> Result:
    name = ctx.params.req("name")
    level = ctx.params.integer("level", default=1)
    ctx.on("subscription", name)
    sub = await admin.create_subscription(ctx.rt, ctx.aid, name, level if level is not None else 1)
    ctx.changes = {"name": [None, sub.name], "level": [None, sub.level]}
    return {"message": "Subscription created", "subscription": _sub(sub)}


def _check_sub_name(value: str, field_name: str) -> str:
    text = trim(value)
    check_length(text, field_name, low=1, high=64)
    check_sdk_safe(text, field_name)
    check_norm_length(text, field_name, 64)
    return text


@action("subscription", "edit")
async def subscription_edit(ctx: Context) -> Result:
    p = ctx.params
    name = p.req("name")
    new_name = p.text("new_name")
    level = p.integer("level")
    if new_name is None and level is None:
        raise missing("new_name", "give new_name or level")
    renamed = _check_sub_name(new_name, "new_name") if new_name is not None else None
    ctx.on("subscription", name)
    try:
        async with ctx.rt.db.write() as conn:
            row = await require_subscription(conn, ctx.aid, name)
            values: dict[str, Any] = {}
            if renamed is not None and renamed != row.name:
                if norm(renamed) != row.name_norm:
                    taken = await admin.find_subscription(conn, ctx.aid, renamed)
                    if taken is not None:
                        raise AdminError(
                            "ALREADY_EXISTS", f"a subscription named {renamed!r} exists"
                        )
                values.update(name=renamed, name_norm=norm(renamed))
            if level is not None and level != row.level:
                values["level"] = level
            if values:
                await conn.execute(
                    update(subscriptions).where(subscriptions.c.id == row.id).values(values)
                )
            after = {"name": values.get("name", row.name), "level": values.get("level", row.level)}
    except IntegrityError:
        raise AdminError("ALREADY_EXISTS", "a subscription with that name exists") from None
    ctx.changes = obj.diff(_sub(row), after)
    return {"message": "Subscription updated", "subscription": after}


@action("subscription", "delete")
async def subscription_delete(ctx: Context) -> Result:
    p = ctx.params
    name = p.req("name")
    reassign = p.text("reassign_to")
    ctx.on("subscription", name)
    async with ctx.rt.db.write() as conn:
        row = await require_subscription(conn, ctx.aid, name)
        target = None
        if reassign:
            target = await admin.find_subscription(conn, ctx.aid, reassign)
            if target is None:
                raise AdminError(
                    "SUBSCRIPTION_NOT_FOUND",
                    f"no subscription named {reassign!r} in this app",
                    ["reassign_to"],
                )
            if target.id == row.id:
                raise bad("reassign_to", "reassign_to must name another subscription")
        used = 0
        for table in (licenses, users, devices):
            used += int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(table)
                        .where(table.c.subscription_id == row.id)
                    )
                ).scalar_one()
            )
        if used and target is None:
            raise AdminError(
                "IN_USE",
                f"{used} licenses, users or devices use this subscription; give reassign_to",
                ["name"],
            )
        if target is not None:
            for table in (licenses, users, devices):
                await conn.execute(
                    update(table)
                    .where(table.c.subscription_id == row.id)
                    .values(subscription_id=target.id)
                )
        await conn.execute(delete(subscriptions).where(subscriptions.c.id == row.id))
    ctx.changes = {"subscription": [row.name, None]}
    if target is not None:
        ctx.changes["reassigned_to"] = [None, target.name]
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
    keys = await admin.generate_licenses(
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
        created_by="elite-key",
    )
    ctx.on("license", f"{len(keys)} keys")
    ctx.changes = {"count": [None, len(keys)], "subscription": [None, subscription]}
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
    values: dict[str, Any] = {}
    if p.given("note"):
        values["note"] = check_note(p.text("note") or "")
    if p.given("device_limit"):
        values["device_limit"] = p.integer("device_limit", low=0)
    email = email_input(p)
    if email is not None:
        values["email"] = check_email(email)
    term_given = p.given("duration_days") or "expiry_date" in _keys(p)
    subscription = p.text("subscription")
    if not values and subscription is None and not term_given:
        raise missing("note", "give at least one of note, device_limit, subscription")
    before = await _license_snapshot(ctx, key)
    async with ctx.rt.db.write() as conn:
        row = await obj.require_license(conn, ctx.aid, key)
        if subscription is not None:
            values["subscription_id"] = (await require_subscription(conn, ctx.aid, subscription)).id
        if term_given:
            if row.status != "unused":
                raise bad("expiry_date", "the term can only be changed while the key is unused")
            days, expires, _lifetime = term_inputs(p)
            values["duration_days"] = days if days is not None else (0 if expires is None else None)
            values["fixed_expiry"] = expires
        if values:
            await conn.execute(update(licenses).where(licenses.c.id == row.id).values(values))
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
    async with ctx.rt.db.write() as conn:
        row = await obj.require_license(conn, ctx.aid, key)
        values: dict[str, Any] = {}
        if row.status == "unused":
            if row.fixed_expiry is not None:
                values["fixed_expiry"] = shifted(row.fixed_expiry, days, expiry, sign)
            elif not row.duration_days:
                raise bad("days", "a lifetime key cannot be extended or shortened")
            elif expiry is not None:
                values.update(fixed_expiry=expiry, duration_days=None)
            else:
                assert days is not None
                values["duration_days"] = min(MAX_DAYS, max(1, row.duration_days + sign * days))
        else:
            values["expires_at"] = shifted(row.expires_at, days, expiry, sign)
        await conn.execute(update(licenses).where(licenses.c.id == row.id).values(values))
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


async def _reset_bindings(conn: Any, table: Any, kind: str, holder_id: str) -> None:
    await conn.execute(
        delete(bindings).where(
            and_(bindings.c.holder_kind == kind, bindings.c.holder_id == holder_id)
        )
    )
    await conn.execute(update(table).where(table.c.id == holder_id).values(last_sid="", last_ip=""))


@action("license", "reset_hwid")
async def license_reset_hwid(ctx: Context) -> Result:
    key = ctx.params.req("license_key")
    ctx.on("license", key)
    before = await _license_snapshot(ctx, key)
    async with ctx.rt.db.write() as conn:
        row = await obj.require_license(conn, ctx.aid, key)
        await _reset_bindings(conn, licenses, "license", row.id)
        if row.status == "used" and row.used_by_user_id:
            await _reset_bindings(conn, users, "user", row.used_by_user_id)
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
    values: dict[str, Any] = {}
    email = email_input(p)
    if email is not None:
        values["email"] = check_email(email)
    if p.given("device_limit"):
        values["device_limit"] = p.integer("device_limit", low=0)
    if p.given("note"):
        values["note"] = check_note(p.text("note") or "")
    if "expiry_date" in _keys(p):
        values["expires_at"] = p.date("expiry_date")
    subscription = p.text("subscription")
    if not values and subscription is None:
        raise missing(
            "email", "give at least one of email, subscription, device_limit, expiry_date, note"
        )
    before = await _user_snapshot(ctx, username)
    async with ctx.rt.db.write() as conn:
        row = await obj.require_user(conn, ctx.aid, username)
        if subscription is not None:
            values["subscription_id"] = (await require_subscription(conn, ctx.aid, subscription)).id
        await conn.execute(update(users).where(users.c.id == row.id).values(values))
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
    async with ctx.rt.db.write() as conn:
        row = await obj.require_user(conn, ctx.aid, username)
        await conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(expires_at=shifted(row.expires_at, days, expiry, sign))
        )
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
    if not 1 <= len(password) <= 256:
        raise bad("new_password", "new_password must be 1 to 256 characters")
    ctx.on("user", username)
    async with ctx.rt.db.read() as conn:
        await obj.require_user(conn, ctx.aid, username)
    digest = await ctx.rt.passwords.hash(password)
    now = ctx.now()
    async with ctx.rt.db.write() as conn:
        row = await obj.require_user(conn, ctx.aid, username)
        await conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(password_hash=digest, password_changed_at=now)
        )
        await end_sessions(conn, "user", row.id, "password_reset", now)
    ctx.changes = {"password": ["changed", "changed"]}
    return await _user_result(ctx, username, "Password reset")


@action("user", "verify_password")
async def user_verify_password(ctx: Context) -> Result:
    p = ctx.params
    username = p.req("username")
    password = p.req("password")
    ctx.on("user", username)
    async with ctx.rt.db.read() as conn:
        row = await obj.find_user(conn, ctx.aid, username)
    ok = await ctx.rt.passwords.verify(row.password_hash if row is not None else None, password)
    if row is None:
        raise AdminError("USER_NOT_FOUND", "user not found in this app", ["username"])
    if not ok:
        raise AdminError("INVALID_PASSWORD", "the password is wrong", ["password"])
    return {
        "message": "Password is valid",
        "valid": True,
        "username": row.username,
        "subscription": row.subscription_name,
        "expiry": obj.date(row.expires_at),
        "banned": bool(row.banned),
        "paused": bool(row.paused),
    }


@action("user", "reset_hwid")
async def user_reset_hwid(ctx: Context) -> Result:
    username = ctx.params.req("username")
    ctx.on("user", username)
    before = await _user_snapshot(ctx, username)
    async with ctx.rt.db.write() as conn:
        row = await obj.require_user(conn, ctx.aid, username)
        await _reset_bindings(conn, users, "user", row.id)
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


_DEVICE_STATES = ("active", "banned", "paused", "expired", "unactivated")


@action("device", "list")
async def device_list(ctx: Context) -> Result:
    p = ctx.params
    now = ctx.now()
    query = obj.device_query().where(devices.c.app_id == ctx.aid)
    async with ctx.rt.db.read() as conn:
        subscription = p.text("subscription")
        if subscription:
            sub = await require_subscription(conn, ctx.aid, subscription)
            query = query.where(devices.c.subscription_id == sub.id)
        kind = p.text("device_type")
        if kind:
            kind = kind.strip().lower()
            if kind not in admin.DEVICE_TYPES:
                raise bad("device_type", "device_type must be motherboard or processor")
            query = query.where(devices.c.device_type == kind)
        state = (p.text("state") or "").strip().lower()
        if state and state not in _DEVICE_STATES:
            raise bad("state", "state must be one of " + ", ".join(_DEVICE_STATES))
        if state == "banned":
            query = query.where(devices.c.banned.is_(True))
        elif state == "paused":
            query = query.where(devices.c.paused.is_(True))
        elif state == "unactivated":
            query = query.where(devices.c.activated.is_(False))
        elif state == "expired":
            query = query.where(
                and_(devices.c.expires_at.is_not(None), devices.c.expires_at <= now)
            )
        elif state == "active":
            query = query.where(
                and_(
                    devices.c.activated.is_(True),
                    devices.c.banned.is_(False),
                    devices.c.paused.is_(False),
                    (devices.c.expires_at.is_(None)) | (devices.c.expires_at > now),
                )
            )
        rows = (
            await conn.execute(query.order_by(devices.c.device_type, devices.c.device_id_norm))
        ).all()
    items = [
        {
            "device_id": r.device_id,
            "device_type": r.device_type,
            "name": r.name,
            "activated": bool(r.activated),
            "banned": bool(r.banned),
            "paused": bool(r.paused),
            "subscription_name": r.subscription_name,
            "expiry_date": obj.date(r.expires_at),
        }
        for r in rows
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
    values: dict[str, Any] = {}
    if p.given("name"):
        name = p.text("name") or ""
        check_length(name, "name", low=0, high=128)
        values["name"] = name
    email = email_input(p)
    if email is not None:
        values["email"] = check_email(email)
    if p.given("note"):
        values["note"] = check_note(p.text("note") or "")
    if "expiry_date" in _keys(p):
        values["expires_at"] = p.date("expiry_date")
    subscription = p.text("subscription")
    if not values and subscription is None:
        raise missing("name", "give at least one of name, email, subscription, expiry_date, note")
    before = await _device_snapshot(ctx, kind, ident)
    async with ctx.rt.db.write() as conn:
        row = await obj.require_device(conn, ctx.aid, kind, ident)
        if subscription is not None:
            values["subscription_id"] = (await require_subscription(conn, ctx.aid, subscription)).id
        await conn.execute(update(devices).where(devices.c.id == row.id).values(values))
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
    async with ctx.rt.db.write() as conn:
        row = await obj.require_device(conn, ctx.aid, kind, ident)
        await conn.execute(
            update(devices).where(devices.c.id == row.id).values(hwid="", last_ip="")
        )
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
    async with ctx.rt.db.write() as conn:
        row = await obj.require_device(conn, ctx.aid, kind, ident)
        await conn.execute(
            update(devices)
            .where(devices.c.id == row.id)
            .values(expires_at=shifted(row.expires_at, days, expiry, sign))
        )
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
    async with ctx.rt.db.read() as conn:
        return (
            await conn.execute(
                select(variables).where(
                    and_(variables.c.app_id == ctx.aid, variables.c.key == name)
                )
            )
        ).first()


@action("variable", "list")
async def variable_list(ctx: Context) -> Result:
    async with ctx.rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(variables).where(variables.c.app_id == ctx.aid).order_by(variables.c.key)
            )
        ).all()
    return {"message": f"{len(rows)} variables", "variables": [_var(r) for r in rows]}


@action("variable", "get")
async def variable_get(ctx: Context) -> Result:
    name = _var_name(ctx)
    row = await _find_var(ctx, name)
    if row is None:
        raise AdminError("VARIABLE_NOT_FOUND", "variable not found in this app", ["key"])
    return {"message": "Variable found", "variable": _var(row)}


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
    after = await _find_var(ctx, saved.key)
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


async def _version_rows(ctx: Context, conn: Any) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(version_rules)
                .where(version_rules.c.app_id == ctx.aid)
                .order_by(version_rules.c.created_at)
            )
        ).all()
    )


@action("version", "edit")
async def version_edit(ctx: Context) -> Result:
    from licentia.domain.versions import version_key
    from licentia.services.admin_rules import _MODE_SYNONYMS, VERSION_MODES

    p = ctx.params
    version = trim(p.req("version"))
    ctx.on("version", version)
    mode = p.text("mode")
    until = p.date("allowed_until")
    if mode is None and until is None:
        raise missing("mode", "give mode or allowed_until")
    async with ctx.rt.db.write() as conn:
        key = version_key(version)
        rows = [r for r in await _version_rows(ctx, conn) if version_key(r.version) == key]
        if not rows:
            raise AdminError("VERSION_NOT_FOUND", "no rule for this version", ["version"])
        row = rows[0]
        wanted = row.mode
        if mode is not None:
            wanted = _MODE_SYNONYMS.get(mode.strip().lower(), mode.strip().lower())
            if wanted not in VERSION_MODES:
                raise bad("mode", "mode must be allow, reminder, grace or block")
        new_until = until if until is not None else row.allowed_until
        if wanted != "grace":
            if until is not None:
                raise bad("allowed_until", "only a grace rule takes allowed_until")
            new_until = None
        elif new_until is None:
            raise bad("allowed_until", "a grace rule needs allowed_until")
        await conn.execute(
            update(version_rules)
            .where(version_rules.c.id == row.id)
            .values(mode=wanted, allowed_until=new_until)
        )
        await bump_config_rev(conn, ctx.aid)
    after = {"version": row.version, "mode": wanted, "allowed_until": obj.date(new_until)}
    ctx.changes = obj.diff(_rule(row), after)
    return {"message": "Version rule updated", "version": after}


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
    async with ctx.rt.db.read() as conn:
        rows = await _version_rows(ctx, conn)
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
    changed = await admin.set_app_settings(ctx.rt, ctx.aid, wanted)
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
    async with ctx.rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(custom_messages.c.code, custom_messages.c.message).where(
                    custom_messages.c.app_id == ctx.aid
                )
            )
        ).all()
    custom = {r.code: r.message for r in rows}
    items = []
    for code in admin.custom_message_codes():
        default = default_text(code)
        message = custom.get(code, default)
        items.append(
            {
                "code": code,
                "category": "success" if code.startswith("OK.") else "error",
                "default_message": default,
                "message": message,
                "is_default": message == default,
            }
        )
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
    async with ctx.rt.db.read() as conn:
        row = (
            await conn.execute(select(allowed_hashes).where(allowed_hashes.c.id == saved.id))
        ).first()
    ctx.changes = {"hash": [None, saved.hash]}
    return {"message": "Hash registered", "hash": _hash(row)}


@action("hash", "list")
async def hash_list(ctx: Context) -> Result:
    assert ctx.app is not None
    async with ctx.rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(allowed_hashes)
                .where(allowed_hashes.c.app_id == ctx.aid)
                .order_by(allowed_hashes.c.created_at, allowed_hashes.c.hash)
            )
        ).all()
    return {
        "message": f"{len(rows)} hashes",
        "hashes": [_hash(r) for r in rows],
        "hash_check": bool(ctx.app.hash_check),
    }


@action("hash", "remove")
async def hash_remove(ctx: Context) -> Result:
    value = ctx.params.req("hash")
    ctx.on("hash", value.strip().lower())
    await admin.remove_allowed_hash(ctx.rt, ctx.aid, value)
    ctx.changes = {"deleted": [False, True]}
    return {"message": "Hash removed"}


# -- staff and reseller: account kinds that do not exist yet -------------------------------


async def _unsupported(ctx: Context) -> Result:  # pragma: no cover - never dispatched
    raise AdminError("INVALID_ACTION", f"{ctx.capability} is not supported")


for _function, _actions in (
    ("staff", "roles add edit ban unban list remove"),
    ("reseller", "rate_plans add edit ban unban coins list"),
):
    for _name in _actions.split():
        _REGISTRY[(_function, _name)] = ActionSpec(
            run=_unsupported, mutating=_name not in _READS, app_scoped=False, unsupported=True
        )

__all__ = ["NULL", "ActionSpec", "Context", "lookup"]
