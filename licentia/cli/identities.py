"""CLI commands for end users, bound devices (bindings), hardware devices and client sessions.

Every command calls the same service as the REST and Elite Key faces. A change runs in one
write transaction together with its audit entry (actor `cli`, face `cli`), so an entry exists
exactly when the change was committed. Passwords are read with `read_secret` (option, hidden
prompt, or one line of stdin) and never echoed.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from sqlalchemy import select

from licentia.cli._support import (
    console,
    emit_json,
    guard,
    jsonable,
    parse_when,
    read_secret,
    run,
    show,
    stderr_is_tty,
    usage,
)
from licentia.cli.groups import (
    AppOpt,
    JsonOpt,
    ReasonOpt,
    binding_app,
    device_app,
    session_app,
    user_app,
)
from licentia.cli.outputs import export_text
from licentia.domain.timeutil import iso_z
from licentia.services import admin, audit, transfer_identities, views_users
from licentia.services.admin_identities import UNSET
from licentia.services.runtime import Runtime
from licentia.store.tables import apps

T = TypeVar("T")

UsernameArg = Annotated[str, typer.Argument(help="Username (case-insensitive).")]
DeviceTypeOpt = Annotated[str, typer.Option("--type", help="motherboard or processor.")]
DeviceIdOpt = Annotated[str, typer.Option("--id", help="Device id (case-insensitive).")]
DaysOpt = Annotated[int | None, typer.Option("--days", help="Move the expiry by days.")]
ExpiresOpt = Annotated[str | None, typer.Option("--expires", help="A new expiry date (ISO 8601).")]
CursorOpt = Annotated[str | None, typer.Option("--cursor", help="next_cursor of a page.")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=500, help="Items per page.")]
FormatOpt = Annotated[str, typer.Option("--format", help="csv or json.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", help="Write to this file instead of stdout.")
]
FileArg = Annotated[Path, typer.Argument(help="CSV file to import ('-' = stdin).")]


# -- plumbing ----------------------------------------------------------------------------


async def _audited(
    rt: Runtime,
    app_id: str,
    capability: str,
    target_type: str,
    target: Callable[[T], str],
    work: Callable[[], Awaitable[T]],
    changes: Callable[[T], dict[str, Any]],
) -> T:
    """Run `work` and write its audit entry in one transaction (no entry when nothing
    changed, as for an idempotent repeat)."""
    async with rt.db.write() as conn:
        result = await work()
        diff = changes(result)
        if diff:
            owner = (
                await conn.execute(select(apps.c.owner_account_id).where(apps.c.id == app_id))
            ).scalar_one_or_none()
            await audit.record_as(
                conn,
                audit.CLI_ACTOR,
                now=rt.clock(),
                owner_account_id=owner,
                capability=capability,
                target_type=target_type,
                target=target(result),
                changes=diff,
                app_id=app_id,
            )
    return result


def _shift(json_out: bool, days: int | None, expires: str | None) -> dict[str, Any]:
    if (days is None) == (expires is None):
        usage(json_out, "give exactly one of --days and --expires")
    return {"days": days, "expires": parse_when(json_out, "--expires", expires)}


def _table(columns: Sequence[str], rows: Sequence[dict[str, Any]], empty: str) -> None:
    if not rows:
        console().print(empty)
        return
    table = Table(show_header=True, box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        plain = jsonable(row)
        table.add_row(*("-" if plain.get(c) is None else str(plain.get(c)) for c in columns))
    console().print(table)


def _page(json_out: bool, page: Any, columns: Sequence[str], empty: str) -> None:
    items = [item.as_dict() for item in page.items]
    if json_out:
        emit_json({"items": items, "next_cursor": page.next_cursor})
        return
    _table(columns, items, empty)
    if page.next_cursor is not None:
        console(stderr=True).print(f"more: --cursor {page.next_cursor}")


def _busy(label: str) -> Any:
    """A spinner on stderr while long work runs, only on a terminal (never in JSON output)."""
    if stderr_is_tty():
        return console(stderr=True).status(label)
    return nullcontext()


def _read_file(json_out: bool, path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    return guard(json_out, lambda: path.read_text(encoding="utf-8-sig"))


def _import(
    ctx: typer.Context,
    json_out: bool,
    app_id: str,
    kind: str,
    text: str,
    service: Callable[..., Awaitable[transfer_identities.ImportResult]],
) -> None:
    async def work(rt: Runtime) -> transfer_identities.ImportResult:
        with _busy(f"Importing {kind}s..."):
            return await _audited(
                rt,
                app_id,
                f"{kind}.import",
                kind,
                lambda r: f"import of {r.created} {kind}s",
                lambda: service(rt, app_id, text),
                lambda r: {"created": [None, r.created]},
            )

    result = run(ctx, json_out, work)
    show(json_out, {"app_id": app_id, "action": "import", "created": result.created})


# -- users -------------------------------------------------------------------------------

_USER_COLUMNS = ("username", "subscription", "state", "email", "expiry_date", "last_login")


async def _user(rt: Runtime, app_id: str, username: str) -> dict[str, Any]:
    return (await views_users.get_user(rt, app_id, username)).as_dict()


def _user_change(
    ctx: typer.Context,
    json_out: bool,
    app_id: str,
    username: str,
    capability: str,
    work: Callable[[Runtime, str], Awaitable[Any]],
    extra: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run one change of a user, audited with the before/after of its stored fields."""

    async def go(rt: Runtime) -> dict[str, Any]:
        before = await _user(rt, app_id, username)

        async def change() -> dict[str, Any]:
            await work(rt, before["username"])
            return await _user(rt, app_id, before["username"])

        def diff(after: dict[str, Any]) -> dict[str, Any]:
            out = views_users.changes_between(before, after)
            if extra is not None:
                out.update(extra(before, after))
            return out

        return await _audited(
            rt, app_id, capability, "user", lambda a: str(a["username"]), change, diff
        )

    return run(ctx, json_out, go)


@user_app.command("list")
def user_list(
    ctx: typer.Context,
    app_id: AppOpt,
    state: Annotated[
        str | None, typer.Option("--state", help="active, banned, paused, expired.")
    ] = None,
    subscription: Annotated[str | None, typer.Option("--subscription")] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Username or email prefix.")
    ] = None,
    created_from: Annotated[str | None, typer.Option("--created-from")] = None,
    created_to: Annotated[str | None, typer.Option("--created-to")] = None,
    login_from: Annotated[str | None, typer.Option("--login-from")] = None,
    login_to: Annotated[str | None, typer.Option("--login-to")] = None,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    json_out: JsonOpt = False,
) -> None:
    """List users, newest first (one page; follow --cursor)."""
    ranges = {
        name: parse_when(json_out, f"--{name.replace('_', '-')}", value)
        for name, value in (
            ("created_from", created_from),
            ("created_to", created_to),
            ("login_from", login_from),
            ("login_to", login_to),
        )
    }
    page = run(
        ctx,
        json_out,
        lambda rt: views_users.list_users(
            rt,
            app_id,
            state=state,
            subscription=subscription,
            search=search,
            cursor=cursor,
            limit=limit,
            created_from=ranges["created_from"],
            created_to=ranges["created_to"],
            login_from=ranges["login_from"],
            login_to=ranges["login_to"],
        ),
    )
    _page(json_out, page, _USER_COLUMNS, "no users")


@user_app.command("info")
def user_info(
    ctx: typer.Context, username: UsernameArg, app_id: AppOpt, json_out: JsonOpt = False
) -> None:
    """Show one user."""
    show(json_out, run(ctx, json_out, lambda rt: _user(rt, app_id, username)))


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    app_id: AppOpt,
    username: Annotated[str, typer.Option("--username")],
    subscription: Annotated[str, typer.Option("--subscription")],
    password: Annotated[
        str | None, typer.Option("--password", help="Else prompted, or one line of stdin.")
    ] = None,
    days: Annotated[int | None, typer.Option("--days")] = None,
    expires: Annotated[str | None, typer.Option("--expires")] = None,
    lifetime: Annotated[bool, typer.Option("--lifetime")] = False,
    email: Annotated[str, typer.Option("--email")] = "",
    device_limit: Annotated[int, typer.Option("--device-limit")] = 1,
    note: Annotated[str, typer.Option("--note")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Create an end user (no term given = lifetime)."""
    if sum((days is not None, expires is not None, lifetime)) > 1:
        usage(json_out, "give at most one of --days, --expires and --lifetime")
    when = parse_when(json_out, "--expires", expires)
    secret = read_secret(password, "Password", json_out)

    async def work(rt: Runtime) -> Any:
        async def change() -> Any:
            return await admin.create_user(
                rt,
                app_id,
                username,
                secret,
                subscription,
                days=days,
                expires=when,
                lifetime=lifetime,
                email=email,
                device_limit=device_limit,
                note=note,
            )

        return await _audited(
            rt,
            app_id,
            "user.create",
            "user",
            lambda s: str(s.name),
            change,
            lambda s: {
                "password": [None, "set"],
                "subscription": [None, subscription],
                "expiry_date": [None, s.expires_at],
                "device_limit": [None, device_limit],
            },
        )

    state = run(ctx, json_out, work)
    show(
        json_out,
        {
            "id": state.id,
            "app_id": state.app_id,
            "username": state.name,
            "expiry_date": iso_z(state.expires_at) or None,
        },
    )


@user_app.command("edit")
def user_edit(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    email: Annotated[str | None, typer.Option("--email", help="'' removes the email.")] = None,
    subscription: Annotated[str | None, typer.Option("--subscription")] = None,
    device_limit: Annotated[
        int | None, typer.Option("--device-limit", help="0 = unlimited.")
    ] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="A new expiry date.")] = None,
    lifetime: Annotated[bool, typer.Option("--lifetime", help="Never expires.")] = False,
    note: Annotated[str | None, typer.Option("--note")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a user's email, subscription, device limit, expiry or note."""
    if expires is not None and lifetime:
        usage(json_out, "give --expires or --lifetime, not both")
    fields: dict[str, Any] = {
        "email": UNSET if email is None else email,
        "subscription": UNSET if subscription is None else subscription,
        "device_limit": UNSET if device_limit is None else device_limit,
        "note": UNSET if note is None else note,
        "expiry": None if lifetime else UNSET,
    }
    if expires is not None:
        fields["expiry"] = parse_when(json_out, "--expires", expires)
    out = _user_change(
        ctx,
        json_out,
        app_id,
        username,
        "user.edit",
        lambda rt, name: admin.edit_user(rt, app_id, name, **fields),
    )
    show(json_out, out)


def _user_action(
    ctx: typer.Context, action: str, app_id: str, username: str, reason: str, json_out: bool
) -> None:
    fn = {
        "ban": admin.ban_user,
        "unban": admin.unban_user,
        "pause": admin.pause_user,
        "unpause": admin.unpause_user,
    }[action]
    out = _user_change(
        ctx,
        json_out,
        app_id,
        username,
        f"user.{action}",
        lambda rt, name: fn(rt, app_id, name, reason),
    )
    show(
        json_out,
        {
            "username": out["username"],
            "app_id": app_id,
            "action": action,
            "banned": out["banned"],
            "paused": out["paused"],
        },
    )


@user_app.command("ban")
def user_ban(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Ban a user; ends their sessions."""
    _user_action(ctx, "ban", app_id, username, reason, json_out)


@user_app.command("unban")
def user_unban(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Lift a user's ban."""
    _user_action(ctx, "unban", app_id, username, reason, json_out)


@user_app.command("pause")
def user_pause(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Pause a user (their time stops); ends their sessions."""
    _user_action(ctx, "pause", app_id, username, reason, json_out)


@user_app.command("unpause")
def user_unpause(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Resume a paused user."""
    _user_action(ctx, "unpause", app_id, username, reason, json_out)


@user_app.command("delete")
def user_delete(
    ctx: typer.Context, username: UsernameArg, app_id: AppOpt, json_out: JsonOpt = False
) -> None:
    """Delete a user; ends their sessions (keys they redeemed stay used)."""

    async def work(rt: Runtime) -> None:
        before = await _user(rt, app_id, username)
        await _audited(
            rt,
            app_id,
            "user.delete",
            "user",
            lambda _: str(before["username"]),
            lambda: admin.delete_user(rt, app_id, before["username"]),
            lambda _: {"state": [before["state"], None]},
        )

    run(ctx, json_out, work)
    show(json_out, {"username": username, "app_id": app_id, "action": "delete", "deleted": True})


def _user_shift(
    ctx: typer.Context,
    action: str,
    app_id: str,
    username: str,
    days: int | None,
    expires: str | None,
    json_out: bool,
) -> None:
    args = _shift(json_out, days, expires)
    fn = admin.extend_user if action == "extend" else admin.shorten_user
    out = _user_change(
        ctx, json_out, app_id, username, f"user.{action}", lambda rt, n: fn(rt, app_id, n, **args)
    )
    show(json_out, out)


@user_app.command("extend")
def user_extend(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    days: DaysOpt = None,
    expires: ExpiresOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move a user's expiry later (a lifetime user cannot be extended)."""
    _user_shift(ctx, "extend", app_id, username, days, expires, json_out)


@user_app.command("shorten")
def user_shorten(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    days: DaysOpt = None,
    expires: ExpiresOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move a user's expiry earlier."""
    _user_shift(ctx, "shorten", app_id, username, days, expires, json_out)


@user_app.command("reset-password")
def user_reset_password(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    password: Annotated[
        str | None, typer.Option("--password", help="Else prompted, or one line of stdin.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Set a new password for a user; ends their sessions."""
    secret = read_secret(password, "New password", json_out)
    out = _user_change(
        ctx,
        json_out,
        app_id,
        username,
        "user.reset_password",
        lambda rt, name: admin.reset_user_password(rt, app_id, name, secret),
        extra=lambda _b, _a: {"password": ["set", "set"]},
    )
    show(json_out, {"username": out["username"], "app_id": app_id, "action": "reset-password"})


@user_app.command("verify-password")
def user_verify_password(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    password: Annotated[
        str | None, typer.Option("--password", help="Else prompted, or one line of stdin.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a user's password (exit 1 with INVALID_PASSWORD when wrong)."""
    secret = read_secret(password, "Password", json_out)

    async def work(rt: Runtime) -> dict[str, Any]:
        await admin.verify_user_password(rt, app_id, username, secret)
        return await _user(rt, app_id, username)

    user = run(ctx, json_out, work)
    show(
        json_out,
        {
            "valid": True,
            "username": user["username"],
            "subscription": user["subscription"],
            "expiry": user["expiry_date"],
            "banned": user["banned"],
            "paused": user["paused"],
        },
    )


@user_app.command("reset-hwid")
def user_reset_hwid(
    ctx: typer.Context, username: UsernameArg, app_id: AppOpt, json_out: JsonOpt = False
) -> None:
    """Remove every SID bound to a user and their last IP."""
    out = _user_change(
        ctx,
        json_out,
        app_id,
        username,
        "user.reset_hwid",
        lambda rt, name: admin.reset_bindings(rt, app_id, "user", name),
        extra=lambda b, a: (
            {"bound_devices": [b["current_devices"], 0]} if b["current_devices"] else {}
        ),
    )
    show(json_out, out)


@user_app.command("remove-device")
def user_remove_device(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    sid: Annotated[str, typer.Option("--sid", help="The bound SID to remove.")],
    json_out: JsonOpt = False,
) -> None:
    """Unbind one SID from a user."""
    _binding_remove(ctx, json_out, app_id, "user", username, sid, "user.remove_device")


@user_app.command("sessions")
def user_sessions(
    ctx: typer.Context,
    username: UsernameArg,
    app_id: AppOpt,
    state: Annotated[str | None, typer.Option("--state", help="live, expired or ended.")] = None,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    json_out: JsonOpt = False,
) -> None:
    """List a user's client sessions."""
    page = run(
        ctx,
        json_out,
        lambda rt: views_users.list_sessions(
            rt,
            app_id,
            state=state,
            identity_kind="user",
            identity=username,
            cursor=cursor,
            limit=limit,
        ),
    )
    _page(json_out, page, _SESSION_COLUMNS, "no sessions")


@user_app.command("end-sessions")
def user_end_sessions(
    ctx: typer.Context, username: UsernameArg, app_id: AppOpt, json_out: JsonOpt = False
) -> None:
    """End a user's live sessions."""
    _end_identity(ctx, json_out, app_id, "user", username, "user.end_sessions")


@user_app.command("export")
def user_export(
    ctx: typer.Context,
    app_id: AppOpt,
    fmt: FormatOpt = "csv",
    state: Annotated[str | None, typer.Option("--state")] = None,
    subscription: Annotated[str | None, typer.Option("--subscription")] = None,
    search: Annotated[str | None, typer.Option("--search")] = None,
    output: OutputOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export users as CSV or JSON (to stdout, or --output FILE). No password hashes."""

    async def work(rt: Runtime) -> str:
        with _busy("Exporting users..."):
            return await transfer_identities.export_users(
                rt, app_id, fmt=fmt, state=state, subscription=subscription, search=search
            )

    export_text(json_out, fmt, output, lambda: run(ctx, json_out, work))


@user_app.command("import")
def user_import(
    ctx: typer.Context, file: FileArg, app_id: AppOpt, json_out: JsonOpt = False
) -> None:
    """Import users from CSV: username, subscription, and password_hash (argon2id) or
    password; optional email, expiry_date, device_limit, note. All rows or none."""
    text = _read_file(json_out, file)
    _import(ctx, json_out, app_id, "user", text, transfer_identities.import_users)


# -- bound devices -----------------------------------------------------------------------

_BINDING_COLUMNS = ("holder", "sid", "first_seen_at", "last_seen_at", "last_ip")
HolderUserOpt = Annotated[str | None, typer.Option("--user", help="The holder's username.")]
HolderLicenseOpt = Annotated[str | None, typer.Option("--license", help="The holder's key.")]


def _holder(json_out: bool, user: str | None, license_key: str | None) -> tuple[str, str]:
    if (user is None) == (license_key is None):
        usage(json_out, "give exactly one of --user and --license")
    return ("user", user) if user is not None else ("license", str(license_key))


def _binding_remove(
    ctx: typer.Context,
    json_out: bool,
    app_id: str,
    kind: str,
    name: str,
    sid: str,
    capability: str,
) -> None:
    async def work(rt: Runtime) -> Any:
        return await _audited(
            rt,
            app_id,
            capability,
            kind,
            lambda b: str(b.holder),
            lambda: admin.remove_binding(rt, app_id, kind, name, sid),
            lambda b: {"sid": [b.sid, None]},
        )

    removed = run(ctx, json_out, work)
    show(json_out, {**removed.as_dict(), "app_id": app_id, "action": "remove"})


@binding_app.command("list")
def binding_list(
    ctx: typer.Context,
    app_id: AppOpt,
    user: HolderUserOpt = None,
    license_key: HolderLicenseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the SIDs bound to a user or a license."""
    kind, name = _holder(json_out, user, license_key)
    items = run(ctx, json_out, lambda rt: views_users.list_bindings(rt, app_id, kind, name))
    rows = [b.as_dict() for b in items]
    if json_out:
        emit_json({"items": rows})
        return
    _table(_BINDING_COLUMNS, rows, "no bound devices")


@binding_app.command("remove")
def binding_remove(
    ctx: typer.Context,
    app_id: AppOpt,
    sid: Annotated[str, typer.Option("--sid")],
    user: HolderUserOpt = None,
    license_key: HolderLicenseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Unbind one SID from a user or a license."""
    kind, name = _holder(json_out, user, license_key)
    _binding_remove(ctx, json_out, app_id, kind, name, sid, "binding.remove")


@binding_app.command("reset")
def binding_reset(
    ctx: typer.Context,
    app_id: AppOpt,
    user: HolderUserOpt = None,
    license_key: HolderLicenseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Unbind every SID of a user or a license (the same as reset-hwid)."""
    kind, name = _holder(json_out, user, license_key)

    async def work(rt: Runtime) -> int:
        return await _audited(
            rt,
            app_id,
            "binding.reset",
            kind,
            lambda _: name,
            lambda: admin.reset_bindings(rt, app_id, kind, name),
            lambda n: {"bound_devices": [n, 0]} if n else {},
        )

    removed = run(ctx, json_out, work)
    show(json_out, {"app_id": app_id, "holder_kind": kind, "holder": name, "removed": removed})


# -- hardware devices --------------------------------------------------------------------

_DEVICE_COLUMNS = ("device_type", "device_id", "name", "subscription", "state", "expiry_date")


async def _device(rt: Runtime, app_id: str, device_type: str, device_id: str) -> dict[str, Any]:
    return (await views_users.get_device(rt, app_id, device_type, device_id)).as_dict()


def _device_change(
    ctx: typer.Context,
    json_out: bool,
    app_id: str,
    device_type: str,
    device_id: str,
    capability: str,
    work: Callable[[Runtime, str, str], Awaitable[Any]],
) -> dict[str, Any]:
    async def go(rt: Runtime) -> dict[str, Any]:
        before = await _device(rt, app_id, device_type, device_id)
        kind, ident = before["device_type"], before["device_id"]

        async def change() -> dict[str, Any]:
            await work(rt, kind, ident)
            return await _device(rt, app_id, kind, ident)

        return await _audited(
            rt,
            app_id,
            capability,
            "device",
            lambda _: f"{kind}:{ident}",
            change,
            lambda after: views_users.changes_between(before, after),
        )

    return run(ctx, json_out, go)


@device_app.command("list")
def device_list(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: Annotated[str | None, typer.Option("--type")] = None,
    subscription: Annotated[str | None, typer.Option("--subscription")] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="active, banned, paused, expired, unactivated."),
    ] = None,
    search: Annotated[str | None, typer.Option("--search", help="Device id prefix.")] = None,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    json_out: JsonOpt = False,
) -> None:
    """List hardware devices, newest first (one page; follow --cursor)."""
    page = run(
        ctx,
        json_out,
        lambda rt: views_users.list_devices(
            rt,
            app_id,
            device_type=device_type,
            subscription=subscription,
            state=state,
            search=search,
            cursor=cursor,
            limit=limit,
        ),
    )
    _page(json_out, page, _DEVICE_COLUMNS, "no devices")


@device_app.command("info")
def device_info(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    json_out: JsonOpt = False,
) -> None:
    """Show one hardware device."""
    show(json_out, run(ctx, json_out, lambda rt: _device(rt, app_id, device_type, device_id)))


@device_app.command("create")
def device_create(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    subscription: Annotated[str, typer.Option("--subscription")],
    days: Annotated[int | None, typer.Option("--days")] = None,
    expires: Annotated[str | None, typer.Option("--expires")] = None,
    lifetime: Annotated[bool, typer.Option("--lifetime")] = False,
    name: Annotated[str, typer.Option("--name")] = "",
    email: Annotated[str, typer.Option("--email")] = "",
    note: Annotated[str, typer.Option("--note")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Register a hardware device for device-auth."""
    if sum((days is not None, expires is not None, lifetime)) != 1:
        usage(json_out, "give exactly one of --days, --expires and --lifetime")
    when = parse_when(json_out, "--expires", expires)

    async def work(rt: Runtime) -> Any:
        return await _audited(
            rt,
            app_id,
            "device.create",
            "device",
            lambda s: f"{s.device_type}:{s.name}",
            lambda: admin.create_device(
                rt,
                app_id,
                device_type,
                device_id,
                subscription,
                days=days,
                expires=when,
                lifetime=lifetime,
                name=name,
                email=email,
                note=note,
            ),
            lambda s: {
                "subscription": [None, subscription],
                "name": [None, name],
                "expiry_date": [None, s.expires_at],
            },
        )

    state = run(ctx, json_out, work)
    show(
        json_out,
        {
            "id": state.id,
            "app_id": state.app_id,
            "device_type": state.device_type,
            "device_id": state.name,
            "expiry_date": iso_z(state.expires_at) or None,
        },
    )


@device_app.command("edit")
def device_edit(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    name: Annotated[str | None, typer.Option("--name")] = None,
    email: Annotated[str | None, typer.Option("--email", help="'' removes the email.")] = None,
    subscription: Annotated[str | None, typer.Option("--subscription")] = None,
    expires: Annotated[str | None, typer.Option("--expires")] = None,
    lifetime: Annotated[bool, typer.Option("--lifetime")] = False,
    note: Annotated[str | None, typer.Option("--note")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a device's name, email, subscription, expiry or note."""
    if expires is not None and lifetime:
        usage(json_out, "give --expires or --lifetime, not both")
    fields: dict[str, Any] = {
        "name": UNSET if name is None else name,
        "email": UNSET if email is None else email,
        "subscription": UNSET if subscription is None else subscription,
        "note": UNSET if note is None else note,
        "expiry": None if lifetime else UNSET,
    }
    if expires is not None:
        fields["expiry"] = parse_when(json_out, "--expires", expires)
    out = _device_change(
        ctx,
        json_out,
        app_id,
        device_type,
        device_id,
        "device.edit",
        lambda rt, kind, ident: admin.edit_device(rt, app_id, kind, ident, **fields),
    )
    show(json_out, out)


@device_app.command("delete")
def device_delete(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    json_out: JsonOpt = False,
) -> None:
    """Delete a device; ends its sessions."""

    async def work(rt: Runtime) -> dict[str, Any]:
        before = await _device(rt, app_id, device_type, device_id)
        await _audited(
            rt,
            app_id,
            "device.delete",
            "device",
            lambda _: f"{before['device_type']}:{before['device_id']}",
            lambda: admin.delete_device(rt, app_id, before["device_type"], before["device_id"]),
            lambda _: {"state": [before["state"], None]},
        )
        return before

    before = run(ctx, json_out, work)
    show(
        json_out,
        {
            "app_id": app_id,
            "device_type": before["device_type"],
            "device_id": before["device_id"],
            "action": "delete",
            "deleted": True,
        },
    )


@device_app.command("reset")
def device_reset(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    json_out: JsonOpt = False,
) -> None:
    """Clear a device's recorded hwid and IP (the activation stays)."""
    out = _device_change(
        ctx,
        json_out,
        app_id,
        device_type,
        device_id,
        "device.reset",
        lambda rt, kind, ident: admin.reset_device(rt, app_id, kind, ident),
    )
    show(json_out, out)


def _device_action(
    ctx: typer.Context,
    action: str,
    app_id: str,
    device_type: str,
    device_id: str,
    reason: str,
    json_out: bool,
) -> None:
    fn = {
        "ban": admin.ban_device,
        "unban": admin.unban_device,
        "pause": admin.pause_device,
        "unpause": admin.unpause_device,
    }[action]
    out = _device_change(
        ctx,
        json_out,
        app_id,
        device_type,
        device_id,
        f"device.{action}",
        lambda rt, kind, ident: fn(rt, app_id, kind, ident, reason),
    )
    show(
        json_out,
        {
            "app_id": app_id,
            "device_type": out["device_type"],
            "device_id": out["device_id"],
            "action": action,
            "banned": out["banned"],
            "paused": out["paused"],
        },
    )


@device_app.command("ban")
def device_ban(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Ban a device; ends its sessions."""
    _device_action(ctx, "ban", app_id, device_type, device_id, reason, json_out)


@device_app.command("unban")
def device_unban(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Lift a device's ban."""
    _device_action(ctx, "unban", app_id, device_type, device_id, reason, json_out)


@device_app.command("pause")
def device_pause(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Pause a device (its time stops); ends its sessions."""
    _device_action(ctx, "pause", app_id, device_type, device_id, reason, json_out)


@device_app.command("unpause")
def device_unpause(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Resume a paused device."""
    _device_action(ctx, "unpause", app_id, device_type, device_id, reason, json_out)


def _device_shift(
    ctx: typer.Context,
    action: str,
    app_id: str,
    device_type: str,
    device_id: str,
    days: int | None,
    expires: str | None,
    json_out: bool,
) -> None:
    args = _shift(json_out, days, expires)
    fn = admin.extend_device if action == "extend" else admin.shorten_device
    out = _device_change(
        ctx,
        json_out,
        app_id,
        device_type,
        device_id,
        f"device.{action}",
        lambda rt, kind, ident: fn(rt, app_id, kind, ident, **args),
    )
    show(json_out, out)


@device_app.command("extend")
def device_extend(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    days: DaysOpt = None,
    expires: ExpiresOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move a device's expiry later (a lifetime device cannot be extended)."""
    _device_shift(ctx, "extend", app_id, device_type, device_id, days, expires, json_out)


@device_app.command("shorten")
def device_shorten(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    days: DaysOpt = None,
    expires: ExpiresOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move a device's expiry earlier."""
    _device_shift(ctx, "shorten", app_id, device_type, device_id, days, expires, json_out)


@device_app.command("end-sessions")
def device_end_sessions(
    ctx: typer.Context,
    app_id: AppOpt,
    device_type: DeviceTypeOpt,
    device_id: DeviceIdOpt,
    json_out: JsonOpt = False,
) -> None:
    """End a device's live sessions."""
    target = f"{device_type.strip().lower()}:{device_id}"
    _end_identity(ctx, json_out, app_id, "device", target, "device.end_sessions")


@device_app.command("export")
def device_export(
    ctx: typer.Context,
    app_id: AppOpt,
    fmt: FormatOpt = "csv",
    device_type: Annotated[str | None, typer.Option("--type")] = None,
    subscription: Annotated[str | None, typer.Option("--subscription")] = None,
    state: Annotated[str | None, typer.Option("--state")] = None,
    output: OutputOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export hardware devices as CSV or JSON (to stdout, or --output FILE)."""

    async def work(rt: Runtime) -> str:
        with _busy("Exporting devices..."):
            return await transfer_identities.export_devices(
                rt,
                app_id,
                fmt=fmt,
                device_type=device_type,
                subscription=subscription,
                state=state,
            )

    export_text(json_out, fmt, output, lambda: run(ctx, json_out, work))


@device_app.command("import")
def device_import(
    ctx: typer.Context, file: FileArg, app_id: AppOpt, json_out: JsonOpt = False
) -> None:
    """Import devices from CSV: device_type, device_id, subscription; optional name, email,
    expiry_date, note. All rows or none."""
    text = _read_file(json_out, file)
    _import(ctx, json_out, app_id, "device", text, transfer_identities.import_devices)


# -- client sessions ---------------------------------------------------------------------

_SESSION_COLUMNS = ("id", "identity_kind", "identity", "state", "last_seen_at", "client_ip")
DeviceIdentityOpt = Annotated[
    str | None, typer.Option("--device", help="A device as type:id (motherboard:ABC).")
]


def _identity(
    json_out: bool, user: str | None, license_key: str | None, device: str | None
) -> tuple[str | None, str | None]:
    given = [(k, v) for k, v in (("user", user), ("license", license_key), ("device", device)) if v]
    if len(given) > 1:
        usage(json_out, "give at most one of --user, --license and --device")
    return given[0] if given else (None, None)


def _end_identity(
    ctx: typer.Context, json_out: bool, app_id: str, kind: str, name: str, capability: str
) -> None:
    async def work(rt: Runtime) -> int:
        return await _audited(
            rt,
            app_id,
            capability,
            kind,
            lambda _: name,
            lambda: admin.end_identity_sessions(rt, app_id, kind, name),
            lambda n: {"live_sessions": [n, 0]} if n else {},
        )

    ended = run(ctx, json_out, work)
    show(json_out, {"app_id": app_id, "identity_kind": kind, "identity": name, "ended": ended})


@session_app.command("list")
def session_list(
    ctx: typer.Context,
    app_id: AppOpt,
    state: Annotated[str | None, typer.Option("--state", help="live, expired or ended.")] = None,
    user: HolderUserOpt = None,
    license_key: HolderLicenseOpt = None,
    device: DeviceIdentityOpt = None,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    json_out: JsonOpt = False,
) -> None:
    """List client sessions, newest first (id = the session id's first 8 characters)."""
    kind, name = _identity(json_out, user, license_key, device)
    page = run(
        ctx,
        json_out,
        lambda rt: views_users.list_sessions(
            rt, app_id, state=state, identity_kind=kind, identity=name, cursor=cursor, limit=limit
        ),
    )
    _page(json_out, page, _SESSION_COLUMNS, "no sessions")


@session_app.command("end")
def session_end(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id or its first 8+ characters.")],
    app_id: AppOpt,
    json_out: JsonOpt = False,
) -> None:
    """End one client session."""

    async def work(rt: Runtime) -> Any:
        return await _audited(
            rt,
            app_id,
            "session.end",
            "session",
            lambda r: str(r[0].id),
            lambda: admin.end_session(rt, app_id, session),
            lambda r: {"state": ["live", "ended"]} if r[1] else {},
        )

    view, _changed = run(ctx, json_out, work)
    show(json_out, view.as_dict())


@session_app.command("end-all")
def session_end_all(
    ctx: typer.Context,
    app_id: AppOpt,
    user: HolderUserOpt = None,
    license_key: HolderLicenseOpt = None,
    device: DeviceIdentityOpt = None,
    all_sessions: Annotated[
        bool, typer.Option("--all", help="Every session of the app (no identity given).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """End every session of one identity, or with --all of the whole app."""
    kind, name = _identity(json_out, user, license_key, device)
    if kind is None and not all_sessions:
        usage(json_out, "give --user, --license or --device, or --all for the whole app")
    if kind is not None and all_sessions:
        usage(json_out, "--all ends every session of the app: give no identity with it")

    async def work(rt: Runtime) -> int:
        return await _audited(
            rt,
            app_id,
            "session.end_all",
            kind or "app",
            lambda _: name or app_id,
            lambda: admin.end_all_sessions(rt, app_id, identity_kind=kind, identity=name),
            lambda n: {"live_sessions": [n, 0]} if n else {},
        )

    ended = run(ctx, json_out, work)
    show(json_out, {"app_id": app_id, "identity_kind": kind, "identity": name, "ended": ended})
