"""Routes of the native REST management API, `/api/manage/v1` (management Part B).

First slice: apps (B.4: list, info, edit), subscriptions (B.5: list, create), licenses (B.6:
list, add, generate, info, delete, ban/unban/pause/unpause) and users (B.7: list, create,
info, delete, ban/unban/pause/unpause).

Each route names its capability (`license.ban`); `auth.Guard` authenticates the token,
hides other owners' apps (404) and checks the capability (403). Each change calls the admin
service, then writes its audit entry with the token as actor (face `rest`, client IP, request
id). `ManageRoute` runs every changing call in one write transaction that the services join,
so the change and its entry commit together.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures at
# definition time, and their `Depends(guard.app(...))` refer to local names.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from starlette.routing import Match

from licentia.api.manage import (
    queries,
    routes_admin,
    routes_apps,
    routes_licenses,
    routes_team,
    routes_users,
    schemas,
)
from licentia.api.manage.auth import Ctx, Guard
from licentia.api.manage.errors import ErrorOut, route_class
from licentia.api.manage.pagination import DEFAULT_LIMIT, MAX_LIMIT
from licentia.api.manage.routing import api_fields, state_changes, term_args
from licentia.services import admin
from licentia.services.admin_common import AdminError
from licentia.services.runtime import Runtime

PREFIX = "/api/manage/v1"

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "INVALID_TOKEN: missing, invalid, expired or revoked"},
    "4XX": {
        "model": ErrorOut,
        "description": "An error `{code, message, fields?}` with the status of its code: 400 "
        "INVALID_INPUT / MISSING_FIELDS, 403 PERMISSION_DENIED, 404 *_NOT_FOUND (also for "
        "another owner's objects), 409 ALREADY_EXISTS",
    },
}


def build_router(get_runtime: Callable[[], Runtime | None]) -> APIRouter:
    """The management API's routes, prefixed with `PREFIX`. `get_runtime` is called per
    request (the runtime exists once the app has started)."""
    guard = Guard(get_runtime)
    router = APIRouter(prefix=PREFIX, route_class=route_class(get_runtime), responses=_ERRORS)

    # -- apps ----------------------------------------------------------------------------

    @router.get("/apps", response_model=schemas.AppList, tags=["apps"], summary="List apps")
    async def list_apps(ctx: Annotated[Ctx, Depends(guard.account("app.list"))]) -> Any:
        """The token owner's apps, by name; an app-limited token sees only its apps."""
        items = await queries.list_apps(
            ctx.rt, ctx.principal.owner_account_id, ctx.principal.app_ids
        )
        return schemas.AppList(items=items)

    async def _app_out(rt: Runtime, app_id: str) -> dict[str, Any]:
        settings = await admin.get_app_settings(rt, app_id)
        details = await queries.app_details(rt, app_id)
        return {"id": app_id, **settings, **details}

    @router.get(
        "/apps/{app_id}", response_model=schemas.AppOut, tags=["apps"], summary="App settings"
    )
    async def app_info(ctx: Annotated[Ctx, Depends(guard.app("app.info"))]) -> Any:
        assert ctx.app_id is not None
        return await _app_out(ctx.rt, ctx.app_id)

    @router.patch(
        "/apps/{app_id}", response_model=schemas.AppPatchOut, tags=["apps"], summary="Edit an app"
    )
    async def app_edit(
        ctx: Annotated[Ctx, Depends(guard.app("app.edit"))], body: schemas.AppPatch
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
        out = await _app_out(ctx.rt, ctx.app_id)
        out["warnings"] = [w for r in results for w in r.warnings]
        return out

    # -- subscriptions -------------------------------------------------------------------

    @router.get(
        "/apps/{app_id}/subscriptions",
        response_model=schemas.SubscriptionList,
        tags=["subscriptions"],
        summary="List subscriptions",
    )
    async def subscription_list(
        ctx: Annotated[Ctx, Depends(guard.app("subscription.list"))],
    ) -> Any:
        """By level, then name."""
        assert ctx.app_id is not None
        return schemas.SubscriptionList(items=await queries.list_subscriptions(ctx.rt, ctx.app_id))

    @router.post(
        "/apps/{app_id}/subscriptions",
        response_model=schemas.SubscriptionOut,
        status_code=201,
        tags=["subscriptions"],
        summary="Create a subscription",
    )
    async def subscription_create(
        ctx: Annotated[Ctx, Depends(guard.app("subscription.create"))],
        body: schemas.SubscriptionCreate,
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            sub = await admin.create_subscription(ctx.rt, ctx.app_id, body.name, body.level)
        await ctx.audit(
            target_type="subscription",
            target=sub.name,
            changes={"name": [None, sub.name], "level": [None, sub.level]},
        )
        return await queries.get_subscription(ctx.rt, sub.id)

    # -- licenses ------------------------------------------------------------------------

    @router.get(
        "/apps/{app_id}/licenses",
        response_model=schemas.LicensePage,
        tags=["licenses"],
        summary="List licenses",
    )
    async def license_list(
        ctx: Annotated[Ctx, Depends(guard.app("license.list"))],
        state: schemas.LicenseStateName | None = None,
        subscription: Annotated[str | None, Query(max_length=64)] = None,
        note: Annotated[str | None, Query(max_length=500, description="exact match")] = None,
        batch: Annotated[str | None, Query(max_length=64, description="batch id")] = None,
        search: Annotated[str | None, Query(max_length=64, description="key prefix")] = None,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first, one page at a time: follow `next_cursor` until it is null."""
        assert ctx.app_id is not None
        return await queries.list_licenses(
            ctx.rt,
            ctx.app_id,
            state=state,
            subscription=subscription,
            note=note,
            batch=batch,
            search=search,
            cursor=cursor,
            limit=limit,
        )

    @router.post(
        "/apps/{app_id}/licenses",
        response_model=schemas.LicenseOut,
        status_code=201,
        tags=["licenses"],
        summary="Add one license key",
    )
    async def license_add(
        ctx: Annotated[Ctx, Depends(guard.app("license.add"))], body: schemas.LicenseCreate
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            state = await admin.add_license(
                ctx.rt,
                ctx.app_id,
                body.key,
                body.subscription,
                device_limit=body.device_limit,
                note=body.note,
                email=body.email or "",
                created_by=ctx.created_by,
                **term_args(body.expiry_date, body.duration_days),
            )
        out = await queries.get_license(ctx.rt, ctx.app_id, state.key)
        await ctx.audit(
            target_type="license",
            target=out.key,
            changes={
                "subscription": [None, out.subscription],
                "duration_days": [None, out.duration_days],
                "expiry_date": [None, out.expiry_date if out.status != "unused" else None],
                "device_limit": [None, out.device_limit],
                "note": [None, out.note],
            },
        )
        return out

    @router.post(
        "/apps/{app_id}/licenses/generate",
        response_model=schemas.LicenseBatch,
        status_code=201,
        tags=["licenses"],
        summary="Generate license keys from a mask",
    )
    async def license_generate(
        ctx: Annotated[Ctx, Depends(guard.app("license.generate"))],
        body: schemas.LicenseGenerate,
    ) -> Any:
        """All or nothing, in one transaction; the keys are returned once, with their batch."""
        assert ctx.app_id is not None
        if body.idempotency_key is not None:
            raise AdminError(
                "INVALID_INPUT",
                "idempotency_key is not supported by this server yet",
                ["idempotency_key"],
            )
        with api_fields():
            keys = await admin.generate_licenses(
                ctx.rt,
                ctx.app_id,
                body.subscription,
                device_limit=body.device_limit,
                count=body.amount,
                mask=body.mask,
                note=body.note,
                use_capital=body.use_capital,
                use_lowercase=body.use_lowercase,
                use_numbers=body.use_numbers,
                created_by=ctx.created_by,
                **term_args(body.expiry_date, body.duration_days),
            )
        batch_id = await queries.batch_of(ctx.rt, ctx.app_id, keys[0])
        await ctx.audit(
            target_type="license-batch",
            target=batch_id,
            changes={
                "count": [None, len(keys)],
                "subscription": [None, body.subscription],
                "duration_days": [None, body.duration_days],
                "expiry_date": [None, body.expiry_date],
                "device_limit": [None, body.device_limit],
                "note": [None, body.note],
                "mask": [None, body.mask],
            },
        )
        return schemas.LicenseBatch(keys=keys, count=len(keys), batch_id=batch_id)

    @router.get(
        "/apps/{app_id}/licenses/{key}",
        response_model=schemas.LicenseOut,
        tags=["licenses"],
        summary="One license",
    )
    async def license_info(
        ctx: Annotated[Ctx, Depends(guard.app("license.info"))], key: str
    ) -> Any:
        assert ctx.app_id is not None
        return await queries.get_license(ctx.rt, ctx.app_id, key)

    @router.delete(
        "/apps/{app_id}/licenses/{key}",
        status_code=204,
        response_class=Response,
        tags=["licenses"],
        summary="Delete a license (ends its sessions)",
    )
    async def license_delete(
        ctx: Annotated[Ctx, Depends(guard.app("license.delete"))], key: str
    ) -> Response:
        assert ctx.app_id is not None
        before = await queries.get_license(ctx.rt, ctx.app_id, key)
        await admin.delete_license(ctx.rt, ctx.app_id, before.key)
        await ctx.audit(target=before.key, changes={"state": [before.state, None]})
        return Response(status_code=204)

    license_actions: dict[str, Any] = {
        "ban": admin.ban_license,
        "unban": admin.unban_license,
        "pause": admin.pause_license,
        "unpause": admin.unpause_license,
    }
    for action, service in license_actions.items():
        _license_action(router, guard, action, service)

    # -- users ---------------------------------------------------------------------------

    @router.get(
        "/apps/{app_id}/users",
        response_model=schemas.UserPage,
        tags=["users"],
        summary="List users",
    )
    async def user_list(
        ctx: Annotated[Ctx, Depends(guard.app("user.list"))],
        state: schemas.UserStateName | None = None,
        subscription: Annotated[str | None, Query(max_length=64)] = None,
        search: Annotated[
            str | None, Query(max_length=254, description="prefix of the username or email")
        ] = None,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first, one page at a time: follow `next_cursor` until it is null."""
        assert ctx.app_id is not None
        return await queries.list_users(
            ctx.rt,
            ctx.app_id,
            state=state,
            subscription=subscription,
            search=search,
            cursor=cursor,
            limit=limit,
        )

    @router.post(
        "/apps/{app_id}/users",
        response_model=schemas.UserOut,
        status_code=201,
        tags=["users"],
        summary="Create a user",
    )
    async def user_create(
        ctx: Annotated[Ctx, Depends(guard.app("user.create"))], body: schemas.UserCreate
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
        out = await queries.get_user(ctx.rt, ctx.app_id, state.name)
        await ctx.audit(
            target_type="user",
            target=out.username,
            changes={
                "password": [None, "set"],
                "subscription": [None, out.subscription],
                "email": [None, out.email],
                "expiry_date": [None, out.expiry_date],
                "device_limit": [None, out.device_limit],
                "note": [None, out.note],
            },
        )
        return out

    @router.get(
        "/apps/{app_id}/users/{username}",
        response_model=schemas.UserOut,
        tags=["users"],
        summary="One user",
    )
    async def user_info(ctx: Annotated[Ctx, Depends(guard.app("user.info"))], username: str) -> Any:
        assert ctx.app_id is not None
        return await queries.get_user(ctx.rt, ctx.app_id, username)

    @router.delete(
        "/apps/{app_id}/users/{username}",
        status_code=204,
        response_class=Response,
        tags=["users"],
        summary="Delete a user (ends its sessions)",
    )
    async def user_delete(
        ctx: Annotated[Ctx, Depends(guard.app("user.delete"))], username: str
    ) -> Response:
        assert ctx.app_id is not None
        before = await queries.get_user(ctx.rt, ctx.app_id, username)
        await admin.delete_user(ctx.rt, ctx.app_id, before.username)
        await ctx.audit(target=before.username, changes={"state": [before.state, None]})
        return Response(status_code=204)

    user_actions: dict[str, Any] = {
        "ban": admin.ban_user,
        "unban": admin.unban_user,
        "pause": admin.pause_user,
        "unpause": admin.unpause_user,
    }
    for action, service in user_actions.items():
        _user_action(router, guard, action, service)

    # -- everything else -----------------------------------------------------------------

    @router.api_route(
        "/{path:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        include_in_schema=False,
    )
    async def unknown(request: Request, path: str) -> Response:
        """404 NOT_FOUND for unknown paths, 405 METHOD_NOT_ALLOWED for known ones."""
        for route in router.routes:
            if getattr(route, "endpoint", None) is unknown:
                continue
            if route.matches(request.scope)[0] is Match.PARTIAL:
                raise AdminError("METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")
        raise AdminError("NOT_FOUND", "Unknown endpoint")

    # Further resources, one module per family; each adds its routes to this router.
    for module in (routes_licenses, routes_users, routes_apps, routes_team, routes_admin):
        module.register(router, guard)
    return router


def _license_action(router: APIRouter, guard: Guard, action: str, service: Any) -> None:
    async def endpoint(
        ctx: Annotated[Ctx, Depends(guard.app(f"license.{action}"))],
        key: str,
        body: Annotated[schemas.ReasonIn | None, Body()] = None,
    ) -> Any:
        assert ctx.app_id is not None
        before = await queries.get_license(ctx.rt, ctx.app_id, key)
        with api_fields():
            await service(ctx.rt, ctx.app_id, before.key, body.reason if body else "")
        after = await queries.get_license(ctx.rt, ctx.app_id, before.key)
        # An unused duration key's expiry_date is "if activated now": not a stored change.
        fixed = before.status != "unused" or before.duration_days is None
        changes = state_changes(before, after, with_expiry=fixed)
        if changes:  # idempotent repeats change nothing and leave no entry
            await ctx.audit(target=before.key, changes=changes)
        return after

    router.add_api_route(
        f"/apps/{{app_id}}/licenses/{{key}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=schemas.LicenseOut,
        tags=["licenses"],
        summary=f"{action.capitalize()} a license",
        name=f"license_{action}",
    )


def _user_action(router: APIRouter, guard: Guard, action: str, service: Any) -> None:
    async def endpoint(
        ctx: Annotated[Ctx, Depends(guard.app(f"user.{action}"))],
        username: str,
        body: Annotated[schemas.ReasonIn | None, Body()] = None,
    ) -> Any:
        assert ctx.app_id is not None
        before = await queries.get_user(ctx.rt, ctx.app_id, username)
        with api_fields():
            await service(ctx.rt, ctx.app_id, before.username, body.reason if body else "")
        after = await queries.get_user(ctx.rt, ctx.app_id, before.username)
        changes = state_changes(before, after, with_expiry=True)
        if changes:
            await ctx.audit(target=before.username, changes=changes)
        return after

    router.add_api_route(
        f"/apps/{{app_id}}/users/{{username}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=schemas.UserOut,
        tags=["users"],
        summary=f"{action.capitalize()} a user",
        name=f"user_{action}",
    )
