"""CLI commands for apps and their configuration and content (management B.4, B.10 to B.17):
`app`, `variable`, `channel`, `rule`, `version`, `hash`, `response` and `log`.

Each command calls the same admin service as the REST and Elite Key faces; every change runs
in one write transaction together with its audit entry (actor `cli`, face `cli`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from sqlalchemy import select

from licentia.cli._support import (
    console,
    emit_json,
    fail,
    jsonable,
    parse_when,
    run,
    show,
    stderr_is_tty,
    usage,
    warn,
)
from licentia.cli.groups import (
    AppOpt,
    JsonOpt,
    ReasonOpt,
    app_app,
    channel_app,
    hash_app,
    log_app,
    response_app,
    rule_app,
    variable_app,
    version_app,
)
from licentia.cli.outputs import check_output, write_output
from licentia.domain.timeutil import iso_z
from licentia.services import admin, audit, views_apps
from licentia.services.runtime import Runtime
from licentia.store.tables import apps

T = TypeVar("T")

ListOpt = Annotated[str, typer.Option("--list", help="allow or deny.")]
NoteOpt = Annotated[str, typer.Option("--note")]
OwnerOpt = Annotated[str, typer.Option("--owner", help="8-digit owner id.")]
AppArg = Annotated[str, typer.Argument(help="App id.")]
CursorOpt = Annotated[str | None, typer.Option("--cursor", help="next_cursor of a page.")]
LimitOpt = Annotated[int, typer.Option("--limit", help="Items per page (1-500).")]


# -- plumbing ----------------------------------------------------------------------------


async def audited(
    rt: Runtime,
    capability: str,
    work: Callable[[], Awaitable[T]],
    *,
    app_id: str | Callable[[T], str],
    target_type: str = "app",
    target: str | Callable[[T], str] = "",
    changes: Callable[[T], Mapping[str, Any] | None] | None = None,
) -> T:
    """Run `work` and write its audit entry in one write transaction (a refusal writes
    nothing: the CLI operator sees the error directly)."""
    async with rt.db.write() as conn:
        result = await work()
        aid = app_id(result) if callable(app_id) else app_id
        owner = (
            await conn.execute(select(apps.c.owner_account_id).where(apps.c.id == aid))
        ).scalar()
        entry = changes(result) if changes is not None else None
        await audit.record_as(
            conn,
            audit.CLI_ACTOR,
            now=rt.clock(),
            owner_account_id=owner,
            capability=capability,
            target_type=target_type,
            target=target(result) if callable(target) else target,
            changes=entry,
            app_id=aid,
        )
    return result


def show_rows(
    json_out: bool,
    key: str,
    rows: list[dict[str, Any]],
    columns: list[str],
    *,
    title: str = "",
    extra: Mapping[str, Any] | None = None,
) -> None:
    """A list: `{key: [...], "count": n, **extra}` in JSON, else a Rich table."""
    if json_out:
        emit_json({key: rows, "count": len(rows), **(extra or {})})
        return
    out = console()
    for name, value in jsonable(dict(extra or {})).items():
        out.print(f"[bold]{name}[/bold]: {value}", markup=True, highlight=False)
    table = Table(title=title or None)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in jsonable(rows):
        table.add_row(*("-" if row.get(c) is None else str(row.get(c)) for c in columns))
    out.print(table)
    if not rows:
        out.print("(none)")


def _busy(label: str) -> AbstractContextManager[Any]:
    """A spinner on stderr while long work runs, only on a terminal (never in JSON output)."""
    if stderr_is_tty():
        return console(stderr=True).status(label)
    return nullcontext()


def _view(value: Any, *names: str) -> dict[str, Any]:
    return {n: getattr(value, n) for n in names}


# -- apps --------------------------------------------------------------------------------


@app_app.command("list")
def app_list(ctx: typer.Context, owner: OwnerOpt, json_out: JsonOpt = False) -> None:
    """List an owner's apps."""

    async def work(rt: Runtime) -> list[dict[str, Any]]:
        info = await admin.get_owner(rt, owner)
        return [
            _view(a, "id", "name", "is_enabled", "created_at")
            for a in await views_apps.list_apps(rt, info.id)
        ]

    show_rows(json_out, "apps", run(ctx, json_out, work), ["id", "name", "is_enabled"])


@app_app.command("create")
def app_create(
    ctx: typer.Context,
    owner: Annotated[str, typer.Option("--owner", help="8-digit owner id.")],
    name: Annotated[str, typer.Option("--name", help="App name, as clients send it.")],
    json_out: JsonOpt = False,
) -> None:
    """Create an app; prints its secret."""
    created = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "app.create",
            lambda: admin.create_app(rt, owner, name),
            app_id=lambda c: c.app_id,
            target=lambda c: c.app_id,
            changes=lambda c: {"name": [None, c.app_name], "secret": [None, "set"]},
        ),
    )
    show(
        json_out,
        {
            "app_id": created.app_id,
            "owner_id": created.owner_id,
            "app_name": created.app_name,
            "secret": created.secret,
        },
        title="App created",
    )


@app_app.command("set")
def app_set(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(help="App id.")],
    setting: Annotated[str, typer.Argument(help=f"One of: {', '.join(admin.APP_SETTINGS)}.")],
    value: Annotated[str, typer.Argument(help="New value (booleans: true/false, on/off, ...).")],
    json_out: JsonOpt = False,
) -> None:
    """Change one app setting."""

    async def work(rt: Runtime) -> admin.SettingChange:
        before: dict[str, Any] = {}

        async def change() -> admin.SettingChange:
            before.update(await admin.get_app_settings(rt, app_id))
            return await admin.set_app_setting(rt, app_id, setting, value)

        return await audited(
            rt,
            "app.edit",
            change,
            app_id=app_id,
            target=app_id,
            changes=lambda c: {c.setting: [before.get(c.setting), c.value]},
        )

    change = run(ctx, json_out, work)
    warn(json_out, change.warnings)
    show(
        json_out,
        {
            "app_id": change.app_id,
            "setting": change.setting,
            "value": change.value,
            "warnings": change.warnings,
        },
    )


@app_app.command("show")
def app_show(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(help="App id.")],
    json_out: JsonOpt = False,
) -> None:
    """Show an app's settings."""

    async def work(rt: Runtime) -> dict[str, Any]:
        info = await admin.get_app(rt, app_id)
        data: dict[str, Any] = {
            "app_id": info.app_id,
            "owner_id": info.owner_id,
            "app_name": info.app_name,
        }
        data.update(await admin.get_app_settings(rt, app_id))
        details = await views_apps.app_details(rt, app_id)
        data.update({k: v for k, v in details.items() if k.startswith("total_")})
        data["plan_name"] = details["plan_name"]
        data["created_at"] = details["created_at"]
        return data

    show(json_out, run(ctx, json_out, work), title="App")


def _regenerate(rt: Runtime, app_id: str) -> Awaitable[str]:
    return audited(
        rt,
        "app.regenerate_secret",
        lambda: admin.regenerate_secret(rt, app_id),
        app_id=app_id,
        target=app_id,
        changes=lambda _: {"secret": ["set", "changed"]},
    )


@app_app.command("secret")
def app_secret(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(help="App id.")],
    regenerate: Annotated[
        bool,
        typer.Option("--regenerate", help="Replace the secret (new inits need the new one)."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show (or regenerate) an app's secret."""
    fn = _regenerate if regenerate else admin.get_app_secret
    secret = run(ctx, json_out, lambda rt: fn(rt, app_id))
    if regenerate:
        warn(json_out, ["clients built with the old secret can no longer init"])
    show(json_out, {"app_id": app_id, "secret": secret, "regenerated": regenerate})


@app_app.command("regenerate-secret")
def app_regenerate_secret(ctx: typer.Context, app_id: AppArg, json_out: JsonOpt = False) -> None:
    """Replace an app's secret: new inits need the new one at once; live sessions continue."""
    secret = run(ctx, json_out, lambda rt: _regenerate(rt, app_id))
    warn(json_out, ["clients built with the old secret can no longer init"])
    show(json_out, {"app_id": app_id, "secret": secret, "regenerated": True})


def _toggle(
    ctx: typer.Context,
    app_id: str,
    json_out: bool,
    *,
    setting: str,
    enabled: bool,
    capability: str,
    apply: Callable[[Runtime], Awaitable[Any]],
) -> None:
    """Turn one on/off app setting; idempotent (nothing to change: nothing audited)."""

    async def work(rt: Runtime) -> bool:
        before = (await admin.get_app_settings(rt, app_id))[setting]
        if before == enabled:
            return False
        await audited(
            rt,
            capability,
            lambda: apply(rt),
            app_id=app_id,
            target=app_id,
            changes=lambda _: {setting: [before, enabled]},
        )
        return True

    changed = run(ctx, json_out, work)
    show(json_out, {"app_id": app_id, setting: enabled, "changed": changed})


def _switch(ctx: typer.Context, app_id: str, enabled: bool, json_out: bool) -> None:
    _toggle(
        ctx, app_id, json_out, setting="is_enabled", enabled=enabled,
        capability="app.enable" if enabled else "app.disable",
        apply=lambda rt: admin.set_app_enabled(rt, app_id, enabled),
    )  # fmt: skip


@app_app.command("enable")
def app_enable(ctx: typer.Context, app_id: AppArg, json_out: JsonOpt = False) -> None:
    """Enable an app."""
    _switch(ctx, app_id, True, json_out)


@app_app.command("disable")
def app_disable(ctx: typer.Context, app_id: AppArg, json_out: JsonOpt = False) -> None:
    """Disable an app: every client call answers APP_DISABLED."""
    _switch(ctx, app_id, False, json_out)


@app_app.command("rename")
def app_rename(
    ctx: typer.Context,
    app_id: AppArg,
    name: Annotated[str, typer.Option("--name", help="New name.")],
    json_out: JsonOpt = False,
) -> None:
    """Rename an app (deployed clients send the old name and fail until updated)."""
    renamed = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "app.rename",
            lambda: admin.rename_app(rt, app_id, name),
            app_id=app_id,
            target=app_id,
            changes=lambda r: {"name": [r.old_name, r.new_name]},
        ),
    )
    warn(json_out, renamed.warnings)
    show(
        json_out,
        {
            "app_id": app_id,
            "old_name": renamed.old_name,
            "app_name": renamed.new_name,
            "warnings": renamed.warnings,
        },
    )


@app_app.command("delete")
def app_delete(
    ctx: typer.Context,
    app_id: AppArg,
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", help="The app's exact name (asked for on a terminal)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete an app and EVERYTHING in it (licenses, users, devices, logs, ...)."""
    if confirm is None:
        if json_out or not sys.stdin.isatty():
            usage(json_out, "give --confirm with the app's exact name")
        confirm = typer.prompt("Type the app's name to delete it and everything in it")
    typed = confirm
    gone = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "app.delete",
            lambda: admin.delete_app(rt, app_id, typed),
            app_id=app_id,
            target=app_id,
            changes=lambda a: {"name": [a.app_name, None]},
        ),
    )
    show(json_out, {"app_id": gone.app_id, "app_name": gone.app_name, "deleted": True})


# -- variables ---------------------------------------------------------------------------

_VAR_FIELDS = ("key", "value", "writable", "auth_required", "updated_at", "updated_by")


@variable_app.command("list")
def variable_list(ctx: typer.Context, app_id: AppOpt, json_out: JsonOpt = False) -> None:
    """List an app's variables."""
    items = run(ctx, json_out, lambda rt: admin.list_variables(rt, app_id))
    rows = [_view(v, *_VAR_FIELDS) for v in items]
    show_rows(json_out, "variables", rows, list(_VAR_FIELDS))


@variable_app.command("get")
def variable_get(
    ctx: typer.Context,
    app_id: AppOpt,
    key: Annotated[str, typer.Option("--key")],
    json_out: JsonOpt = False,
) -> None:
    """Show one variable."""
    var = run(ctx, json_out, lambda rt: admin.get_variable(rt, app_id, key))
    show(json_out, {"app_id": app_id, **_view(var, *_VAR_FIELDS)})


@variable_app.command("set")
def variable_set(
    ctx: typer.Context,
    app_id: AppOpt,
    key: Annotated[str, typer.Option("--key", help="1-64 of A-Z a-z 0-9 _ . -")],
    value: Annotated[str, typer.Option("--value", help="At most 4096 bytes.")],
    read_only: Annotated[
        bool | None,
        typer.Option(
            "--read-only/--writable",
            help="Clients may not change it (default on creation: writable; kept on update).",
            show_default=False,
        ),
    ] = None,
    auth_required: Annotated[
        bool | None,
        typer.Option(
            "--auth-required/--no-auth-required",
            help="Only logged-in clients may read it (default on creation: no).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or update a variable."""
    writable = None if read_only is None else not read_only

    async def work(rt: Runtime) -> admin.Variable:
        try:
            before: admin.VariableView | None = await admin.get_variable(rt, app_id, key)
        except admin.AdminError:
            before = None  # a new variable (or a bad key, which set_variable reports)
        fields = ("value", "writable", "auth_required")
        return await audited(
            rt,
            "variable.set",
            lambda: admin.set_variable(rt, app_id, key, value, writable, auth_required),
            app_id=app_id,
            target_type="variable",
            target=lambda v: v.key,
            changes=lambda v: audit.field_changes(before, v, fields),
        )

    var = run(ctx, json_out, work)
    warn(json_out, var.warnings)
    show(
        json_out,
        {
            "app_id": var.app_id,
            "key": var.key,
            "value": var.value,
            "writable": var.writable,
            "auth_required": var.auth_required,
            "created": var.created,
            "warnings": var.warnings,
        },
    )


@variable_app.command("delete")
def variable_delete(
    ctx: typer.Context,
    app_id: AppOpt,
    key: Annotated[str, typer.Option("--key")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a variable."""

    async def work(rt: Runtime) -> admin.VariableView:
        before = await admin.get_variable(rt, app_id, key)

        async def gone() -> admin.VariableView:
            await admin.delete_variable(rt, app_id, key)
            return before

        return await audited(
            rt,
            "variable.delete",
            gone,
            app_id=app_id,
            target_type="variable",
            target=before.key,
            changes=lambda v: {"value": [v.value, None]},
        )

    var = run(ctx, json_out, work)
    show(json_out, {"app_id": app_id, "key": var.key, "deleted": True})


# -- chat channels, messages, mutes ------------------------------------------------------

_CHANNEL_FIELDS = ("id", "name", "send_delay", "max_messages", "message_count", "created_at")
ChannelOpt = Annotated[str, typer.Option("--channel", help="Channel name.")]


@channel_app.command("list")
def channel_list(ctx: typer.Context, app_id: AppOpt, json_out: JsonOpt = False) -> None:
    """List an app's chat channels."""
    items = run(ctx, json_out, lambda rt: admin.list_channels(rt, app_id))
    rows = [_view(c, *_CHANNEL_FIELDS) for c in items]
    show_rows(json_out, "channels", rows, list(_CHANNEL_FIELDS))


@channel_app.command("create")
def channel_create(
    ctx: typer.Context,
    app_id: AppOpt,
    name: Annotated[str, typer.Option("--name", help="1-64 of A-Z a-z 0-9 _ . -")],
    send_delay: Annotated[
        int, typer.Option("--send-delay", help="Seconds between a user's messages.")
    ] = 2,
    max_messages: Annotated[
        int, typer.Option("--max-messages", help="Older messages beyond this are pruned.")
    ] = 10000,
    json_out: JsonOpt = False,
) -> None:
    """Create a chat channel."""
    channel = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "channel.create",
            lambda: admin.create_channel(rt, app_id, name, send_delay, max_messages),
            app_id=app_id,
            target_type="channel",
            target=lambda c: c.name,
            changes=lambda c: {
                "name": [None, c.name],
                "send_delay": [None, c.send_delay],
                "max_messages": [None, c.max_messages],
            },
        ),
    )
    show(
        json_out,
        {
            "id": channel.id,
            "app_id": channel.app_id,
            "name": channel.name,
            "send_delay": channel.send_delay,
            "max_messages": channel.max_messages,
        },
    )


@channel_app.command("edit")
def channel_edit(
    ctx: typer.Context,
    app_id: AppOpt,
    channel: ChannelOpt,
    new_name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    send_delay: Annotated[int | None, typer.Option("--send-delay")] = None,
    max_messages: Annotated[int | None, typer.Option("--max-messages")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Rename a channel or change its send delay or message cap."""

    async def work(rt: Runtime) -> admin.ChannelView:
        before = await admin.get_channel(rt, app_id, channel)
        return await audited(
            rt,
            "channel.edit",
            lambda: admin.edit_channel(
                rt,
                app_id,
                channel,
                new_name=new_name,
                send_delay=send_delay,
                max_messages=max_messages,
            ),
            app_id=app_id,
            target_type="channel",
            target=before.name,
            changes=lambda a: audit.field_changes(
                before, a, ("name", "send_delay", "max_messages")
            ),
        )

    out = run(ctx, json_out, work)
    show(json_out, {"app_id": app_id, **_view(out, *_CHANNEL_FIELDS)})


@channel_app.command("delete")
def channel_delete(
    ctx: typer.Context, app_id: AppOpt, channel: ChannelOpt, json_out: JsonOpt = False
) -> None:
    """Delete a channel with its messages."""
    gone = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "channel.delete",
            lambda: admin.delete_channel(rt, app_id, channel),
            app_id=app_id,
            target_type="channel",
            target=lambda c: c.name,
            changes=lambda c: {"name": [c.name, None], "messages": [c.message_count, 0]},
        ),
    )
    show(json_out, {"app_id": app_id, "name": gone.name, "deleted": True})


@channel_app.command("clear")
def channel_clear(
    ctx: typer.Context, app_id: AppOpt, channel: ChannelOpt, json_out: JsonOpt = False
) -> None:
    """Remove every message of a channel."""
    count = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "channel.clear",
            lambda: admin.clear_channel(rt, app_id, channel),
            app_id=app_id,
            target_type="channel",
            target=channel,
            changes=lambda n: {"cleared": [None, n]},
        ),
    )
    show(json_out, {"app_id": app_id, "channel": channel, "deleted": count})


_MESSAGE_FIELDS = ("id", "channel", "username", "message", "client_ip", "deleted", "created_at")


@channel_app.command("messages")
def channel_messages(
    ctx: typer.Context,
    app_id: AppOpt,
    channel: ChannelOpt,
    username: Annotated[str | None, typer.Option("--username")] = None,
    include_deleted: Annotated[bool, typer.Option("--include-deleted")] = False,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    json_out: JsonOpt = False,
) -> None:
    """A channel's messages, newest first (page with --cursor)."""
    page = run(
        ctx,
        json_out,
        lambda rt: admin.list_messages(
            rt,
            app_id,
            channel,
            username=username,
            include_deleted=include_deleted,
            cursor=cursor,
            limit=limit,
        ),
    )
    rows = [_view(m, *_MESSAGE_FIELDS) for m in page.items]
    show_rows(
        json_out,
        "messages",
        rows,
        ["id", "username", "message", "deleted", "created_at"],
        extra={"next_cursor": page.next_cursor},
    )


@channel_app.command("delete-message")
def channel_delete_message(
    ctx: typer.Context,
    app_id: AppOpt,
    message_id: Annotated[int, typer.Option("--id", help="Message id.")],
    json_out: JsonOpt = False,
) -> None:
    """Delete one message (clients stop seeing it at once)."""
    msg = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "channel.delete_message",
            lambda: admin.delete_message(rt, app_id, message_id),
            app_id=app_id,
            target_type="message",
            target=str(message_id),
            changes=lambda m: {"deleted": [m.deleted, True]},
        ),
    )
    show(json_out, {"app_id": app_id, "id": msg.id, "channel": msg.channel, "deleted": True})


@channel_app.command("delete-by-user")
def channel_delete_by_user(
    ctx: typer.Context,
    app_id: AppOpt,
    username: Annotated[str, typer.Option("--username")],
    channel: Annotated[
        str | None, typer.Option("--channel", help="One channel (default: every channel).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete every message of a user."""
    count = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "channel.delete_by_user",
            lambda: admin.delete_messages_by_user(rt, app_id, username, channel),
            app_id=app_id,
            target_type="user",
            target=username,
            changes=lambda n: {"messages_deleted": [None, n]},
        ),
    )
    show(json_out, {"app_id": app_id, "username": username, "deleted": count})


@channel_app.command("mute")
def channel_mute(
    ctx: typer.Context,
    app_id: AppOpt,
    username: Annotated[str, typer.Option("--username")],
    channel: Annotated[
        str | None, typer.Option("--channel", help="One channel (default: every channel).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="ISO end (default: permanent).")
    ] = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Mute a user in one channel or app-wide."""
    when = parse_when(json_out, "--until", until)
    mute = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "channel.mute",
            lambda: admin.mute_user(rt, app_id, username, channel, when, reason),
            app_id=app_id,
            target_type="user",
            target=username,
            changes=lambda m: {
                "muted": [None, channel or "*"],
                "expires_at": [None, m.expires_at],
                "reason": [None, m.reason],
            },
        ),
    )
    show(
        json_out,
        {
            "id": mute.id,
            "app_id": mute.app_id,
            "username": username,
            "channel": channel,
            "expires_at": iso_z(mute.expires_at) or None,
        },
    )


@channel_app.command("unmute")
def channel_unmute(
    ctx: typer.Context,
    app_id: AppOpt,
    username: Annotated[str, typer.Option("--username")],
    channel: Annotated[
        str | None, typer.Option("--channel", help="One channel (default: the app-wide mute).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Remove a user's mutes of one channel (or the app-wide ones)."""
    count = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "channel.unmute",
            lambda: admin.unmute_user(rt, app_id, username, channel),
            app_id=app_id,
            target_type="user",
            target=username,
            changes=lambda n: {"muted": [channel or "*", None], "removed": [None, n]},
        ),
    )
    show(json_out, {"app_id": app_id, "username": username, "channel": channel, "removed": count})


_MUTE_FIELDS = ("id", "username", "channel", "reason", "expires_at", "created_by", "created_at")


@channel_app.command("mutes")
def channel_mutes(
    ctx: typer.Context,
    app_id: AppOpt,
    username: Annotated[str | None, typer.Option("--username")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List active mutes."""
    items = run(ctx, json_out, lambda rt: admin.list_mutes(rt, app_id, username))
    rows = [_view(m, *_MUTE_FIELDS) for m in items]
    show_rows(json_out, "mutes", rows, ["username", "channel", "reason", "expires_at"])


# -- IP, SID, VPN and country rules -----------------------------------------------------


@rule_app.command("list")
def rule_list(
    ctx: typer.Context,
    app_id: AppOpt,
    kind: Annotated[str | None, typer.Option("--kind", help="ip or sid.")] = None,
    list_: Annotated[str | None, typer.Option("--list", help="allow or deny.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List IP and SID rules, with the VPN block and blocked countries."""

    async def work(rt: Runtime) -> tuple[list[admin.RuleView], dict[str, Any]]:
        rules = await admin.list_rules(rt, app_id, kind, list_)
        settings = await admin.get_app_settings(rt, app_id)
        countries = [c for c in settings["blocked_countries"].split(",") if c]
        return rules, {"vpn_block": settings["vpn_block"], "blocked_countries": countries}

    rules, network = run(ctx, json_out, work)
    rows = [_view(r, "kind", "value", "list", "note", "created_at") for r in rules]
    show_rows(json_out, "rules", rows, ["kind", "value", "list", "note"], extra=network)


@rule_app.command("ip-add")
def rule_ip_add(
    ctx: typer.Context,
    app_id: AppOpt,
    value: Annotated[str, typer.Option("--value", help="IPv4/IPv6 address or CIDR range.")],
    list_: ListOpt = "deny",
    note: NoteOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Add an IP rule."""
    rule = run(ctx, json_out, lambda rt: _add_rule(rt, app_id, "ip", value, list_, note))
    show(
        json_out,
        {
            "id": rule.id,
            "app_id": rule.app_id,
            "value": rule.value,
            "list": rule.list,
            "created": rule.created,
        },
    )


@rule_app.command("sid-add")
def rule_sid_add(
    ctx: typer.Context,
    app_id: AppOpt,
    sid: Annotated[str, typer.Option("--sid", help="SID (compared case-insensitively).")],
    list_: ListOpt = "deny",
    note: NoteOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Add a SID rule."""
    rule = run(ctx, json_out, lambda rt: _add_rule(rt, app_id, "sid", sid, list_, note))
    show(
        json_out,
        {
            "id": rule.id,
            "app_id": rule.app_id,
            "sid": rule.value,
            "list": rule.list,
            "created": rule.created,
        },
    )


async def _add_rule(
    rt: Runtime, app_id: str, kind: str, value: str, list_: str, note: str
) -> admin.Rule:
    add = admin.add_ip_rule if kind == "ip" else admin.add_sid_rule
    return await audited(
        rt,
        "rule.add",
        lambda: add(rt, app_id, value, list_, note),
        app_id=app_id,
        target_type=f"{kind}-rule",
        target=lambda r: r.value,
        changes=lambda r: {"list": [None, r.list]} if r.created else None,
    )


@rule_app.command("remove")
def rule_remove(
    ctx: typer.Context,
    app_id: AppOpt,
    ip: Annotated[str | None, typer.Option("--ip", help="An IP rule's address or range.")] = None,
    sid: Annotated[str | None, typer.Option("--sid", help="A SID rule's SID.")] = None,
    list_: ListOpt = "deny",
    json_out: JsonOpt = False,
) -> None:
    """Remove an IP rule (--ip) or a SID rule (--sid)."""
    if (ip is None) == (sid is None):
        usage(json_out, "give exactly one of --ip and --sid")
    kind, value = ("ip", ip) if ip is not None else ("sid", sid)
    assert value is not None
    remove = admin.remove_ip_rule if kind == "ip" else admin.remove_sid_rule
    run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "rule.remove",
            lambda: remove(rt, app_id, value, list_),
            app_id=app_id,
            target_type=f"{kind}-rule",
            target=value.strip(),
            changes=lambda _: {"list": [list_, None]},
        ),
    )
    show(json_out, {"app_id": app_id, "kind": kind, "value": value, "list": list_, "removed": True})


def _read_entries(json_out: bool, path: Path) -> list[admin.RuleEntry]:
    """A JSON array of `{kind, value, list?, note?}`, or text lines `kind value [list] [note]`
    (`#` starts a comment)."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(json_out, "OS_ERROR", f"cannot read {path}: {exc.strerror}")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except ValueError as exc:
            fail(json_out, "INVALID_INPUT", f"the file is not valid JSON: {exc}")
        entries = []
        for item in data:
            if not isinstance(item, dict) or not {"kind", "value"} <= set(item):
                fail(json_out, "INVALID_INPUT", "every JSON entry needs kind and value")
            entries.append(
                admin.RuleEntry(
                    str(item["kind"]),
                    str(item["value"]),
                    str(item.get("list", "deny")),
                    str(item.get("note", "")),
                )
            )
        return entries
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        parts = body.split(None, 3)
        if len(parts) < 2:
            fail(json_out, "INVALID_INPUT", f"line {number}: expected `kind value [list] [note]`")
        entries.append(
            admin.RuleEntry(
                parts[0], parts[1], parts[2] if len(parts) > 2 else "deny", " ".join(parts[3:])
            )
        )
    return entries


@rule_app.command("import")
def rule_import(
    ctx: typer.Context,
    app_id: AppOpt,
    file: Annotated[
        Path,
        typer.Argument(
            # Rich reads [...] as markup: the brackets are escaped to show literally.
            help="JSON array or lines `ip|sid VALUE \\[allow|deny] \\[note]`; - = stdin."
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Import many IP/SID rules at once: all or none; present entries are skipped."""
    entries = _read_entries(json_out, file)

    async def work(rt: Runtime) -> admin.ImportResult:
        with _busy(f"importing {len(entries)} rules"):
            return await audited(
                rt,
                "rule.import",
                lambda: admin.import_rules(rt, app_id, entries),
                app_id=app_id,
                target_type="rules",
                target="import",
                changes=lambda r: {"added": [None, r.added], "existing": [None, r.existing]},
            )

    result = run(ctx, json_out, work)
    show(json_out, {"app_id": app_id, "added": result.added, "existing": result.existing})


@rule_app.command("vpn")
def rule_vpn(
    ctx: typer.Context,
    app_id: AppOpt,
    state: Annotated[str, typer.Argument(help="on or off.")],
    json_out: JsonOpt = False,
) -> None:
    """Block (on) or allow (off) VPN and proxy addresses."""

    async def work(rt: Runtime) -> admin.SettingChange:
        before = (await admin.get_app_settings(rt, app_id))["vpn_block"]
        return await audited(
            rt,
            "rule.set_vpn_block",
            lambda: admin.set_vpn_block(rt, app_id, admin.parse_bool(state, "state")),
            app_id=app_id,
            target=app_id,
            changes=lambda c: {"vpn_block": [before, c.value]},
        )

    change = run(ctx, json_out, work)
    show(json_out, {"app_id": app_id, "vpn_block": change.value})


@rule_app.command("countries")
def rule_countries(
    ctx: typer.Context,
    app_id: AppOpt,
    countries: Annotated[
        str, typer.Argument(help="Comma-separated ISO codes (us,de); empty string = none.")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Replace the blocked countries."""

    async def work(rt: Runtime) -> admin.SettingChange:
        before = (await admin.get_app_settings(rt, app_id))["blocked_countries"]
        return await audited(
            rt,
            "rule.set_countries",
            lambda: admin.set_countries(rt, app_id, countries),
            app_id=app_id,
            target=app_id,
            changes=lambda c: {"blocked_countries": [before, c.value]},
        )

    change = run(ctx, json_out, work)
    codes = [c for c in str(change.value).split(",") if c]
    show(json_out, {"app_id": app_id, "blocked_countries": codes})


@rule_app.command("check")
def rule_check(
    ctx: typer.Context,
    app_id: AppOpt,
    ip: Annotated[str, typer.Option("--ip")] = "",
    sid: Annotated[str, typer.Option("--sid")] = "",
    country: Annotated[
        str | None, typer.Option("--country", help="Default: looked up as clients are.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate an IP and a SID as blacklist/check would."""
    result = run(ctx, json_out, lambda rt: admin.check_access(rt, app_id, ip, sid, country))
    show(
        json_out,
        {"app_id": app_id, **_view(result, "ip", "sid", "country", "blacklisted", "reason")},
    )


# -- version control --------------------------------------------------------------------

_RULE_FIELDS = ("version", "mode", "allowed_until", "note", "created_at")


@version_app.command("list")
def version_list(ctx: typer.Context, app_id: AppOpt, json_out: JsonOpt = False) -> None:
    """List version rules and the version-control settings."""

    async def work(rt: Runtime) -> tuple[list[admin.VersionRuleView], dict[str, Any]]:
        return (
            await admin.list_version_rules(rt, app_id),
            await admin.get_version_settings(rt, app_id),
        )

    rules, settings = run(ctx, json_out, work)
    rows = [_view(r, *_RULE_FIELDS) for r in rules]
    show_rows(json_out, "versions", rows, list(_RULE_FIELDS[:4]), extra={"settings": settings})


@version_app.command("add")
def version_add(
    ctx: typer.Context,
    app_id: AppOpt,
    version: Annotated[str, typer.Option("--version")],
    mode: Annotated[
        str, typer.Option("--mode", help="allow, reminder, grace (temporary) or block.")
    ] = "allow",
    until: Annotated[
        str | None, typer.Option("--until", help="ISO date; required for grace.")
    ] = None,
    note: NoteOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Add a version rule."""
    when = parse_when(json_out, "--until", until)
    rule = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "version.add",
            lambda: admin.add_version_rule(rt, app_id, version, mode, when, note),
            app_id=app_id,
            target_type="version",
            target=lambda r: r.version,
            changes=lambda r: {"mode": [None, r.mode], "allowed_until": [None, r.allowed_until]},
        ),
    )
    show(
        json_out,
        {
            "id": rule.id,
            "app_id": rule.app_id,
            "version": rule.version,
            "mode": rule.mode,
            "allowed_until": iso_z(rule.allowed_until) or None,
        },
    )


@version_app.command("edit")
def version_edit(
    ctx: typer.Context,
    app_id: AppOpt,
    version: Annotated[str, typer.Option("--version")],
    mode: Annotated[str | None, typer.Option("--mode")] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO date (grace).")] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a version rule's mode, grace end or note."""
    when = parse_when(json_out, "--until", until)
    _before, after = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "version.edit",
            lambda: admin.edit_version_rule(
                rt, app_id, version, mode=mode, allowed_until=when, note=note
            ),
            app_id=app_id,
            target_type="version",
            target=version,
            changes=lambda pair: audit.field_changes(
                pair[0], pair[1], ("mode", "allowed_until", "note")
            ),
        ),
    )
    show(json_out, {"app_id": app_id, **_view(after, *_RULE_FIELDS)})


@version_app.command("remove")
def version_remove(
    ctx: typer.Context,
    app_id: AppOpt,
    version: Annotated[str, typer.Option("--version")],
    json_out: JsonOpt = False,
) -> None:
    """Remove a version rule."""
    run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "version.remove",
            lambda: admin.remove_version_rule(rt, app_id, version),
            app_id=app_id,
            target_type="version",
            target=version,
            changes=lambda _: {"rule": [version, None]},
        ),
    )
    show(json_out, {"app_id": app_id, "version": version, "removed": True})


@version_app.command("settings")
def version_settings(
    ctx: typer.Context,
    app_id: AppOpt,
    latest: Annotated[
        str | None, typer.Option("--latest", help="Latest version; empty = version control off.")
    ] = None,
    download_url: Annotated[str | None, typer.Option("--download-url")] = None,
    auto_update: Annotated[
        bool | None, typer.Option("--auto-update/--no-auto-update", show_default=False)
    ] = None,
    reminder: Annotated[str | None, typer.Option("--reminder", help="Reminder message.")] = None,
    changelog: Annotated[str | None, typer.Option("--changelog")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show or edit the version-control settings (no option: show them)."""
    given = {
        "latest_version": latest,
        "download_url": download_url,
        "auto_update_enabled": auto_update,
        "reminder_message": reminder,
        "changelog": changelog,
    }
    wanted: dict[str, object] = {k: v for k, v in given.items() if v is not None}

    async def work(rt: Runtime) -> tuple[dict[str, Any], list[str]]:
        if not wanted:
            return await admin.get_version_settings(rt, app_id), []
        before = await admin.get_version_settings(rt, app_id)
        results = await audited(
            rt,
            "version.settings",
            lambda: admin.set_version_settings(rt, app_id, wanted),
            app_id=app_id,
            target=app_id,
            changes=lambda rs: {r.setting: [before[r.setting], r.value] for r in rs},
        )
        return await admin.get_version_settings(rt, app_id), [
            w for r in results for w in r.warnings
        ]

    settings, warnings = run(ctx, json_out, work)
    warn(json_out, warnings)
    show(json_out, {"app_id": app_id, **settings, "warnings": warnings})


@version_app.command("test")
def version_test(
    ctx: typer.Context,
    app_id: AppOpt,
    version: Annotated[str, typer.Option("--version")],
    json_out: JsonOpt = False,
) -> None:
    """What init would answer a client of this version now."""
    result = run(ctx, json_out, lambda rt: admin.version_test(rt, app_id, version))
    show(
        json_out,
        {
            "app_id": app_id,
            **_view(
                result,
                "version",
                "latest_version",
                "outcome",
                "code",
                "http_status",
                "allowed_until",
                "rule",
            ),
        },
    )


# -- hashes ------------------------------------------------------------------------------


@hash_app.command("list")
def hash_list(ctx: typer.Context, app_id: AppOpt, json_out: JsonOpt = False) -> None:
    """List allowed application hashes and whether the check is on."""
    check, items = run(ctx, json_out, lambda rt: admin.list_allowed_hashes(rt, app_id))
    rows = [_view(h, "hash", "note", "created_at") for h in items]
    show_rows(json_out, "hashes", rows, ["hash", "note"], extra={"hash_check": check})


@hash_app.command("add")
def hash_add(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(metavar="HASH", help="64 hexadecimal characters.")],
    app_id: AppOpt,
    note: NoteOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Register an allowed application hash."""
    added = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "hash.register",
            lambda: admin.add_allowed_hash(rt, app_id, value, note),
            app_id=app_id,
            target_type="hash",
            target=lambda h: h.hash,
            changes=lambda h: {"hash": [None, h.hash]},
        ),
    )
    show(json_out, {"id": added.id, "app_id": added.app_id, "hash": added.hash})


@hash_app.command("remove")
def hash_remove(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(metavar="HASH")],
    app_id: AppOpt,
    json_out: JsonOpt = False,
) -> None:
    """Remove an allowed hash."""
    text = value.strip().lower()
    run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "hash.remove",
            lambda: admin.remove_allowed_hash(rt, app_id, value),
            app_id=app_id,
            target_type="hash",
            target=text,
            changes=lambda _: {"hash": [text, None]},
        ),
    )
    show(json_out, {"app_id": app_id, "hash": text, "removed": True})


def _hash_check(ctx: typer.Context, app_id: str, enabled: bool, json_out: bool) -> None:
    _toggle(
        ctx, app_id, json_out, setting="hash_check", enabled=enabled,
        capability="hash.enable" if enabled else "hash.disable",
        apply=lambda rt: admin.set_hash_check(rt, app_id, enabled),
    )  # fmt: skip


@hash_app.command("enable")
def hash_enable(ctx: typer.Context, app_id: AppOpt, json_out: JsonOpt = False) -> None:
    """Turn the hash check on: init needs a registered hash."""
    _hash_check(ctx, app_id, True, json_out)


@hash_app.command("disable")
def hash_disable(ctx: typer.Context, app_id: AppOpt, json_out: JsonOpt = False) -> None:
    """Turn the hash check off."""
    _hash_check(ctx, app_id, False, json_out)


# -- custom messages ---------------------------------------------------------------------


@response_app.command("list")
def response_list(
    ctx: typer.Context,
    app_id: AppOpt,
    category: Annotated[
        str | None, typer.Option("--category", help="Init, Auth or General.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Every customizable code with its default and current text."""
    items = run(ctx, json_out, lambda rt: admin.list_custom_messages(rt, app_id, category))
    rows = [_view(m, "code", "category", "default_message", "message", "is_default") for m in items]
    show_rows(json_out, "responses", rows, ["code", "category", "message", "is_default"])


@response_app.command("set")
def response_set(
    ctx: typer.Context,
    app_id: AppOpt,
    code: Annotated[str, typer.Option("--code", help="A client code, or OK.<endpoint>.")],
    message: Annotated[str, typer.Option("--message", help="1-200 characters, SDK-safe.")],
    json_out: JsonOpt = False,
) -> None:
    """Override the message clients get for a code."""

    async def work(rt: Runtime) -> admin.CustomMessage:
        before = await admin.get_custom_message(rt, app_id, code)
        return await audited(
            rt,
            "response.set",
            lambda: admin.set_custom_message(rt, app_id, code, message),
            app_id=app_id,
            target_type="response",
            target=before.code,
            changes=lambda m: {"message": [before.message, m.message]},
        )

    msg = run(ctx, json_out, work)
    show(
        json_out,
        {
            "app_id": msg.app_id,
            "code": msg.code,
            "message": msg.message,
            "is_default": msg.is_default,
        },
    )


@response_app.command("reset")
def response_reset(
    ctx: typer.Context,
    app_id: AppOpt,
    code: Annotated[str, typer.Option("--code")],
    json_out: JsonOpt = False,
) -> None:
    """Give a code its default message back."""

    async def work(rt: Runtime) -> admin.CustomMessage:
        before = await admin.get_custom_message(rt, app_id, code)
        return await audited(
            rt,
            "response.reset",
            lambda: admin.reset_custom_message(rt, app_id, code),
            app_id=app_id,
            target_type="response",
            target=before.code,
            changes=lambda m: {"message": [before.message, m.message]},
        )

    msg = run(ctx, json_out, work)
    show(
        json_out,
        {"app_id": app_id, "code": msg.code, "message": msg.message, "is_default": True},
    )


@response_app.command("reset-all")
def response_reset_all(ctx: typer.Context, app_id: AppOpt, json_out: JsonOpt = False) -> None:
    """Remove every custom message of the app."""
    count = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "response.reset_all",
            lambda: admin.reset_all_custom_messages(rt, app_id),
            app_id=app_id,
            target_type="response",
            target="*",
            changes=lambda n: {"overrides": [n, 0]},
        ),
    )
    show(json_out, {"app_id": app_id, "reset": count})


# -- client logs and auth events --------------------------------------------------------

SinceOpt = Annotated[str | None, typer.Option("--since", help="ISO start (inclusive).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="ISO end (exclusive).")]
IpOpt = Annotated[str | None, typer.Option("--ip")]
IdentityOpt = Annotated[str | None, typer.Option("--identity", help="Username, key or device.")]
FormatOpt = Annotated[str, typer.Option("--format", help="csv or json.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
]
BeforeOpt = Annotated[str | None, typer.Option("--before", help="Purge entries older than this.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Purge every entry.")]


def _log_filter(json_out: bool, since: str | None, until: str | None, **kw: Any) -> Any:
    return admin.LogFilter(
        since=parse_when(json_out, "--since", since),
        until=parse_when(json_out, "--until", until),
        **kw,
    )


def _event_filter(json_out: bool, since: str | None, until: str | None, **kw: Any) -> Any:
    return admin.EventFilter(
        since=parse_when(json_out, "--since", since),
        until=parse_when(json_out, "--until", until),
        **kw,
    )


def _write_export(json_out: bool, produce: Callable[[], Any], output: Path | None) -> None:
    """The export itself goes to --output (checked before the export is made, then a summary
    is printed) or to stdout; with --json and no --output, stdout holds one object with it."""
    check_output(json_out, output)
    export = produce()
    if output is not None:
        write_output(json_out, output, export.content)
        show(json_out, {"format": export.format, "count": export.count, "file": str(output)})
    elif json_out:
        emit_json({"format": export.format, "count": export.count, "content": export.content})
    else:
        sys.stdout.write(export.content)


_LOG_COLUMNS = ["id", "created_at", "identity", "client_ip", "message"]
_EVENT_COLUMNS = ["id", "created_at", "endpoint", "code", "identity", "client_ip"]


@log_app.command("list")
def log_list(
    ctx: typer.Context,
    app_id: AppOpt,
    since: SinceOpt = None,
    until: UntilOpt = None,
    identity: IdentityOpt = None,
    ip: IpOpt = None,
    text: Annotated[str | None, typer.Option("--text", help="Contained text, any case.")] = None,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    json_out: JsonOpt = False,
) -> None:
    """Client logs, newest first (page with --cursor)."""
    filters = _log_filter(json_out, since, until, identity=identity, ip=ip, text=text)
    page = run(
        ctx,
        json_out,
        lambda rt: admin.list_client_logs(rt, app_id, filters, cursor=cursor, limit=limit),
    )
    rows = [vars(i) for i in page.items]
    show_rows(json_out, "logs", rows, _LOG_COLUMNS, extra={"next_cursor": page.next_cursor})


@log_app.command("export")
def log_export(
    ctx: typer.Context,
    app_id: AppOpt,
    fmt: FormatOpt = "csv",
    output: OutputOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    identity: IdentityOpt = None,
    ip: IpOpt = None,
    text: Annotated[str | None, typer.Option("--text")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export client logs as CSV or JSON (oldest first)."""
    filters = _log_filter(json_out, since, until, identity=identity, ip=ip, text=text)

    async def work(rt: Runtime) -> Any:
        with _busy("exporting client logs"):
            return await admin.export_client_logs(rt, app_id, filters, fmt)

    _write_export(json_out, lambda: run(ctx, json_out, work), output)


def _purge(
    ctx: typer.Context,
    app_id: str,
    kind: str,
    before: str | None,
    everything: bool,
    json_out: bool,
) -> None:
    when = parse_when(json_out, "--before", before)
    purge = admin.purge_client_logs if kind == "client-logs" else admin.purge_auth_events
    count = run(
        ctx,
        json_out,
        lambda rt: audited(
            rt,
            "log.purge",
            lambda: purge(rt, app_id, before=when, everything=everything),
            app_id=app_id,
            target_type=kind,
            target="all" if everything else "before",
            changes=lambda n: {"purged": [None, n], "before": [None, when]},
        ),
    )
    show(json_out, {"app_id": app_id, "purged": count})


@log_app.command("purge")
def log_purge(
    ctx: typer.Context,
    app_id: AppOpt,
    before: BeforeOpt = None,
    everything: AllOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete client logs older than --before, or --all of them."""
    _purge(ctx, app_id, "client-logs", before, everything, json_out)


@log_app.command("events")
def log_events(
    ctx: typer.Context,
    app_id: AppOpt,
    since: SinceOpt = None,
    until: UntilOpt = None,
    code: Annotated[str | None, typer.Option("--code")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint")] = None,
    ip: IpOpt = None,
    identity: IdentityOpt = None,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    json_out: JsonOpt = False,
) -> None:
    """Auth events, newest first (page with --cursor)."""
    filters = _event_filter(
        json_out, since, until, code=code, endpoint=endpoint, ip=ip, identity=identity
    )
    page = run(
        ctx,
        json_out,
        lambda rt: admin.list_auth_events(rt, app_id, filters, cursor=cursor, limit=limit),
    )
    rows = [vars(i) for i in page.items]
    show_rows(json_out, "events", rows, _EVENT_COLUMNS, extra={"next_cursor": page.next_cursor})


@log_app.command("events-export")
def log_events_export(
    ctx: typer.Context,
    app_id: AppOpt,
    fmt: FormatOpt = "csv",
    output: OutputOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    code: Annotated[str | None, typer.Option("--code")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint")] = None,
    ip: IpOpt = None,
    identity: IdentityOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export auth events as CSV or JSON (oldest first)."""
    filters = _event_filter(
        json_out, since, until, code=code, endpoint=endpoint, ip=ip, identity=identity
    )

    async def work(rt: Runtime) -> Any:
        with _busy("exporting auth events"):
            return await admin.export_auth_events(rt, app_id, filters, fmt)

    _write_export(json_out, lambda: run(ctx, json_out, work), output)


@log_app.command("events-purge")
def log_events_purge(
    ctx: typer.Context,
    app_id: AppOpt,
    before: BeforeOpt = None,
    everything: AllOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete auth events older than --before, or --all of them."""
    _purge(ctx, app_id, "auth-events", before, everything, json_out)


__all__ = ["audited", "show_rows"]
