"""Management API routes for users (B.7), bound devices (B.8), hardware devices (B.9) and client
sessions (B.13).

Every route calls one service of `services.admin_identities`, `admin_sessions`,
`transfer_identities` or `views_users` (the same the CLI and the Elite Key API call), then
writes its audit entry (`ctx.audit`) with the before/after of the changed fields. `ManageRoute`
runs each changing call in one write transaction, so a refused call changes nothing.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures at
# definition time, and their `Depends(guard.app(...))` refer to local names.

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from licentia.api.manage import schemas
from licentia.api.manage import schemas_users as su
from licentia.api.manage.auth import Ctx, Guard
from licentia.api.manage.pagination import DEFAULT_LIMIT, MAX_LIMIT
from licentia.api.manage.routing import api_fields, page_body, state_changes, term_args
from licentia.services import admin, transfer_identities, views_users
from licentia.services.admin_common import AdminError

Cursor = Annotated[str | None, Query(max_length=512)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
_EXPORT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CSV (`text/csv`) or JSON (`application/json`)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


_diff = views_users.changes_between


def _edit_args(body: Any) -> dict[str, Any]:
    """The fields a PATCH body gave (an explicit null is a value: no email, lifetime)."""
    given = body.model_dump(exclude_unset=True)
    nulls = sorted(k for k, v in given.items() if v is None and k not in ("email", "expiry_date"))
    if nulls:
        raise AdminError("INVALID_INPUT", f"{nulls[0]} must not be null", nulls)
    return {("expiry" if k == "expiry_date" else k): v for k, v in given.items()}


def _shift_args(body: su.ShiftIn) -> dict[str, Any]:
    if body.days is not None and body.expiry_date is not None:
        raise AdminError(
            "INVALID_INPUT", "give days or expiry_date, not both", ["days", "expiry_date"]
        )
    if body.days is None and body.expiry_date is None:
        raise AdminError("MISSING_FIELDS", "give days or expiry_date", ["days"])
    return {"days": body.days, "expires": body.expiry_date}


async def _read_csv(request: Request) -> str:
    raw = await request.body()
    if len(raw) > transfer_identities.MAX_IMPORT_BYTES:
        raise AdminError("PAYLOAD_TOO_LARGE", "the file is too large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AdminError("INVALID_INPUT", "the CSV must be UTF-8", ["body"]) from None


def _export(text: str, fmt: str, name: str) -> Response:
    media = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
    return Response(
        content=text,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""
    _users(router, guard)
    _bindings(router, guard)
    _devices(router, guard)
    _sessions(router, guard)


# -- users -------------------------------------------------------------------------------


def _users(router: APIRouter, guard: Guard) -> None:
    base = "/apps/{app_id}/users"

    async def user_dict(ctx: Ctx, username: str) -> dict[str, Any]:
        assert ctx.app_id is not None
        return (await views_users.get_user(ctx.rt, ctx.app_id, username)).as_dict()

    @router.get(base, response_model=su.UserPage, tags=["users"], summary="List users")
    async def user_list(
        ctx: Annotated[Ctx, Depends(guard.app("user.list"))],
        state: su.UserStateName | None = None,
        subscription: Annotated[str | None, Query(max_length=64)] = None,
        search: Annotated[
            str | None, Query(max_length=254, description="prefix of the username or email")
        ] = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        login_from: Annotated[datetime | None, Query(description="last login at or after")] = None,
        login_to: Annotated[datetime | None, Query(description="last login before")] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first, one page at a time: follow `next_cursor` until it is null."""
        assert ctx.app_id is not None
        page = await views_users.list_users(
            ctx.rt,
            ctx.app_id,
            state=state,
            subscription=subscription,
            search=search,
            created_from=created_from,
            created_to=created_to,
            login_from=login_from,
            login_to=login_to,
            cursor=cursor,
            limit=limit,
        )
        return page_body(page)

    @router.post(
        base, response_model=su.UserOut, status_code=201, tags=["users"], summary="Create a user"
    )
    async def user_create(
        ctx: Annotated[Ctx, Depends(guard.app("user.create"))], body: su.UserCreate
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            state = await admin.create_user(
                ctx.rt,
                ctx.app_id,
                body.username,
                body.password,
                body.subscription,
                email=body.email or "",
                device_limit=body.device_limit,
                note=body.note,
                created_by=ctx.created_by,
                **term_args(body.expiry_date, body.duration_days),
            )
        out = await user_dict(ctx, state.name)
        await ctx.audit(
            target_type="user",
            target=out["username"],
            changes={
                "password": [None, "set"],
                "subscription": [None, out["subscription"]],
                "email": [None, out["email"]],
                "expiry_date": [None, out["expiry_date"]],
                "device_limit": [None, out["device_limit"]],
                "note": [None, out["note"]],
            },
        )
        return out

    @router.get(
        base + "/export",
        tags=["users"],
        summary="Export users (CSV or JSON)",
        response_class=Response,
        responses=_EXPORT_RESPONSE,
    )
    async def user_export(
        ctx: Annotated[Ctx, Depends(guard.app("user.export"))],
        format: su.ExportFormat = "csv",
        state: su.UserStateName | None = None,
        subscription: Annotated[str | None, Query(max_length=64)] = None,
        search: Annotated[str | None, Query(max_length=254)] = None,
    ) -> Response:
        """Every matching user; CSV cells that a spreadsheet would run are defused with `'`.
        Password hashes are never exported."""
        assert ctx.app_id is not None
        text = await transfer_identities.export_users(
            ctx.rt, ctx.app_id, fmt=format, state=state, subscription=subscription, search=search
        )
        return _export(text, format, "users")

    @router.post(
        base + "/import",
        response_model=su.ImportOut,
        status_code=201,
        tags=["users"],
        summary="Import users from CSV (all rows or none)",
        openapi_extra=_CSV_BODY,
    )
    async def user_import(
        request: Request, ctx: Annotated[Ctx, Depends(guard.app("user.import"))]
    ) -> Any:
        """Columns: `username`, `subscription`, and `password_hash` (argon2id) or `password`
        (an initial password); optional `email`, `expiry_date`, `device_limit`, `note`,
        `banned`, `ban_reason`, `paused`. One bad row refuses the whole file, naming its line."""
        assert ctx.app_id is not None
        text = await _read_csv(request)
        result = await transfer_identities.import_users(
            ctx.rt, ctx.app_id, text, created_by=ctx.created_by
        )
        await ctx.audit(
            target_type="user",
            target=f"import of {result.created} users",
            changes={"created": [None, result.created]},
        )
        return {"created": result.created}

    @router.get(base + "/{username}", response_model=su.UserOut, tags=["users"], summary="One user")
    async def user_info(ctx: Annotated[Ctx, Depends(guard.app("user.info"))], username: str) -> Any:
        return await user_dict(ctx, username)

    @router.patch(
        base + "/{username}", response_model=su.UserOut, tags=["users"], summary="Edit a user"
    )
    async def user_edit(
        ctx: Annotated[Ctx, Depends(guard.app("user.edit"))], username: str, body: su.UserEdit
    ) -> Any:
        """Email, subscription, device limit, expiry (`null` = lifetime) and note; only the
        fields given change."""
        assert ctx.app_id is not None
        before = await user_dict(ctx, username)
        with api_fields():
            await admin.edit_user(ctx.rt, ctx.app_id, before["username"], **_edit_args(body))
        after = await user_dict(ctx, before["username"])
        changes = _diff(before, after)
        if changes:
            await ctx.audit(target=before["username"], changes=changes)
        return after

    @router.delete(
        base + "/{username}",
        status_code=204,
        response_class=Response,
        tags=["users"],
        summary="Delete a user (ends its sessions)",
    )
    async def user_delete(
        ctx: Annotated[Ctx, Depends(guard.app("user.delete"))], username: str
    ) -> Response:
        assert ctx.app_id is not None
        before = await user_dict(ctx, username)
        await admin.delete_user(ctx.rt, ctx.app_id, before["username"])
        await ctx.audit(target=before["username"], changes={"state": [before["state"], None]})
        return Response(status_code=204)

    state_services: dict[str, Any] = {
        "ban": admin.ban_user,
        "unban": admin.unban_user,
        "pause": admin.pause_user,
        "unpause": admin.unpause_user,
    }
    for action, service in state_services.items():
        _user_state_route(router, guard, action, service)
    _user_shift_route(router, guard, "extend", admin.extend_user)
    _user_shift_route(router, guard, "shorten", admin.shorten_user)

    @router.post(
        base + "/{username}/reset-password",
        response_model=su.UserOut,
        tags=["users"],
        summary="Set a new password (ends the user's sessions)",
    )
    async def user_reset_password(
        ctx: Annotated[Ctx, Depends(guard.app("user.reset_password"))],
        username: str,
        body: su.PasswordResetIn,
    ) -> Any:
        assert ctx.app_id is not None
        before = await user_dict(ctx, username)
        with api_fields():
            await admin.reset_user_password(
                ctx.rt, ctx.app_id, before["username"], body.new_password
            )
        await ctx.audit(target=before["username"], changes={"password": ["set", "set"]})
        return await user_dict(ctx, before["username"])

    @router.post(
        base + "/{username}/verify-password",
        response_model=su.PasswordCheckOut,
        tags=["users"],
        summary="Check a user's password (422 INVALID_PASSWORD when wrong)",
    )
    async def user_verify_password(
        ctx: Annotated[Ctx, Depends(guard.app("user.verify_password"))],
        username: str,
        body: su.PasswordCheckIn,
    ) -> Any:
        """Changes nothing. An unknown user costs the same argon2 check before its 404."""
        assert ctx.app_id is not None
        await admin.verify_user_password(ctx.rt, ctx.app_id, username, body.password)
        user = await user_dict(ctx, username)
        return {
            "valid": True,
            "username": user["username"],
            "subscription": user["subscription"],
            "expiry": user["expiry_date"],
            "banned": user["banned"],
            "paused": user["paused"],
        }

    @router.post(
        base + "/{username}/reset-hwid",
        response_model=su.UserOut,
        tags=["users"],
        summary="Remove every bound SID and the last IP",
    )
    async def user_reset_hwid(
        ctx: Annotated[Ctx, Depends(guard.app("user.reset_hwid"))], username: str
    ) -> Any:
        assert ctx.app_id is not None
        before = await user_dict(ctx, username)
        removed = await admin.reset_bindings(ctx.rt, ctx.app_id, "user", before["username"])
        after = await user_dict(ctx, before["username"])
        changes = _diff(before, after)
        if removed or changes:
            changes["bound_devices"] = [before["current_devices"], 0]
            await ctx.audit(target=before["username"], changes=changes)
        return after

    @router.get(
        base + "/{username}/devices",
        response_model=su.BindingList,
        tags=["users"],
        summary="The user's bound SIDs",
    )
    async def user_devices(
        ctx: Annotated[Ctx, Depends(guard.app("binding.list"))], username: str
    ) -> Any:
        assert ctx.app_id is not None
        items = await views_users.list_bindings(ctx.rt, ctx.app_id, "user", username)
        return {"items": [b.as_dict() for b in items]}

    @router.delete(
        base + "/{username}/devices/{sid}",
        status_code=204,
        response_class=Response,
        tags=["users"],
        summary="Unbind one SID from the user",
    )
    async def user_remove_device(
        ctx: Annotated[Ctx, Depends(guard.app("user.remove_device"))], username: str, sid: str
    ) -> Response:
        assert ctx.app_id is not None
        removed = await admin.remove_binding(ctx.rt, ctx.app_id, "user", username, sid)
        await ctx.audit(target=removed.holder, changes={"sid": [removed.sid, None]})
        return Response(status_code=204)

    @router.get(
        base + "/{username}/sessions",
        response_model=su.SessionPage,
        tags=["users"],
        summary="The user's client sessions",
    )
    async def user_sessions(
        ctx: Annotated[Ctx, Depends(guard.app("user.list_sessions"))],
        username: str,
        state: su.SessionStateName | None = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        assert ctx.app_id is not None
        page = await views_users.list_sessions(
            ctx.rt,
            ctx.app_id,
            state=state,
            identity_kind="user",
            identity=username,
            cursor=cursor,
            limit=limit,
        )
        return page_body(page)

    @router.post(
        base + "/{username}/end-sessions",
        response_model=su.EndedOut,
        tags=["users"],
        summary="End the user's live sessions",
    )
    async def user_end_sessions(
        ctx: Annotated[Ctx, Depends(guard.app("user.end_sessions"))], username: str
    ) -> Any:
        assert ctx.app_id is not None
        ended = await admin.end_identity_sessions(ctx.rt, ctx.app_id, "user", username)
        if ended:
            await ctx.audit(changes={"live_sessions": [ended, 0]})
        return {"ended": ended}


def _user_state_route(router: APIRouter, guard: Guard, action: str, service: Any) -> None:
    async def endpoint(
        ctx: Annotated[Ctx, Depends(guard.app(f"user.{action}"))],
        username: str,
        body: Annotated[schemas.ReasonIn | None, Body()] = None,
    ) -> Any:
        assert ctx.app_id is not None
        before = await views_users.get_user(ctx.rt, ctx.app_id, username)
        with api_fields():
            await service(ctx.rt, ctx.app_id, before.username, body.reason if body else "")
        after = await views_users.get_user(ctx.rt, ctx.app_id, before.username)
        changes = state_changes(before, after, with_expiry=True)
        if changes:  # idempotent repeats change nothing and leave no entry
            await ctx.audit(target=before.username, changes=changes)
        return after.as_dict()

    router.add_api_route(
        f"/apps/{{app_id}}/users/{{username}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=su.UserOut,
        tags=["users"],
        summary=f"{action.capitalize()} a user",
        name=f"user_{action}",
    )


def _user_shift_route(
    router: APIRouter, guard: Guard, action: str, service: Callable[..., Awaitable[Any]]
) -> None:
    async def endpoint(
        ctx: Annotated[Ctx, Depends(guard.app(f"user.{action}"))],
        username: str,
        body: su.ShiftIn,
    ) -> Any:
        assert ctx.app_id is not None
        before = await views_users.get_user(ctx.rt, ctx.app_id, username)
        await service(ctx.rt, ctx.app_id, before.username, **_shift_args(body))
        after = await views_users.get_user(ctx.rt, ctx.app_id, before.username)
        await ctx.audit(
            target=before.username, changes={"expiry_date": [before.expiry_date, after.expiry_date]}
        )
        return after.as_dict()

    router.add_api_route(
        f"/apps/{{app_id}}/users/{{username}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=su.UserOut,
        tags=["users"],
        summary=f"{action.capitalize()} a user's term (days or a new date)",
        name=f"user_{action}",
    )


# -- bound devices (any holder) ----------------------------------------------------------


def _bindings(router: APIRouter, guard: Guard) -> None:
    base = "/apps/{app_id}/bindings"

    @router.get(
        base, response_model=su.BindingList, tags=["bindings"], summary="SIDs bound to a holder"
    )
    async def binding_list(
        ctx: Annotated[Ctx, Depends(guard.app("binding.list"))],
        holder_kind: su.HolderKindName,
        holder: Annotated[str, Query(max_length=128, description="username or license key")],
    ) -> Any:
        assert ctx.app_id is not None
        items = await views_users.list_bindings(ctx.rt, ctx.app_id, holder_kind, holder)
        return {"items": [b.as_dict() for b in items]}

    @router.delete(
        base,
        response_model=su.BindingOut,
        tags=["bindings"],
        summary="Unbind one SID from a user or license",
    )
    async def binding_remove(
        ctx: Annotated[Ctx, Depends(guard.app("binding.remove"))],
        holder_kind: su.HolderKindName,
        holder: Annotated[str, Query(max_length=128)],
        sid: Annotated[str, Query(max_length=128)],
    ) -> Any:
        assert ctx.app_id is not None
        removed = await admin.remove_binding(ctx.rt, ctx.app_id, holder_kind, holder, sid)
        await ctx.audit(
            target_type=holder_kind, target=removed.holder, changes={"sid": [removed.sid, None]}
        )
        return removed.as_dict()

    @router.post(
        base + "/reset",
        response_model=su.ResetOut,
        tags=["bindings"],
        summary="Unbind every SID of a user or license (reset HWID)",
    )
    async def binding_reset(
        ctx: Annotated[Ctx, Depends(guard.app("binding.reset"))], body: su.BindingReset
    ) -> Any:
        assert ctx.app_id is not None
        removed = await admin.reset_bindings(ctx.rt, ctx.app_id, body.holder_kind, body.holder)
        await ctx.audit(
            target_type=body.holder_kind,
            target=body.holder,
            changes={"bound_devices": [removed, 0]},
        )
        return {"removed": removed}


# -- hardware devices --------------------------------------------------------------------


def _device_target(device: views_users.DeviceView) -> str:
    return f"{device.device_type}:{device.device_id}"


def _devices(router: APIRouter, guard: Guard) -> None:
    base = "/apps/{app_id}/devices"
    one = base + "/{device_type}/{device_id}"

    @router.get(base, response_model=su.DevicePage, tags=["devices"], summary="List devices")
    async def device_list(
        ctx: Annotated[Ctx, Depends(guard.app("device.list"))],
        device_type: su.DeviceTypeName | None = None,
        subscription: Annotated[str | None, Query(max_length=64)] = None,
        state: su.DeviceStateName | None = None,
        search: Annotated[str | None, Query(max_length=128, description="device id prefix")] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first, one page at a time: follow `next_cursor` until it is null."""
        assert ctx.app_id is not None
        with api_fields():
            page = await views_users.list_devices(
                ctx.rt,
                ctx.app_id,
                device_type=device_type,
                subscription=subscription,
                state=state,
                search=search,
                cursor=cursor,
                limit=limit,
            )
        return page_body(page)

    @router.post(
        base,
        response_model=su.DeviceOut,
        status_code=201,
        tags=["devices"],
        summary="Register a hardware device",
    )
    async def device_create(
        ctx: Annotated[Ctx, Depends(guard.app("device.create"))], body: su.DeviceCreate
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            state = await admin.create_device(
                ctx.rt,
                ctx.app_id,
                body.device_type,
                body.device_id,
                body.subscription,
                name=body.name,
                email=body.email or "",
                note=body.note,
                created_by=ctx.created_by,
                **term_args(body.expiry_date, body.duration_days),
            )
        out = await views_users.get_device(ctx.rt, ctx.app_id, str(state.device_type), state.name)
        await ctx.audit(
            target_type="device",
            target=_device_target(out),
            changes={
                "subscription": [None, out.subscription],
                "name": [None, out.name],
                "email": [None, out.email],
                "expiry_date": [None, out.expiry_date],
                "note": [None, out.note],
            },
        )
        return out.as_dict()

    @router.get(
        base + "/export",
        tags=["devices"],
        summary="Export devices (CSV or JSON)",
        response_class=Response,
        responses=_EXPORT_RESPONSE,
    )
    async def device_export(
        ctx: Annotated[Ctx, Depends(guard.app("device.export"))],
        format: su.ExportFormat = "csv",
        device_type: su.DeviceTypeName | None = None,
        subscription: Annotated[str | None, Query(max_length=64)] = None,
        state: su.DeviceStateName | None = None,
    ) -> Response:
        assert ctx.app_id is not None
        text = await transfer_identities.export_devices(
            ctx.rt,
            ctx.app_id,
            fmt=format,
            device_type=device_type,
            subscription=subscription,
            state=state,
        )
        return _export(text, format, "devices")

    @router.post(
        base + "/import",
        response_model=su.ImportOut,
        status_code=201,
        tags=["devices"],
        summary="Import devices from CSV (all rows or none)",
        openapi_extra=_CSV_BODY,
    )
    async def device_import(
        request: Request, ctx: Annotated[Ctx, Depends(guard.app("device.import"))]
    ) -> Any:
        """Columns: `device_type`, `device_id`, `subscription`; optional `name`, `email`,
        `expiry_date`, `note`. One bad row refuses the whole file, naming its line."""
        assert ctx.app_id is not None
        text = await _read_csv(request)
        result = await transfer_identities.import_devices(
            ctx.rt, ctx.app_id, text, created_by=ctx.created_by
        )
        await ctx.audit(
            target_type="device",
            target=f"import of {result.created} devices",
            changes={"created": [None, result.created]},
        )
        return {"created": result.created}

    @router.get(one, response_model=su.DeviceOut, tags=["devices"], summary="One device")
    async def device_info(
        ctx: Annotated[Ctx, Depends(guard.app("device.info"))], device_type: str, device_id: str
    ) -> Any:
        assert ctx.app_id is not None
        return (await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)).as_dict()

    @router.patch(one, response_model=su.DeviceOut, tags=["devices"], summary="Edit a device")
    async def device_edit(
        ctx: Annotated[Ctx, Depends(guard.app("device.edit"))],
        device_type: str,
        device_id: str,
        body: su.DeviceEdit,
    ) -> Any:
        assert ctx.app_id is not None
        before = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        with api_fields():
            await admin.edit_device(
                ctx.rt, ctx.app_id, before.device_type, before.device_id, **_edit_args(body)
            )
        after = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        changes = _diff(before.as_dict(), after.as_dict())
        if changes:
            await ctx.audit(target_type="device", target=_device_target(after), changes=changes)
        return after.as_dict()

    @router.delete(
        one,
        status_code=204,
        response_class=Response,
        tags=["devices"],
        summary="Delete a device (ends its sessions)",
    )
    async def device_delete(
        ctx: Annotated[Ctx, Depends(guard.app("device.delete"))], device_type: str, device_id: str
    ) -> Response:
        assert ctx.app_id is not None
        before = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        await admin.delete_device(ctx.rt, ctx.app_id, before.device_type, before.device_id)
        await ctx.audit(
            target_type="device",
            target=_device_target(before),
            changes={"state": [before.state, None]},
        )
        return Response(status_code=204)

    for action, service in {
        "ban": admin.ban_device,
        "unban": admin.unban_device,
        "pause": admin.pause_device,
        "unpause": admin.unpause_device,
    }.items():
        _device_state_route(router, guard, action, service)
    _device_shift_route(router, guard, "extend", admin.extend_device)
    _device_shift_route(router, guard, "shorten", admin.shorten_device)

    @router.post(
        one + "/reset",
        response_model=su.DeviceOut,
        tags=["devices"],
        summary="Clear the device's hwid and IP (activation stays)",
    )
    async def device_reset(
        ctx: Annotated[Ctx, Depends(guard.app("device.reset"))], device_type: str, device_id: str
    ) -> Any:
        assert ctx.app_id is not None
        before = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        await admin.reset_device(ctx.rt, ctx.app_id, before.device_type, before.device_id)
        after = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        changes = _diff(before.as_dict(), after.as_dict())
        if changes:
            await ctx.audit(target_type="device", target=_device_target(after), changes=changes)
        return after.as_dict()

    @router.post(
        one + "/end-sessions",
        response_model=su.EndedOut,
        tags=["devices"],
        summary="End the device's live sessions",
    )
    async def device_end_sessions(
        ctx: Annotated[Ctx, Depends(guard.app("device.end_sessions"))],
        device_type: str,
        device_id: str,
    ) -> Any:
        assert ctx.app_id is not None
        device = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        target = _device_target(device)
        ended = await admin.end_identity_sessions(ctx.rt, ctx.app_id, "device", target)
        if ended:
            await ctx.audit(
                target_type="device", target=target, changes={"live_sessions": [ended, 0]}
            )
        return {"ended": ended}


def _device_state_route(router: APIRouter, guard: Guard, action: str, service: Any) -> None:
    async def endpoint(
        ctx: Annotated[Ctx, Depends(guard.app(f"device.{action}"))],
        device_type: str,
        device_id: str,
        body: Annotated[schemas.ReasonIn | None, Body()] = None,
    ) -> Any:
        assert ctx.app_id is not None
        before = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        with api_fields():
            await service(
                ctx.rt,
                ctx.app_id,
                before.device_type,
                before.device_id,
                body.reason if body else "",
            )
        after = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        changes = state_changes(before, after, with_expiry=True)
        if changes:
            await ctx.audit(target_type="device", target=_device_target(after), changes=changes)
        return after.as_dict()

    router.add_api_route(
        f"/apps/{{app_id}}/devices/{{device_type}}/{{device_id}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=su.DeviceOut,
        tags=["devices"],
        summary=f"{action.capitalize()} a device",
        name=f"device_{action}",
    )


def _device_shift_route(
    router: APIRouter, guard: Guard, action: str, service: Callable[..., Awaitable[Any]]
) -> None:
    async def endpoint(
        ctx: Annotated[Ctx, Depends(guard.app(f"device.{action}"))],
        device_type: str,
        device_id: str,
        body: su.ShiftIn,
    ) -> Any:
        assert ctx.app_id is not None
        before = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        await service(ctx.rt, ctx.app_id, before.device_type, before.device_id, **_shift_args(body))
        after = await views_users.get_device(ctx.rt, ctx.app_id, device_type, device_id)
        await ctx.audit(
            target_type="device",
            target=_device_target(after),
            changes={"expiry_date": [before.expiry_date, after.expiry_date]},
        )
        return after.as_dict()

    router.add_api_route(
        f"/apps/{{app_id}}/devices/{{device_type}}/{{device_id}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=su.DeviceOut,
        tags=["devices"],
        summary=f"{action.capitalize()} a device's term (days or a new date)",
        name=f"device_{action}",
    )


# -- client sessions ---------------------------------------------------------------------


def _sessions(router: APIRouter, guard: Guard) -> None:
    base = "/apps/{app_id}/sessions"

    @router.get(base, response_model=su.SessionPage, tags=["sessions"], summary="List sessions")
    async def session_list(
        ctx: Annotated[Ctx, Depends(guard.app("session.list"))],
        state: su.SessionStateName | None = None,
        identity_kind: su.IdentityKindName | None = None,
        identity: Annotated[
            str | None,
            Query(max_length=160, description="username, license key or type:id of a device"),
        ] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first; `id` is the session id's first 8 characters."""
        assert ctx.app_id is not None
        page = await views_users.list_sessions(
            ctx.rt,
            ctx.app_id,
            state=state,
            identity_kind=identity_kind,
            identity=identity,
            cursor=cursor,
            limit=limit,
        )
        return page_body(page)

    @router.post(
        base + "/end-all",
        response_model=su.EndedOut,
        tags=["sessions"],
        summary="End every session of an identity, or of the whole app",
    )
    async def session_end_all(
        ctx: Annotated[Ctx, Depends(guard.app("session.end_all"))],
        body: Annotated[su.EndAllIn | None, Body()] = None,
    ) -> Any:
        assert ctx.app_id is not None
        kind = body.identity_kind if body else None
        who = body.identity if body else None
        ended = await admin.end_all_sessions(ctx.rt, ctx.app_id, identity_kind=kind, identity=who)
        if ended:
            await ctx.audit(
                target_type=kind or "app",
                target=who or ctx.app_id,
                changes={"live_sessions": [ended, 0]},
            )
        return {"ended": ended}

    @router.post(
        base + "/{session}/end",
        response_model=su.SessionOut,
        tags=["sessions"],
        summary="End one session (by its id prefix, 8+ characters)",
    )
    async def session_end(
        ctx: Annotated[Ctx, Depends(guard.app("session.end"))], session: str
    ) -> Any:
        assert ctx.app_id is not None
        result, changed = await admin.end_session(ctx.rt, ctx.app_id, session)
        if changed:  # ending an ended session changes nothing and leaves no entry
            await ctx.audit(
                target_type="session",
                target=result.id,
                changes={"state": ["live", "ended"]},
            )
        return result.as_dict()
