"""Management API routes for apps and their configuration and content: apps (B.4), variables
(B.10), chat channels, messages and mutes (B.11), client logs and auth events (B.12), version
control (B.14), hashes (B.15), IP/SID/VPN/country rules (B.16), custom messages (B.17).

Each route is a thin translation onto one admin service (the CLI and the Elite Key API call
the same ones) and, for a change, one audit entry with its before/after values. `ManageRoute`
runs every changing call in one write transaction that the services join.
"""

# No `from __future__ import annotations`: FastAPI reads the signatures at definition time.

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from licentia.api.manage import schemas_apps as s
from licentia.api.manage.auth import Ctx, Guard
from licentia.api.manage.pagination import DEFAULT_LIMIT, MAX_LIMIT
from licentia.api.manage.routing import api_fields
from licentia.services import admin, audit, views_apps
from licentia.services.admin_common import AdminError

Cursor = Annotated[str | None, Query(max_length=512)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Since = Annotated[datetime | None, Query(description="ISO 8601; entries at or after")]
Until = Annotated[datetime | None, Query(description="ISO 8601; entries before")]
Format = Annotated[Literal["csv", "json"], Query()]


def _out(model: type[BaseModel], value: Any) -> Any:
    return model.model_validate(value, from_attributes=True)


@contextmanager
def _renamed_field(service_name: str, api_name: str) -> Iterator[None]:
    """Name an offending input as this route's body calls it."""
    try:
        yield
    except AdminError as exc:
        if exc.fields:
            exc.fields = sorted({api_name if f == service_name else f for f in exc.fields})
        raise


def _countries(text: str) -> list[str]:
    return [c for c in text.split(",") if c]


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""
    _apps(router, guard)
    _variables(router, guard)
    _chat(router, guard)
    _logs(router, guard)
    _versions(router, guard)
    _hashes(router, guard)
    _rules(router, guard)
    _responses(router, guard)


# -- apps (B.4) ----------------------------------------------------------------------------


def _apps(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["apps"]

    @router.get("/apps", response_model=s.AppList, tags=tags, summary="List apps")
    async def app_list(ctx: Annotated[Ctx, Depends(guard.account("app.list"))]) -> Any:
        """The token owner's apps, by name; an app-limited token sees only its apps."""
        items = await views_apps.list_apps(
            ctx.rt, ctx.principal.owner_account_id, ctx.principal.app_ids
        )
        return s.AppList(items=[_out(s.AppSummary, i) for i in items])

    @router.post(
        "/apps", response_model=s.AppCreated, status_code=201, tags=tags, summary="Create an app"
    )
    async def app_create(
        ctx: Annotated[Ctx, Depends(guard.account("app.create"))], body: s.AppCreate
    ) -> Any:
        """The secret is in the answer (and readable later with GET .../secret)."""
        with api_fields():
            created = await admin.create_app(ctx.rt, ctx.principal.owner_id, body.name)
        ctx.app_id = created.app_id
        await ctx.audit(
            target_type="app",
            target=created.app_id,
            changes={"name": [None, created.app_name], "secret": [None, "set"]},
        )
        return s.AppCreated(
            id=created.app_id,
            name=created.app_name,
            owner_id=created.owner_id,
            secret=created.secret,
        )

    @router.get("/apps/{app_id}", response_model=s.AppOut, tags=tags, summary="One app")
    async def app_info(ctx: Annotated[Ctx, Depends(guard.app("app.info"))]) -> Any:
        """Every setting, `config_rev`, the owner's plan label and the derived counts."""
        assert ctx.app_id is not None
        return await views_apps.app_view(ctx.rt, ctx.app_id)

    @router.patch("/apps/{app_id}", response_model=s.AppPatchOut, tags=tags, summary="Edit an app")
    async def app_edit(
        ctx: Annotated[Ctx, Depends(guard.app("app.edit"))], body: s.AppPatch
    ) -> Any:
        """Change any settings; all of them or none (a refused value changes nothing)."""
        assert ctx.app_id is not None
        changes = body.model_dump(exclude_unset=True)
        nulls = sorted(name for name, value in changes.items() if value is None)
        if nulls:
            raise AdminError("INVALID_INPUT", f"{nulls[0]} must not be null", nulls)
        if not changes:
            raise AdminError("INVALID_INPUT", "give at least one setting to change", ["body"])
        before = await admin.get_app_settings(ctx.rt, ctx.app_id)
        with api_fields():
            results = await admin.set_app_settings(ctx.rt, ctx.app_id, changes)
        diff = {r.setting: [before[r.setting], r.value] for r in results}
        await ctx.audit(changes={k: v for k, v in diff.items() if v[0] != v[1]} or diff)
        out = await views_apps.app_view(ctx.rt, ctx.app_id)
        out["warnings"] = [w for r in results for w in r.warnings]
        return out

    for verb, flag in (("enable", True), ("disable", False)):
        _app_switch(router, guard, verb, flag)

    @router.post(
        "/apps/{app_id}/rename", response_model=s.AppPatchOut, tags=tags, summary="Rename an app"
    )
    async def app_rename(
        ctx: Annotated[Ctx, Depends(guard.app("app.rename"))], body: s.AppRename
    ) -> Any:
        """Deployed clients send the old name in `init` and fail until updated (a warning)."""
        assert ctx.app_id is not None
        with api_fields():
            renamed = await admin.rename_app(ctx.rt, ctx.app_id, body.name)
        if renamed.old_name != renamed.new_name:
            await ctx.audit(changes={"name": [renamed.old_name, renamed.new_name]})
        out = await views_apps.app_view(ctx.rt, ctx.app_id)
        out["warnings"] = renamed.warnings
        return out

    @router.get(
        "/apps/{app_id}/secret", response_model=s.SecretOut, tags=tags, summary="Show the secret"
    )
    async def app_secret(ctx: Annotated[Ctx, Depends(guard.app("app.secret"))]) -> Any:
        """Needs `app.secret` (or `app:write`): `app:read` tokens never see the secret.
        Every reading is audited (never the secret itself), as in the dashboard."""
        assert ctx.app_id is not None
        secret = await admin.get_app_secret(ctx.rt, ctx.app_id)
        await ctx.audit(target_type="app", target=ctx.app_id)
        return s.SecretOut(app_id=ctx.app_id, secret=secret)

    @router.post(
        "/apps/{app_id}/regenerate-secret",
        response_model=s.SecretOut,
        tags=tags,
        summary="Regenerate the secret",
    )
    async def app_regenerate_secret(
        ctx: Annotated[Ctx, Depends(guard.app("app.regenerate_secret"))],
    ) -> Any:
        """New inits need the new secret at once; live sessions continue."""
        assert ctx.app_id is not None
        secret = await admin.regenerate_secret(ctx.rt, ctx.app_id)
        await ctx.audit(changes={"secret": ["set", "changed"]})
        return s.SecretOut(app_id=ctx.app_id, secret=secret)

    @router.delete(
        "/apps/{app_id}",
        status_code=204,
        response_class=Response,
        tags=tags,
        summary="Delete an app and everything in it",
    )
    async def app_delete(
        ctx: Annotated[Ctx, Depends(guard.app("app.delete"))],
        confirm: Annotated[
            str, Query(max_length=256, description="the app's exact name, as confirmation")
        ] = "",
    ) -> Response:
        assert ctx.app_id is not None
        gone = await admin.delete_app(ctx.rt, ctx.app_id, confirm)
        await ctx.audit(changes={"name": [gone.app_name, None]})
        return Response(status_code=204)


def _app_switch(router: APIRouter, guard: Guard, verb: str, flag: bool) -> None:
    async def endpoint(ctx: Annotated[Ctx, Depends(guard.app(f"app.{verb}"))]) -> Any:
        assert ctx.app_id is not None
        before = (await admin.get_app_settings(ctx.rt, ctx.app_id))["is_enabled"]
        await admin.set_app_enabled(ctx.rt, ctx.app_id, flag)
        if before != flag:  # an idempotent repeat changes nothing and leaves no entry
            await ctx.audit(changes={"is_enabled": [before, flag]})
        return await views_apps.app_view(ctx.rt, ctx.app_id)

    router.add_api_route(
        f"/apps/{{app_id}}/{verb}",
        endpoint,
        methods=["POST"],
        response_model=s.AppOut,
        tags=["apps"],
        summary=f"{verb.capitalize()} an app",
        name=f"app_{verb}",
    )


# -- variables (B.10) ------------------------------------------------------------------------


def _variables(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["variables"]
    path = "/apps/{app_id}/variables"

    @router.get(path, response_model=s.VariableList, tags=tags, summary="List variables")
    async def variable_list(ctx: Annotated[Ctx, Depends(guard.app("variable.list"))]) -> Any:
        assert ctx.app_id is not None
        items = await admin.list_variables(ctx.rt, ctx.app_id)
        return s.VariableList(items=[_out(s.VariableOut, v) for v in items])

    @router.get(
        path + "/{var_key}", response_model=s.VariableOut, tags=tags, summary="One variable"
    )
    async def variable_get(
        ctx: Annotated[Ctx, Depends(guard.app("variable.get"))], var_key: str
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            return _out(s.VariableOut, await admin.get_variable(ctx.rt, ctx.app_id, var_key))

    @router.put(
        path + "/{var_key}",
        response_model=s.VariableSetOut,
        tags=tags,
        summary="Create or update a variable",
    )
    async def variable_set(
        ctx: Annotated[Ctx, Depends(guard.app("variable.set"))],
        var_key: str,
        body: s.VariableSet,
    ) -> Any:
        """On creation `writable` defaults to true and `auth_required` to false; on update an
        omitted flag is kept."""
        assert ctx.app_id is not None
        before: Any = None
        try:
            before = await admin.get_variable(ctx.rt, ctx.app_id, var_key)
        except AdminError as exc:
            if exc.code != "VARIABLE_NOT_FOUND" and exc.code != "INVALID_INPUT":
                raise
        with api_fields():
            saved = await admin.set_variable(
                ctx.rt,
                ctx.app_id,
                var_key,
                body.value,
                body.writable,
                body.auth_required,
                updated_by=ctx.created_by,
            )
        after = await admin.get_variable(ctx.rt, ctx.app_id, saved.key)
        fields = ("value", "writable", "auth_required")
        changes = audit.field_changes(before, after, fields)
        await ctx.audit(target_type="variable", target=saved.key, changes=changes)
        return s.VariableSetOut(**asdict(after), created=saved.created, warnings=saved.warnings)

    @router.delete(
        path + "/{var_key}",
        status_code=204,
        response_class=Response,
        tags=tags,
        summary="Delete a variable",
    )
    async def variable_delete(
        ctx: Annotated[Ctx, Depends(guard.app("variable.delete"))], var_key: str
    ) -> Response:
        assert ctx.app_id is not None
        with api_fields():
            before = await admin.get_variable(ctx.rt, ctx.app_id, var_key)
            await admin.delete_variable(ctx.rt, ctx.app_id, var_key)
        await ctx.audit(
            target_type="variable", target=before.key, changes={"value": [before.value, None]}
        )
        return Response(status_code=204)


# -- chat (B.11) -------------------------------------------------------------------------------


def _chat(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["chat"]
    path = "/apps/{app_id}/channels"

    @router.get(path, response_model=s.ChannelList, tags=tags, summary="List chat channels")
    async def channel_list(ctx: Annotated[Ctx, Depends(guard.app("channel.list"))]) -> Any:
        assert ctx.app_id is not None
        items = await admin.list_channels(ctx.rt, ctx.app_id)
        return s.ChannelList(items=[_out(s.ChannelOut, c) for c in items])

    @router.post(
        path, response_model=s.ChannelOut, status_code=201, tags=tags, summary="Create a channel"
    )
    async def channel_create(
        ctx: Annotated[Ctx, Depends(guard.app("channel.create"))], body: s.ChannelCreate
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            made = await admin.create_channel(
                ctx.rt, ctx.app_id, body.name, body.send_delay, body.max_messages
            )
        await ctx.audit(
            target_type="channel",
            target=made.name,
            changes={
                "name": [None, made.name],
                "send_delay": [None, made.send_delay],
                "max_messages": [None, made.max_messages],
            },
        )
        return _out(s.ChannelOut, await admin.get_channel(ctx.rt, ctx.app_id, made.name))

    @router.patch(
        path + "/{channel}", response_model=s.ChannelOut, tags=tags, summary="Edit a channel"
    )
    async def channel_edit(
        ctx: Annotated[Ctx, Depends(guard.app("channel.edit"))],
        channel: str,
        body: s.ChannelEdit,
    ) -> Any:
        """Rename it (clients address channels by name) or change its delay or cap."""
        assert ctx.app_id is not None
        with api_fields(), _renamed_field("new_name", "name"):
            before = await admin.get_channel(ctx.rt, ctx.app_id, channel)
            after = await admin.edit_channel(
                ctx.rt,
                ctx.app_id,
                channel,
                new_name=body.name,
                send_delay=body.send_delay,
                max_messages=body.max_messages,
            )
        changes = audit.field_changes(before, after, ("name", "send_delay", "max_messages"))
        if changes:
            await ctx.audit(target_type="channel", target=before.name, changes=changes)
        return _out(s.ChannelOut, after)

    @router.delete(
        path + "/{channel}",
        status_code=204,
        response_class=Response,
        tags=tags,
        summary="Delete a channel with its messages",
    )
    async def channel_delete(
        ctx: Annotated[Ctx, Depends(guard.app("channel.delete"))], channel: str
    ) -> Response:
        assert ctx.app_id is not None
        gone = await admin.delete_channel(ctx.rt, ctx.app_id, channel)
        await ctx.audit(
            target_type="channel",
            target=gone.name,
            changes={"name": [gone.name, None], "messages": [gone.message_count, 0]},
        )
        return Response(status_code=204)

    @router.post(
        path + "/{channel}/clear",
        response_model=s.CountOut,
        tags=tags,
        summary="Remove every message of a channel",
    )
    async def channel_clear(
        ctx: Annotated[Ctx, Depends(guard.app("channel.clear"))], channel: str
    ) -> Any:
        assert ctx.app_id is not None
        count = await admin.clear_channel(ctx.rt, ctx.app_id, channel)
        await ctx.audit(target_type="channel", target=channel, changes={"cleared": [None, count]})
        return s.CountOut(count=count)

    @router.get(
        path + "/{channel}/messages",
        response_model=s.MessagePage,
        tags=tags,
        summary="A channel's messages, newest first",
    )
    async def channel_messages(
        ctx: Annotated[Ctx, Depends(guard.app("channel.messages"))],
        channel: str,
        username: Annotated[str | None, Query(max_length=64)] = None,
        include_deleted: bool = False,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Follow `next_cursor` until it is null."""
        assert ctx.app_id is not None
        with api_fields():
            page = await admin.list_messages(
                ctx.rt,
                ctx.app_id,
                channel,
                username=username,
                include_deleted=include_deleted,
                cursor=cursor,
                limit=limit,
            )
        return s.MessagePage(
            items=[_out(s.MessageOut, m) for m in page.items], next_cursor=page.next_cursor
        )

    @router.delete(
        "/apps/{app_id}/messages/{message_id}",
        response_model=s.MessageOut,
        tags=tags,
        summary="Delete one chat message",
    )
    async def channel_delete_message(
        ctx: Annotated[Ctx, Depends(guard.app("channel.delete_message"))],
        message_id: int,
    ) -> Any:
        """Deleting a deleted message again changes nothing."""
        assert ctx.app_id is not None
        with api_fields():
            before = await admin.delete_message(ctx.rt, ctx.app_id, message_id)
        if not before.deleted:
            await ctx.audit(
                target_type="message", target=str(message_id), changes={"deleted": [False, True]}
            )
        return s.MessageOut(**{**asdict(before), "deleted": True})

    @router.post(
        "/apps/{app_id}/messages/delete-by-user",
        response_model=s.CountOut,
        tags=tags,
        summary="Delete every message of a user",
    )
    async def channel_delete_by_user(
        ctx: Annotated[Ctx, Depends(guard.app("channel.delete_by_user"))],
        body: s.DeleteByUser,
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            count = await admin.delete_messages_by_user(
                ctx.rt, ctx.app_id, body.username, body.channel
            )
        await ctx.audit(
            target_type="user", target=body.username, changes={"messages_deleted": [None, count]}
        )
        return s.CountOut(count=count)

    @router.get(
        "/apps/{app_id}/mutes", response_model=s.MuteList, tags=tags, summary="Active mutes"
    )
    async def channel_mutes(
        ctx: Annotated[Ctx, Depends(guard.app("channel.mutes"))],
        username: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Any:
        assert ctx.app_id is not None
        items = await admin.list_mutes(ctx.rt, ctx.app_id, username)
        return s.MuteList(items=[_out(s.MuteOut, m) for m in items])

    @router.post(
        "/apps/{app_id}/mutes",
        response_model=s.MuteOut,
        status_code=201,
        tags=tags,
        summary="Mute a user (one channel or app-wide)",
    )
    async def channel_mute(
        ctx: Annotated[Ctx, Depends(guard.app("channel.mute"))], body: s.MuteIn
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            mute = await admin.mute_user(
                ctx.rt,
                ctx.app_id,
                body.username,
                body.channel,
                body.expires_at,
                body.reason,
                created_by=ctx.created_by[:64],
            )
        out = next(m for m in await admin.list_mutes(ctx.rt, ctx.app_id) if m.id == mute.id)
        await ctx.audit(
            target_type="user",
            target=out.username,
            changes={
                "muted": [None, out.channel or "*"],
                "expires_at": [None, body.expires_at],
                "reason": [None, out.reason],
            },
        )
        return _out(s.MuteOut, out)

    @router.delete(
        "/apps/{app_id}/mutes/{username}",
        response_model=s.CountOut,
        tags=tags,
        summary="Unmute a user",
    )
    async def channel_unmute(
        ctx: Annotated[Ctx, Depends(guard.app("channel.unmute"))],
        username: str,
        channel: Annotated[
            str | None, Query(max_length=64, description="default: the app-wide mute")
        ] = None,
    ) -> Any:
        """Removes the user's mutes of that channel (or the app-wide ones); none is no error."""
        assert ctx.app_id is not None
        with api_fields():
            count = await admin.unmute_user(ctx.rt, ctx.app_id, username, channel)
        if count:
            await ctx.audit(
                target_type="user", target=username, changes={"muted": [channel or "*", None]}
            )
        return s.CountOut(count=count)


# -- logs and auth events (B.12) ---------------------------------------------------------------


def _export_response(export: Any, name: str) -> Response:
    media = "text/csv; charset=utf-8" if export.format == "csv" else "application/json"
    return Response(
        content=export.content,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{export.format}"',
            "X-Total-Count": str(export.count),
        },
    )


def _logs(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["logs"]

    @router.get(
        "/apps/{app_id}/logs",
        response_model=s.ClientLogPage,
        tags=tags,
        summary="Client logs, newest first",
    )
    async def log_list(
        ctx: Annotated[Ctx, Depends(guard.app("log.list"))],
        since: Since = None,
        until: Until = None,
        identity: Annotated[str | None, Query(max_length=128)] = None,
        ip: Annotated[str | None, Query(max_length=64)] = None,
        text: Annotated[
            str | None, Query(max_length=200, description="contained, any case")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        assert ctx.app_id is not None
        filters = admin.LogFilter(since=since, until=until, identity=identity, ip=ip, text=text)
        page = await admin.list_client_logs(ctx.rt, ctx.app_id, filters, cursor=cursor, limit=limit)
        return s.ClientLogPage(
            items=[_out(s.ClientLogOut, i) for i in page.items], next_cursor=page.next_cursor
        )

    @router.get(
        "/apps/{app_id}/logs/export",
        response_class=Response,
        tags=tags,
        summary="Export client logs (CSV or JSON)",
    )
    async def log_export(
        ctx: Annotated[Ctx, Depends(guard.app("log.export"))],
        format: Format = "csv",
        since: Since = None,
        until: Until = None,
        identity: Annotated[str | None, Query(max_length=128)] = None,
        ip: Annotated[str | None, Query(max_length=64)] = None,
        text: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        """Oldest first; the filters of the list."""
        assert ctx.app_id is not None
        filters = admin.LogFilter(since=since, until=until, identity=identity, ip=ip, text=text)
        export = await admin.export_client_logs(ctx.rt, ctx.app_id, filters, format)
        return _export_response(export, "client-logs")

    @router.post(
        "/apps/{app_id}/logs/purge",
        response_model=s.CountOut,
        tags=tags,
        summary="Purge client logs",
    )
    async def log_purge(
        ctx: Annotated[Ctx, Depends(guard.app("log.purge"))], body: s.PurgeIn
    ) -> Any:
        assert ctx.app_id is not None
        count = await admin.purge_client_logs(
            ctx.rt, ctx.app_id, before=body.before, everything=body.all
        )
        await ctx.audit(
            target_type="client-logs",
            target="all" if body.all else "before",
            changes={"purged": [None, count], "before": [None, body.before]},
        )
        return s.CountOut(count=count)

    @router.get(
        "/apps/{app_id}/auth-events",
        response_model=s.AuthEventPage,
        tags=tags,
        summary="Auth events, newest first",
    )
    async def event_list(
        ctx: Annotated[Ctx, Depends(guard.app("log.list"))],
        since: Since = None,
        until: Until = None,
        code: Annotated[str | None, Query(max_length=40)] = None,
        endpoint: Annotated[str | None, Query(max_length=32)] = None,
        ip: Annotated[str | None, Query(max_length=64)] = None,
        identity: Annotated[str | None, Query(max_length=128)] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        assert ctx.app_id is not None
        filters = admin.EventFilter(
            since=since, until=until, code=code, endpoint=endpoint, ip=ip, identity=identity
        )
        page = await admin.list_auth_events(ctx.rt, ctx.app_id, filters, cursor=cursor, limit=limit)
        return s.AuthEventPage(
            items=[_out(s.AuthEventOut, i) for i in page.items], next_cursor=page.next_cursor
        )

    @router.get(
        "/apps/{app_id}/auth-events/export",
        response_class=Response,
        tags=tags,
        summary="Export auth events (CSV or JSON)",
    )
    async def event_export(
        ctx: Annotated[Ctx, Depends(guard.app("log.export"))],
        format: Format = "csv",
        since: Since = None,
        until: Until = None,
        code: Annotated[str | None, Query(max_length=40)] = None,
        endpoint: Annotated[str | None, Query(max_length=32)] = None,
        ip: Annotated[str | None, Query(max_length=64)] = None,
        identity: Annotated[str | None, Query(max_length=128)] = None,
    ) -> Response:
        assert ctx.app_id is not None
        filters = admin.EventFilter(
            since=since, until=until, code=code, endpoint=endpoint, ip=ip, identity=identity
        )
        export = await admin.export_auth_events(ctx.rt, ctx.app_id, filters, format)
        return _export_response(export, "auth-events")

    @router.post(
        "/apps/{app_id}/auth-events/purge",
        response_model=s.CountOut,
        tags=tags,
        summary="Purge auth events",
    )
    async def event_purge(
        ctx: Annotated[Ctx, Depends(guard.app("log.purge"))], body: s.PurgeIn
    ) -> Any:
        assert ctx.app_id is not None
        count = await admin.purge_auth_events(
            ctx.rt, ctx.app_id, before=body.before, everything=body.all
        )
        await ctx.audit(
            target_type="auth-events",
            target="all" if body.all else "before",
            changes={"purged": [None, count], "before": [None, body.before]},
        )
        return s.CountOut(count=count)


# -- version control (B.14) --------------------------------------------------------------------


def _versions(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["versions"]
    path = "/apps/{app_id}/versions"

    @router.get(path, response_model=s.VersionList, tags=tags, summary="Version rules and settings")
    async def version_list(ctx: Annotated[Ctx, Depends(guard.app("version.list"))]) -> Any:
        assert ctx.app_id is not None
        rules = await admin.list_version_rules(ctx.rt, ctx.app_id)
        settings = await admin.get_version_settings(ctx.rt, ctx.app_id)
        return s.VersionList(
            items=[_out(s.VersionRuleOut, r) for r in rules],
            settings=s.VersionSettingsOut(**settings),
        )

    @router.post(
        path, response_model=s.VersionRuleOut, status_code=201, tags=tags, summary="Add a rule"
    )
    async def version_add(
        ctx: Annotated[Ctx, Depends(guard.app("version.add"))], body: s.VersionCreate
    ) -> Any:
        """A rule for a semver-equal version already existing: 409 ALREADY_EXISTS."""
        assert ctx.app_id is not None
        with api_fields():
            rule = await admin.add_version_rule(
                ctx.rt, ctx.app_id, body.version, body.mode, body.allowed_until, body.note
            )
        await ctx.audit(
            target_type="version",
            target=rule.version,
            changes={"mode": [None, rule.mode], "allowed_until": [None, rule.allowed_until]},
        )
        return next(
            _out(s.VersionRuleOut, r)
            for r in await admin.list_version_rules(ctx.rt, ctx.app_id)
            if r.version == rule.version
        )

    @router.get(
        path + "/test",
        response_model=s.VersionTestOut,
        tags=tags,
        summary="What init would answer a version",
    )
    async def version_test(
        ctx: Annotated[Ctx, Depends(guard.app("version.test"))],
        version: Annotated[str, Query(max_length=64)],
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            return _out(s.VersionTestOut, await admin.version_test(ctx.rt, ctx.app_id, version))

    @router.patch(
        path + "/{version}", response_model=s.VersionRuleOut, tags=tags, summary="Edit a rule"
    )
    async def version_edit(
        ctx: Annotated[Ctx, Depends(guard.app("version.edit"))],
        version: str,
        body: s.VersionEdit,
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            before, after = await admin.edit_version_rule(
                ctx.rt,
                ctx.app_id,
                version,
                mode=body.mode,
                allowed_until=body.allowed_until,
                note=body.note,
            )
        changes = audit.field_changes(before, after, ("mode", "allowed_until", "note"))
        if changes:
            await ctx.audit(target_type="version", target=before.version, changes=changes)
        return _out(s.VersionRuleOut, after)

    @router.delete(
        path + "/{version}",
        status_code=204,
        response_class=Response,
        tags=tags,
        summary="Remove a rule",
    )
    async def version_remove(
        ctx: Annotated[Ctx, Depends(guard.app("version.remove"))], version: str
    ) -> Response:
        assert ctx.app_id is not None
        with api_fields():
            await admin.remove_version_rule(ctx.rt, ctx.app_id, version)
        await ctx.audit(target_type="version", target=version, changes={"rule": [version, None]})
        return Response(status_code=204)

    @router.patch(
        "/apps/{app_id}/version-settings",
        response_model=s.VersionSettingsPatchOut,
        tags=tags,
        summary="Edit the version-control settings",
    )
    async def version_settings(
        ctx: Annotated[Ctx, Depends(guard.app("version.settings"))],
        body: s.VersionSettingsPatch,
    ) -> Any:
        """`latest_version` empty turns version control off; warnings for download_url or
        changelog outside the SDK-safe subset."""
        assert ctx.app_id is not None
        changes = body.model_dump(exclude_unset=True)
        nulls = sorted(name for name, value in changes.items() if value is None)
        if nulls:
            raise AdminError("INVALID_INPUT", f"{nulls[0]} must not be null", nulls)
        before = await admin.get_version_settings(ctx.rt, ctx.app_id)
        with api_fields():
            results = await admin.set_version_settings(ctx.rt, ctx.app_id, changes)
        after = await admin.get_version_settings(ctx.rt, ctx.app_id)
        diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        await ctx.audit(target_type="app", target=ctx.app_id, changes=diff)
        return s.VersionSettingsPatchOut(**after, warnings=[w for r in results for w in r.warnings])


# -- hashes (B.15) -----------------------------------------------------------------------------


def _hashes(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["hashes"]
    path = "/apps/{app_id}/hashes"

    @router.get(path, response_model=s.HashList, tags=tags, summary="Allowed hashes")
    async def hash_list(ctx: Annotated[Ctx, Depends(guard.app("hash.list"))]) -> Any:
        assert ctx.app_id is not None
        check, items = await admin.list_allowed_hashes(ctx.rt, ctx.app_id)
        return s.HashList(hash_check=check, items=[_out(s.HashOut, h) for h in items])

    @router.post(
        path, response_model=s.HashOut, status_code=201, tags=tags, summary="Register a hash"
    )
    async def hash_register(
        ctx: Annotated[Ctx, Depends(guard.app("hash.register"))], body: s.HashCreate
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            added = await admin.add_allowed_hash(ctx.rt, ctx.app_id, body.hash, body.note)
        await ctx.audit(target_type="hash", target=added.hash, changes={"hash": [None, added.hash]})
        return _out(s.HashOut, await admin.get_allowed_hash(ctx.rt, ctx.app_id, added.hash))

    for verb, flag in (("enable", True), ("disable", False)):
        _hash_switch(router, guard, verb, flag)

    @router.delete(
        path + "/{value}",
        status_code=204,
        response_class=Response,
        tags=tags,
        summary="Remove a hash",
    )
    async def hash_remove(
        ctx: Annotated[Ctx, Depends(guard.app("hash.remove"))], value: str
    ) -> Response:
        assert ctx.app_id is not None
        with api_fields():
            await admin.remove_allowed_hash(ctx.rt, ctx.app_id, value)
        text = value.strip().lower()
        await ctx.audit(target_type="hash", target=text, changes={"hash": [text, None]})
        return Response(status_code=204)


def _hash_switch(router: APIRouter, guard: Guard, verb: str, flag: bool) -> None:
    async def endpoint(ctx: Annotated[Ctx, Depends(guard.app(f"hash.{verb}"))]) -> Any:
        assert ctx.app_id is not None
        before = (await admin.get_app_settings(ctx.rt, ctx.app_id))["hash_check"]
        await admin.set_hash_check(ctx.rt, ctx.app_id, flag)
        if before != flag:
            await ctx.audit(changes={"hash_check": [before, flag]})
        return s.HashCheckOut(hash_check=flag)

    router.add_api_route(
        f"/apps/{{app_id}}/hash-check/{verb}",
        endpoint,
        methods=["POST"],
        response_model=s.HashCheckOut,
        tags=["hashes"],
        summary=f"{verb.capitalize()} the hash check",
        name=f"hash_{verb}",
    )


# -- network and SID rules (B.16) ------------------------------------------------------------


def _rules(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["rules"]
    path = "/apps/{app_id}/rules"

    async def network(ctx: Ctx) -> dict[str, Any]:
        assert ctx.app_id is not None
        settings = await admin.get_app_settings(ctx.rt, ctx.app_id)
        return {
            "vpn_block": settings["vpn_block"],
            "blocked_countries": _countries(settings["blocked_countries"]),
        }

    @router.get(path, response_model=s.RuleList, tags=tags, summary="IP and SID rules")
    async def rule_list(
        ctx: Annotated[Ctx, Depends(guard.app("rule.list"))],
        kind: s.RuleKind | None = None,
        list_: Annotated[s.ListName | None, Query(alias="list")] = None,
    ) -> Any:
        """With the VPN block and blocked countries."""
        assert ctx.app_id is not None
        items = await admin.list_rules(ctx.rt, ctx.app_id, kind, list_)
        return s.RuleList(items=[_out(s.RuleOut, r) for r in items], **await network(ctx))

    @router.post(path, response_model=s.RuleAdded, status_code=201, tags=tags, summary="Add a rule")
    async def rule_add(
        ctx: Annotated[Ctx, Depends(guard.app("rule.add"))], body: s.RuleCreate
    ) -> Any:
        """Adding a present entry again changes nothing (`created: false`)."""
        assert ctx.app_id is not None
        add = admin.add_ip_rule if body.kind == "ip" else admin.add_sid_rule
        with api_fields():
            rule = await add(ctx.rt, ctx.app_id, body.value, body.list, body.note)
        if rule.created:
            await ctx.audit(
                target_type=f"{body.kind}-rule",
                target=rule.value,
                changes={"list": [None, rule.list], "note": [None, body.note]},
            )
        found = [
            r
            for r in await admin.list_rules(ctx.rt, ctx.app_id, body.kind, rule.list)
            if r.value.casefold() == rule.value.casefold()
        ]
        return s.RuleAdded(**asdict(found[0]), created=rule.created)

    @router.delete(
        path,
        status_code=204,
        response_class=Response,
        tags=tags,
        summary="Remove a rule",
    )
    async def rule_remove(
        ctx: Annotated[Ctx, Depends(guard.app("rule.remove"))],
        kind: s.RuleKind,
        value: Annotated[str, Query(max_length=128)],
        list_: Annotated[s.ListName, Query(alias="list")] = "deny",
    ) -> Response:
        """Query parameters, as CIDR ranges hold a `/`."""
        assert ctx.app_id is not None
        remove = admin.remove_ip_rule if kind == "ip" else admin.remove_sid_rule
        with api_fields():
            await remove(ctx.rt, ctx.app_id, value, list_)
        await ctx.audit(
            target_type=f"{kind}-rule", target=value.strip(), changes={"list": [list_, None]}
        )
        return Response(status_code=204)

    @router.post(
        path + "/import",
        response_model=s.RuleImportOut,
        tags=tags,
        summary="Import many rules (all or none)",
    )
    async def rule_import(
        ctx: Annotated[Ctx, Depends(guard.app("rule.import"))], body: s.RuleImport
    ) -> Any:
        """Every entry is validated first; one bad entry refuses the whole import
        (`fields` names it as `entries.<index>`). Entries already present are skipped."""
        assert ctx.app_id is not None
        entries = [admin.RuleEntry(e.kind, e.value, e.list, e.note) for e in body.entries]
        result = await admin.import_rules(ctx.rt, ctx.app_id, entries)
        await ctx.audit(
            target_type="rules",
            target="import",
            changes={"added": [None, result.added], "existing": [None, result.existing]},
        )
        return s.RuleImportOut(added=result.added, existing=result.existing)

    @router.put(path + "/vpn", response_model=s.NetworkOut, tags=tags, summary="Set the VPN block")
    async def rule_vpn(
        ctx: Annotated[Ctx, Depends(guard.app("rule.set_vpn_block"))], body: s.VpnIn
    ) -> Any:
        assert ctx.app_id is not None
        before = await network(ctx)
        await admin.set_vpn_block(ctx.rt, ctx.app_id, body.enabled)
        if before["vpn_block"] != body.enabled:
            await ctx.audit(changes={"vpn_block": [before["vpn_block"], body.enabled]})
        return await network(ctx)

    @router.put(
        path + "/countries",
        response_model=s.NetworkOut,
        tags=tags,
        summary="Set the blocked countries",
    )
    async def rule_countries(
        ctx: Annotated[Ctx, Depends(guard.app("rule.set_countries"))], body: s.CountriesIn
    ) -> Any:
        assert ctx.app_id is not None
        before = await network(ctx)
        with api_fields():
            await admin.set_countries(ctx.rt, ctx.app_id, body.countries)
        after = await network(ctx)
        if before["blocked_countries"] != after["blocked_countries"]:
            await ctx.audit(
                changes={
                    "blocked_countries": [before["blocked_countries"], after["blocked_countries"]]
                }
            )
        return after

    @router.get(
        path + "/check",
        response_model=s.CheckOut,
        tags=tags,
        summary="Evaluate an IP and a SID as blacklist/check would",
    )
    async def rule_check(
        ctx: Annotated[Ctx, Depends(guard.app("rule.check"))],
        ip: Annotated[str, Query(max_length=64)] = "",
        sid: Annotated[str, Query(max_length=128)] = "",
        country: Annotated[
            str | None, Query(max_length=2, description="default: looked up as the client API does")
        ] = None,
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            return _out(s.CheckOut, await admin.check_access(ctx.rt, ctx.app_id, ip, sid, country))


# -- custom messages (B.17) ------------------------------------------------------------------


def _responses(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["responses"]
    path = "/apps/{app_id}/responses"

    @router.get(path, response_model=s.ResponseList, tags=tags, summary="Every custom message")
    async def response_list(
        ctx: Annotated[Ctx, Depends(guard.app("response.list"))],
        category: Annotated[Literal["Init", "Auth", "General"] | None, Query()] = None,
    ) -> Any:
        """Every customizable code with its category, default and current text."""
        assert ctx.app_id is not None
        items = await admin.list_custom_messages(ctx.rt, ctx.app_id, category)
        return s.ResponseList(items=[_out(s.ResponseOut, i) for i in items])

    @router.post(
        path + "/reset-all",
        response_model=s.CountOut,
        tags=tags,
        summary="Reset every custom message",
    )
    async def response_reset_all(
        ctx: Annotated[Ctx, Depends(guard.app("response.reset_all"))],
    ) -> Any:
        assert ctx.app_id is not None
        count = await admin.reset_all_custom_messages(ctx.rt, ctx.app_id)
        if count:
            await ctx.audit(target_type="response", target="*", changes={"overrides": [count, 0]})
        return s.CountOut(count=count)

    @router.put(path + "/{code}", response_model=s.ResponseOut, tags=tags, summary="Set a message")
    async def response_set(
        ctx: Annotated[Ctx, Depends(guard.app("response.set"))],
        code: str,
        body: s.ResponseSet,
    ) -> Any:
        """Setting the default text removes the override."""
        assert ctx.app_id is not None
        with api_fields():
            before = await admin.get_custom_message(ctx.rt, ctx.app_id, code)
            await admin.set_custom_message(ctx.rt, ctx.app_id, code, body.message)
        after = await admin.get_custom_message(ctx.rt, ctx.app_id, code)
        if before.message != after.message:
            await ctx.audit(
                target_type="response",
                target=after.code,
                changes={"message": [before.message, after.message]},
            )
        return _out(s.ResponseOut, after)

    @router.delete(
        path + "/{code}", response_model=s.ResponseOut, tags=tags, summary="Reset a message"
    )
    async def response_reset(
        ctx: Annotated[Ctx, Depends(guard.app("response.reset"))], code: str
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            before = await admin.get_custom_message(ctx.rt, ctx.app_id, code)
            await admin.reset_custom_message(ctx.rt, ctx.app_id, code)
        after = await admin.get_custom_message(ctx.rt, ctx.app_id, code)
        if before.message != after.message:
            await ctx.audit(
                target_type="response",
                target=after.code,
                changes={"message": [before.message, after.message]},
            )
        return _out(s.ResponseOut, after)
