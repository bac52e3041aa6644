"""Management API routes for staff roles and staff (B.18), rate plans, resellers and coins (B.19),
and the reseller's own view.

Owner side (an owner's token, or a staff member's whose role grants the capability):
`/roles`, `/staff`, `/rate-plans`, `/resellers` (+ `/coins`, `/ledger`). Reseller side (a
reseller's token only): `/reseller/...`. Every route calls one service of
`services.admin_staff` / `services.admin_resellers`, which writes the audit entry (actor: the
token, face `rest`) in the call's transaction.
"""

# No `from __future__ import annotations`: FastAPI reads the signatures at definition time.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from licentia.api.manage import schemas_team as s
from licentia.api.manage.auth import Ctx, Guard
from licentia.api.manage.routing import api_fields, page_body
from licentia.services import admin_resellers as resellers
from licentia.services import admin_staff as staff
from licentia.services.grants import Grantor
from licentia.services.paging import DEFAULT_LIMIT, MAX_LIMIT

Cursor = Annotated[str | None, Query(max_length=512)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
IdentifierDoc = "username or public id"


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""
    _roles(router, guard)
    _staff(router, guard)
    _rate_plans(router, guard)
    _resellers(router, guard)
    _reseller_side(router, guard)


def _by(ctx: Ctx) -> Grantor:
    """The calling token as a grantor: its scopes and app limit within its account's rights
    (`services.grants`: nobody grants what they do not hold)."""
    principal = ctx.principal
    return Grantor(principal.account_id, principal.scopes, principal.app_ids)


def _roles(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["staff"]

    @router.get("/roles", response_model=s.RolePage, tags=tags, summary="List staff roles")
    async def role_list(
        ctx: Annotated[Ctx, Depends(guard.account("role.list"))],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first; follow `next_cursor` until it is null."""
        page = await staff.list_roles(ctx.rt, ctx.principal.owner_id, cursor=cursor, limit=limit)
        return page_body(page)

    @router.post(
        "/roles", response_model=s.RoleOut, status_code=201, tags=tags, summary="Create a role"
    )
    async def role_create(
        ctx: Annotated[Ctx, Depends(guard.account("role.create"))], body: s.RoleCreate
    ) -> Any:
        """Permissions are capability names (`license.ban`) or `name:read` / `name:write`;
        `apps` null = every app."""
        with api_fields():
            role = await staff.create_role(
                ctx.rt,
                ctx.principal.owner_id,
                body.name,
                body.permissions,
                body.apps,
                actor=ctx.actor(),
                by=_by(ctx),
            )
        return role.as_dict()

    @router.patch("/roles/{role_id}", response_model=s.RoleOut, tags=tags, summary="Edit a role")
    async def role_edit(
        ctx: Annotated[Ctx, Depends(guard.account("role.edit"))], role_id: str, body: s.RolePatch
    ) -> Any:
        """Only the fields given change; `apps: null` = every app."""
        extra: dict[str, Any] = {}
        if "apps" in body.model_fields_set:
            extra["app_ids"] = body.apps
        with api_fields():
            role = await staff.edit_role(
                ctx.rt,
                ctx.principal.owner_id,
                role_id,
                name=body.name,
                permissions=body.permissions,
                actor=ctx.actor(),
                by=_by(ctx),
                **extra,
            )
        return role.as_dict()

    @router.delete(
        "/roles/{role_id}",
        status_code=204,
        response_class=Response,
        tags=tags,
        summary="Delete a role (409 IN_USE while assigned)",
    )
    async def role_delete(
        ctx: Annotated[Ctx, Depends(guard.account("role.delete"))], role_id: str
    ) -> Response:
        await staff.delete_role(
            ctx.rt, ctx.principal.owner_id, role_id, actor=ctx.actor(), by=_by(ctx)
        )
        return Response(status_code=204)


def _staff(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["staff"]

    @router.get("/staff", response_model=s.StaffPage, tags=tags, summary="List staff members")
    async def staff_list(
        ctx: Annotated[Ctx, Depends(guard.account("staff.list"))],
        role_id: Annotated[str | None, Query(max_length=64)] = None,
        active: bool | None = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first; filters: role, active (false = banned)."""
        page = await staff.list_staff(
            ctx.rt,
            ctx.principal.owner_id,
            role_id=role_id,
            active=active,
            cursor=cursor,
            limit=limit,
        )
        return page_body(page)

    @router.post(
        "/staff",
        response_model=s.StaffAdded,
        status_code=201,
        tags=tags,
        summary="Add a staff member (new or existing account)",
    )
    async def staff_add(
        ctx: Annotated[Ctx, Depends(guard.account("staff.add"))], body: s.StaffAdd
    ) -> Any:
        """`type: new` creates an account and returns its temporary password once."""
        with api_fields():
            added = await staff.add_staff(
                ctx.rt,
                ctx.principal.owner_id,
                type=body.type,
                role_id=body.role_id,
                username=body.username,
                email=body.email,
                public_id=body.public_id,
                actor=ctx.actor(),
                by=_by(ctx),
            )
        return {**added.staff.as_dict(), "temporary_password": added.temporary_password}

    @router.get(
        "/staff/{identifier}", response_model=s.StaffOut, tags=tags, summary="One staff member"
    )
    async def staff_info(
        ctx: Annotated[Ctx, Depends(guard.account("staff.info"))], identifier: str
    ) -> Any:
        return (await staff.get_staff(ctx.rt, ctx.principal.owner_id, identifier)).as_dict()

    _staff_changes(router, guard)


def _staff_changes(router: APIRouter, guard: Guard) -> None:
    """Changing one staff member: another role, ban/unban, removal."""
    tags: list[str | Any] = ["staff"]

    @router.patch(
        "/staff/{identifier}",
        response_model=s.StaffOut,
        tags=tags,
        summary="Give a staff member another role",
    )
    async def staff_edit(
        ctx: Annotated[Ctx, Depends(guard.account("staff.edit"))],
        identifier: str,
        body: s.StaffPatch,
    ) -> Any:
        with api_fields():
            member = await staff.edit_staff(
                ctx.rt,
                ctx.principal.owner_id,
                identifier,
                role_id=body.role_id,
                actor=ctx.actor(),
                by=_by(ctx),
            )
        return member.as_dict()

    for action in ("ban", "unban"):
        _staff_state(router, guard, action)

    @router.delete(
        "/staff/{identifier}",
        status_code=204,
        response_class=Response,
        tags=tags,
        summary="Remove a staff member (the account stays)",
    )
    async def staff_remove(
        ctx: Annotated[Ctx, Depends(guard.account("staff.remove"))], identifier: str
    ) -> Response:
        await staff.remove_staff(
            ctx.rt, ctx.principal.owner_id, identifier, actor=ctx.actor(), by=_by(ctx)
        )
        return Response(status_code=204)


def _staff_state(router: APIRouter, guard: Guard, action: str) -> None:
    active = action == "unban"

    async def route(
        ctx: Annotated[Ctx, Depends(guard.account(f"staff.{action}"))], identifier: str
    ) -> Any:
        member = await staff.set_staff_active(
            ctx.rt, ctx.principal.owner_id, identifier, active, actor=ctx.actor(), by=_by(ctx)
        )
        return member.as_dict()

    router.add_api_route(
        f"/staff/{{identifier}}/{action}",
        route,
        methods=["POST"],
        response_model=s.StaffOut,
        tags=["staff"],
        summary=f"{action.capitalize()} a staff member (idempotent)",
        name=f"staff_{action}",
    )


def _rate_plans(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["resellers"]

    @router.get("/rate-plans", response_model=s.RatePlanPage, tags=tags, summary="List rate plans")
    async def rate_plan_list(
        ctx: Annotated[Ctx, Depends(guard.account("rate-plan.list"))],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        page = await resellers.list_rate_plans(
            ctx.rt, ctx.principal.owner_id, cursor=cursor, limit=limit
        )
        return page_body(page)

    @router.post(
        "/rate-plans",
        response_model=s.RatePlanOut,
        status_code=201,
        tags=tags,
        summary="Create a rate plan",
    )
    async def rate_plan_create(
        ctx: Annotated[Ctx, Depends(guard.account("rate-plan.create"))], body: s.RatePlanCreate
    ) -> Any:
        with api_fields():
            plan = await resellers.create_rate_plan(
                ctx.rt,
                ctx.principal.owner_id,
                body.name,
                allow_ban=body.allow_ban,
                allow_reset_hwid=body.allow_reset_hwid,
                actor=ctx.actor(),
                by=_by(ctx),
            )
        return plan.as_dict()

    @router.patch(
        "/rate-plans/{plan_id}",
        response_model=s.RatePlanOut,
        tags=tags,
        summary="Edit a rate plan",
    )
    async def rate_plan_edit(
        ctx: Annotated[Ctx, Depends(guard.account("rate-plan.edit"))],
        plan_id: str,
        body: s.RatePlanPatch,
    ) -> Any:
        with api_fields():
            plan = await resellers.edit_rate_plan(
                ctx.rt,
                ctx.principal.owner_id,
                plan_id,
                name=body.name,
                allow_ban=body.allow_ban,
                allow_reset_hwid=body.allow_reset_hwid,
                actor=ctx.actor(),
                by=_by(ctx),
            )
        return plan.as_dict()

    @router.delete(
        "/rate-plans/{plan_id}",
        status_code=204,
        response_class=Response,
        tags=tags,
        summary="Delete a rate plan (409 IN_USE while assigned)",
    )
    async def rate_plan_delete(
        ctx: Annotated[Ctx, Depends(guard.account("rate-plan.delete"))], plan_id: str
    ) -> Response:
        await resellers.delete_rate_plan(ctx.rt, ctx.principal.owner_id, plan_id, actor=ctx.actor())
        return Response(status_code=204)

    @router.put(
        "/rate-plans/{plan_id}/prices",
        response_model=s.RatePlanOut,
        tags=tags,
        summary="Price a product (set or change)",
    )
    async def rate_plan_price_set(
        ctx: Annotated[Ctx, Depends(guard.account("rate-plan.edit"))],
        plan_id: str,
        body: s.PriceSet,
    ) -> Any:
        """A subscription of one app with a term (duration days from first use, fixed days
        from generation, or lifetime), at `price` coins a key."""
        with api_fields():
            plan = await resellers.set_price(
                ctx.rt,
                ctx.principal.owner_id,
                plan_id,
                app_id=body.app_id,
                subscription=body.subscription,
                term_kind=body.term_kind,
                term_days=body.term_days,
                price=body.price,
                actor=ctx.actor(),
                by=_by(ctx),
            )
        return plan.as_dict()

    @router.delete(
        "/rate-plans/{plan_id}/prices/{price_id}",
        response_model=s.RatePlanOut,
        tags=tags,
        summary="Remove a priced product",
    )
    async def rate_plan_price_remove(
        ctx: Annotated[Ctx, Depends(guard.account("rate-plan.edit"))],
        plan_id: str,
        price_id: str,
    ) -> Any:
        plan = await resellers.remove_price(
            ctx.rt, ctx.principal.owner_id, plan_id, price_id, actor=ctx.actor()
        )
        return plan.as_dict()


def _resellers(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["resellers"]

    @router.get("/resellers", response_model=s.ResellerPage, tags=tags, summary="List resellers")
    async def reseller_list(
        ctx: Annotated[Ctx, Depends(guard.account("reseller.list"))],
        rate_plan_id: Annotated[str | None, Query(max_length=64)] = None,
        active: bool | None = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first; filters: rate plan, active (false = banned)."""
        page = await resellers.list_resellers(
            ctx.rt,
            ctx.principal.owner_id,
            rate_plan_id=rate_plan_id,
            active=active,
            cursor=cursor,
            limit=limit,
        )
        return page_body(page)

    @router.post(
        "/resellers",
        response_model=s.ResellerAdded,
        status_code=201,
        tags=tags,
        summary="Add a reseller (new or existing account)",
    )
    async def reseller_add(
        ctx: Annotated[Ctx, Depends(guard.account("reseller.add"))], body: s.ResellerAdd
    ) -> Any:
        with api_fields():
            added = await resellers.add_reseller(
                ctx.rt,
                ctx.principal.owner_id,
                type=body.type,
                username=body.username,
                email=body.email,
                public_id=body.public_id,
                rate_plan_id=body.rate_plan_id,
                app_ids=body.apps,
                actor=ctx.actor(),
                by=_by(ctx),
            )
        return {**added.reseller.as_dict(), "temporary_password": added.temporary_password}

    @router.get(
        "/resellers/{identifier}", response_model=s.ResellerOut, tags=tags, summary="One reseller"
    )
    async def reseller_info(
        ctx: Annotated[Ctx, Depends(guard.account("reseller.info"))], identifier: str
    ) -> Any:
        return (await resellers.get_reseller(ctx.rt, ctx.principal.owner_id, identifier)).as_dict()

    @router.patch(
        "/resellers/{identifier}",
        response_model=s.ResellerOut,
        tags=tags,
        summary="Change a reseller's rate plan or allowed apps",
    )
    async def reseller_edit(
        ctx: Annotated[Ctx, Depends(guard.account("reseller.edit"))],
        identifier: str,
        body: s.ResellerPatch,
    ) -> Any:
        """Only the fields given change; `rate_plan_id: null` clears the plan, `apps: null`
        allows every app the plan prices."""
        extra: dict[str, Any] = {}
        if "rate_plan_id" in body.model_fields_set:
            extra["rate_plan_id"] = body.rate_plan_id
        if "apps" in body.model_fields_set:
            extra["app_ids"] = body.apps
        with api_fields():
            reseller = await resellers.edit_reseller(
                ctx.rt, ctx.principal.owner_id, identifier, actor=ctx.actor(), by=_by(ctx), **extra
            )
        return reseller.as_dict()

    for action in ("ban", "unban"):
        _reseller_state(router, guard, action)

    @router.post(
        "/resellers/{identifier}/coins",
        response_model=s.ResellerOut,
        tags=tags,
        summary="Give or take coins (422 INSUFFICIENT_BALANCE below zero)",
    )
    async def reseller_coins(
        ctx: Annotated[Ctx, Depends(guard.account("reseller.coins"))],
        identifier: str,
        body: s.CoinsIn,
    ) -> Any:
        with api_fields():
            reseller = await resellers.adjust_coins(
                ctx.rt,
                ctx.principal.owner_id,
                identifier,
                body.amount,
                body.description,
                actor=ctx.actor(),
            )
        return reseller.as_dict()

    @router.get(
        "/resellers/{identifier}/ledger",
        response_model=s.LedgerPage,
        tags=tags,
        summary="A reseller's coin ledger",
    )
    async def reseller_ledger(
        ctx: Annotated[Ctx, Depends(guard.account("reseller.ledger"))],
        identifier: str,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first."""
        page = await resellers.reseller_ledger(
            ctx.rt, ctx.principal.owner_id, identifier, cursor=cursor, limit=limit
        )
        return page_body(page)


def _reseller_state(router: APIRouter, guard: Guard, action: str) -> None:
    active = action == "unban"

    async def route(
        ctx: Annotated[Ctx, Depends(guard.account(f"reseller.{action}"))], identifier: str
    ) -> Any:
        reseller = await resellers.set_reseller_active(
            ctx.rt, ctx.principal.owner_id, identifier, active, actor=ctx.actor()
        )
        return reseller.as_dict()

    router.add_api_route(
        f"/resellers/{{identifier}}/{action}",
        route,
        methods=["POST"],
        response_model=s.ResellerOut,
        tags=["resellers"],
        summary=f"{action.capitalize()} a reseller (idempotent)",
        name=f"reseller_{action}",
    )


def _reseller_side(router: APIRouter, guard: Guard) -> None:
    tags: list[str | Any] = ["reseller (own view)"]

    @router.get(
        "/reseller/products",
        response_model=s.ProductList,
        tags=tags,
        summary="What I may generate, with prices",
    )
    async def my_products(ctx: Annotated[Ctx, Depends(guard.reseller("reseller.products"))]) -> Any:
        return {
            "items": [p.as_dict() for p in await resellers.my_products(ctx.rt, ctx.reseller_id)]
        }

    @router.get("/reseller/balance", response_model=s.BalanceOut, tags=tags, summary="My balance")
    async def my_balance(ctx: Annotated[Ctx, Depends(guard.reseller("reseller.balance"))]) -> Any:
        me = await resellers.my_balance(ctx.rt, ctx.reseller_id)
        return {"points_balance": me.points_balance, "rate_plan_name": me.rate_plan_name}

    @router.get("/reseller/ledger", response_model=s.LedgerPage, tags=tags, summary="My ledger")
    async def my_ledger(
        ctx: Annotated[Ctx, Depends(guard.reseller("reseller.ledger"))],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        page = await resellers.my_ledger(ctx.rt, ctx.reseller_id, cursor=cursor, limit=limit)
        return page_body(page)

    @router.get(
        "/reseller/licenses",
        response_model=s.OwnLicensePage,
        tags=tags,
        summary="My license keys",
    )
    async def my_licenses(
        ctx: Annotated[Ctx, Depends(guard.reseller("license.list"))],
        app_id: Annotated[str | None, Query(max_length=64)] = None,
        status: Literal["unused", "active", "used"] | None = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Only keys this reseller generated, newest first."""
        page = await resellers.my_licenses(
            ctx.rt, ctx.reseller_id, app_id=app_id, status=status, cursor=cursor, limit=limit
        )
        return page_body(page)

    @router.get(
        "/reseller/licenses/export",
        tags=tags,
        summary="Export my license keys (CSV or JSON)",
        response_class=Response,
    )
    async def my_export(
        ctx: Annotated[Ctx, Depends(guard.reseller("license.export"))],
        format: Literal["csv", "json"] = "csv",
        app_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        body = await resellers.export_my_licenses(ctx.rt, ctx.reseller_id, format, app_id=app_id)
        media = "text/csv" if format == "csv" else "application/json"
        return Response(content=body, media_type=media)

    @router.post(
        "/reseller/apps/{app_id}/licenses/generate",
        response_model=s.ResellerBatch,
        status_code=201,
        tags=tags,
        summary="Generate keys of a priced product (debits price x amount)",
    )
    async def my_generate(
        ctx: Annotated[Ctx, Depends(guard.reseller_app("license.generate"))],
        body: s.ResellerGenerate,
    ) -> Any:
        """All or nothing: not enough coins (422 INSUFFICIENT_BALANCE) creates no key."""
        with api_fields():
            done = await resellers.generate_for_reseller(
                ctx.rt,
                ctx.reseller_id,
                body.product_id,
                body.amount,
                app_id=ctx.app_id,
                note=body.note,
                actor=ctx.actor(),
            )
        return {
            "keys": done.keys,
            "count": len(done.keys),
            "batch_id": done.batch_id,
            "cost": done.cost,
            "points_balance": done.points_balance,
        }

    for action, path in (("ban", "ban"), ("unban", "unban"), ("reset_hwid", "reset-hwid")):
        _own_key_action(router, guard, action, path)


def _own_key_action(router: APIRouter, guard: Guard, action: str, path: str) -> None:
    async def route(
        ctx: Annotated[Ctx, Depends(guard.reseller_app(f"license.{action}"))], key: str
    ) -> Any:
        assert ctx.app_id is not None
        own = await resellers.act_on_own_key(
            ctx.rt, ctx.reseller_id, ctx.app_id, key, action, actor=ctx.actor()
        )
        return own.as_dict()

    router.add_api_route(
        f"/reseller/apps/{{app_id}}/licenses/{{key}}/{path}",
        route,
        methods=["POST"],
        response_model=s.OwnLicenseOut,
        tags=["reseller (own view)"],
        summary=f"{path} one of my keys (when my rate plan allows it)",
        name=f"reseller_own_{action}",
    )
