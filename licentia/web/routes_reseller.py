"""Rate plans and resellers (owner side, B.19) and the signed-in reseller's own page.

Owner side: `routes_team.owner_page` (owners; staff whose role grants the capability).
Reseller side (`/reseller`): the account's reseller membership, with the rights
`services.principals` gives it (its rate plan's products, ban/unban and HWID reset only when
the plan allows them, its own keys only), as the REST `/reseller/...` routes check them.
Every change is one service call with the dashboard actor: the change, its coin ledger row
and its audit entry commit together, and a refused change (INSUFFICIENT_BALANCE, ...) writes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import admin_resellers as resellers
from licentia.services import principals, views_licenses
from licentia.services.admin_common import AdminError
from licentia.services.audit import Actor
from licentia.services.dashboard_auth import DashSession
from licentia.web.app import DashRoute, form_values, runtime, signed_in
from licentia.web.context import Refused, actor, redirect
from licentia.web.routes_team import (
    PAGE_SIZE,
    OwnerCtx,
    cursor_arg,
    form_error,
    form_lists,
    not_allowed,
    owner_apps,
    owner_page,
    page,
    reseller_memberships,
)

router: APIRouter = APIRouter(route_class=DashRoute)

_PLAN_FIELDS = ("name", "allow_ban", "allow_reset_hwid")
_PRICE_FIELDS = ("app_id", "subscription", "term_kind", "term_days", "price")
_ADD_FIELDS = ("type", "username", "email", "public_id", "rate_plan_id", "apps")
_COIN_FIELDS = ("amount", "description")


# -- rate plans and resellers (owner side) ---------------------------------------------------


async def _plans(request: Request, ctx: OwnerCtx) -> list[resellers.RatePlan]:
    return (await resellers.list_rate_plans(runtime(request), ctx.owner_id)).items


async def _resellers_page(
    request: Request,
    ctx: OwnerCtx,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    added: resellers.AddedReseller | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    plans_page = None
    all_plans: list[resellers.RatePlan] = []
    if ctx.may("rate-plan.list"):
        plans_page = await resellers.list_rate_plans(
            rt, ctx.owner_id, cursor=cursor_arg(request, "pc"), limit=PAGE_SIZE
        )
        all_plans = await _plans(request, ctx)
    plan_filter = request.query_params.get("plan", "")[:64]
    state = request.query_params.get("state", "")
    state = state if state in ("active", "banned") else ""
    list_page = None
    if ctx.may("reseller.list"):
        list_page = await resellers.list_resellers(
            rt,
            ctx.owner_id,
            rate_plan_id=plan_filter or None,
            active=None if not state else state == "active",
            cursor=cursor_arg(request, "rsc"),
            limit=PAGE_SIZE,
        )
    errors = errors or {}
    context = {
        "ctx": ctx,
        "plans_page": plans_page,
        "plans": all_plans,
        "list_page": list_page,
        "plan_filter": plan_filter,
        "state": state,
        "apps": await owner_apps(request, ctx),
        "errors": errors,
        "values": values or {},
        "added": added,
        "plan_open": any(k.startswith("plan_") for k in errors),
        "add_open": any(k.startswith("add_") for k in errors),
        "next_plans": urlencode({"pc": plans_page.next_cursor})
        if plans_page and plans_page.next_cursor
        else "",
        "next_resellers": urlencode(
            {"plan": plan_filter, "state": state, "rsc": list_page.next_cursor}
        )
        if list_page and list_page.next_cursor
        else "",
    }
    return await page(request, ctx.session, "resellers.html", context, status=status)


@router.get("/resellers")
async def resellers_home(request: Request) -> Response:
    ctx = await owner_page(request, "rate-plan.list", "reseller.list")
    return await _resellers_page(request, ctx)


def _flag(form: dict[str, str], name: str) -> bool:
    return bool(form.get(name))


@router.post("/resellers/plans")
async def plan_create(request: Request) -> Response:
    ctx = await owner_page(request, "rate-plan.create")
    form = await form_values(request)
    values: dict[str, Any] = {
        "name": form.get("name", ""),
        "allow_ban": _flag(form, "allow_ban"),
        "allow_reset_hwid": _flag(form, "allow_reset_hwid"),
    }
    try:
        plan = await resellers.create_rate_plan(
            runtime(request),
            ctx.owner_id,
            values["name"],
            allow_ban=values["allow_ban"],
            allow_reset_hwid=values["allow_reset_hwid"],
            actor=ctx.actor,
            by=ctx.grantor,
        )
    except AdminError as exc:
        field = form_error(exc, _PLAN_FIELDS)
        return await _resellers_page(
            request, ctx, errors={f"plan_{field}": exc.message}, values=values, status=400
        )
    return redirect(request, f"/resellers/plans/{plan.id}")


async def _plan_of(request: Request, ctx: OwnerCtx, plan_id: str) -> resellers.RatePlan:
    for plan in await _plans(request, ctx):
        if plan.id == plan_id:
            return plan
    raise AdminError("RATE_PLAN_NOT_FOUND", "No such rate plan.")


async def _plan_page(
    request: Request,
    ctx: OwnerCtx,
    plan: resellers.RatePlan,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    apps = await owner_apps(request, ctx)
    subscriptions = {
        a.id: [s.name for s in await views_licenses.list_subscriptions(rt, a.id)] for a in apps
    }
    base_values = {
        "name": plan.name,
        "allow_ban": plan.allow_ban,
        "allow_reset_hwid": plan.allow_reset_hwid,
        "term_kind": "duration",
    }
    context = {
        "ctx": ctx,
        "plan": plan,
        "apps": apps,
        "subscriptions": subscriptions,
        "term_kinds": resellers.TERM_KINDS,
        "errors": errors or {},
        "values": {**base_values, **(values or {})},
    }
    return await page(request, ctx.session, "reseller_plan.html", context, status=status)


@router.get("/resellers/plans/{plan_id}")
async def plan_show(request: Request, plan_id: str) -> Response:
    ctx = await owner_page(request, "rate-plan.list")
    return await _plan_page(request, ctx, await _plan_of(request, ctx, plan_id))


@router.post("/resellers/plans/{plan_id}")
async def plan_edit(request: Request, plan_id: str) -> Response:
    ctx = await owner_page(request, "rate-plan.edit")
    plan = await _plan_of(request, ctx, plan_id)
    form = await form_values(request)
    values: dict[str, Any] = {
        "name": form.get("name", ""),
        "allow_ban": _flag(form, "allow_ban"),
        "allow_reset_hwid": _flag(form, "allow_reset_hwid"),
    }
    try:
        await resellers.edit_rate_plan(
            runtime(request),
            ctx.owner_id,
            plan.id,
            name=values["name"],
            allow_ban=values["allow_ban"],
            allow_reset_hwid=values["allow_reset_hwid"],
            actor=ctx.actor,
            by=ctx.grantor,
        )
    except AdminError as exc:
        field = form_error(exc, _PLAN_FIELDS)
        return await _plan_page(
            request, ctx, plan, errors={f"plan_{field}": exc.message}, values=values, status=400
        )
    return redirect(request, f"/resellers/plans/{plan.id}")


@router.post("/resellers/plans/{plan_id}/delete")
async def plan_delete(request: Request, plan_id: str) -> Response:
    ctx = await owner_page(request, "rate-plan.delete")
    plan = await _plan_of(request, ctx, plan_id)
    try:
        await resellers.delete_rate_plan(runtime(request), ctx.owner_id, plan.id, actor=ctx.actor)
    except AdminError as exc:
        if exc.code != "IN_USE":
            raise
        return await _plan_page(request, ctx, plan, errors={"delete": exc.message}, status=400)
    return redirect(request, "/resellers")


@router.post("/resellers/plans/{plan_id}/prices")
async def price_set(request: Request, plan_id: str) -> Response:
    ctx = await owner_page(request, "rate-plan.edit")
    plan = await _plan_of(request, ctx, plan_id)
    form = await form_values(request)
    values = {k: form.get(k, "").strip() for k in _PRICE_FIELDS}
    try:
        await resellers.set_price(
            runtime(request),
            ctx.owner_id,
            plan.id,
            app_id=values["app_id"],
            subscription=values["subscription"],
            term_kind=values["term_kind"],
            term_days=None
            if values["term_kind"] == "lifetime" or not values["term_days"]
            else values["term_days"],  # type: ignore[arg-type]  # parse_int reads text
            price=values["price"],  # type: ignore[arg-type]
            actor=ctx.actor,
            by=ctx.grantor,
        )
    except AdminError as exc:
        field = form_error(exc, _PRICE_FIELDS)
        if exc.code == "SUBSCRIPTION_NOT_FOUND":
            field = "subscription"
        return await _plan_page(
            request, ctx, plan, errors={f"price_{field}": exc.message}, values=values, status=400
        )
    return redirect(request, f"/resellers/plans/{plan.id}")


@router.post("/resellers/plans/{plan_id}/prices/{price_id}/remove")
async def price_remove(request: Request, plan_id: str, price_id: str) -> Response:
    ctx = await owner_page(request, "rate-plan.edit")
    plan = await _plan_of(request, ctx, plan_id)
    await resellers.remove_price(runtime(request), ctx.owner_id, plan.id, price_id, actor=ctx.actor)
    return redirect(request, f"/resellers/plans/{plan.id}")


def _apps_choice(lists: dict[str, list[str]], form: dict[str, str]) -> list[str] | None:
    return sorted(set(lists.get("apps", []))) if form.get("scope") == "some" else None


@router.post("/resellers/add")
async def reseller_add(request: Request) -> Response:
    ctx = await owner_page(request, "reseller.add")
    form = await form_values(request)
    lists = await form_lists(request)
    values: dict[str, Any] = {k: form.get(k, "") for k in _ADD_FIELDS if k != "apps"}
    values["scope"] = form.get("scope", "all")
    values["apps"] = set(lists.get("apps", []))
    kind = values["type"] or "new"
    try:
        added = await resellers.add_reseller(
            runtime(request),
            ctx.owner_id,
            type=kind,
            username=values["username"] if kind == "new" else None,
            email=values["email"] if kind == "new" else None,
            public_id=values["public_id"] if kind != "new" else None,
            rate_plan_id=values["rate_plan_id"] or None,
            app_ids=_apps_choice(lists, form),
            actor=ctx.actor,
            by=ctx.grantor,
        )
    except AdminError as exc:
        field = form_error(exc, _ADD_FIELDS)
        if exc.code == "RATE_PLAN_NOT_FOUND":
            field = "rate_plan_id"
        elif exc.code == "ALREADY_EXISTS":
            field = "username" if kind == "new" else "public_id"
        return await _resellers_page(
            request, ctx, errors={f"add_{field}": exc.message}, values=values, status=400
        )
    return await _resellers_page(request, ctx, added=added)


async def _reseller_page(
    request: Request,
    ctx: OwnerCtx,
    public_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    one = await resellers.get_reseller(rt, ctx.owner_id, public_id)
    ledger = None
    if ctx.may("reseller.ledger"):
        ledger = await resellers.reseller_ledger(
            rt, ctx.owner_id, one.public_id, cursor=cursor_arg(request, "lc"), limit=PAGE_SIZE
        )
    base_values = {
        "rate_plan_id": one.rate_plan_id or "",
        "scope": "all" if one.app_ids is None else "some",
        "apps": set(one.app_ids or []),
    }
    apps = await owner_apps(request, ctx)
    context = {
        "ctx": ctx,
        "r": one,
        "plans": await _plans(request, ctx) if ctx.may("rate-plan.list") else [],
        "apps": apps,
        "app_names": {a.id: a.name for a in apps},
        "ledger": ledger,
        "errors": errors or {},
        "values": {**base_values, **(values or {})},
        "next_ledger": urlencode({"lc": ledger.next_cursor})
        if ledger and ledger.next_cursor
        else "",
    }
    return await page(request, ctx.session, "reseller_detail.html", context, status=status)


@router.get("/resellers/r/{public_id}")
async def reseller_show(request: Request, public_id: str) -> Response:
    ctx = await owner_page(request, "reseller.info")
    return await _reseller_page(request, ctx, public_id)


@router.post("/resellers/r/{public_id}")
async def reseller_edit(request: Request, public_id: str) -> Response:
    ctx = await owner_page(request, "reseller.edit")
    one = await resellers.get_reseller(runtime(request), ctx.owner_id, public_id)
    form = await form_values(request)
    lists = await form_lists(request)
    values: dict[str, Any] = {
        "rate_plan_id": form.get("rate_plan_id", ""),
        "scope": form.get("scope", "all"),
        "apps": set(lists.get("apps", [])),
    }
    try:
        await resellers.edit_reseller(
            runtime(request),
            ctx.owner_id,
            one.public_id,
            rate_plan_id=values["rate_plan_id"] or None,
            app_ids=_apps_choice(lists, form),
            actor=ctx.actor,
            by=ctx.grantor,
        )
    except AdminError as exc:
        field = form_error(exc, ("rate_plan_id", "apps"))
        if exc.code == "RATE_PLAN_NOT_FOUND":
            field = "rate_plan_id"
        return await _reseller_page(
            request,
            ctx,
            one.public_id,
            errors={f"edit_{field}": exc.message},
            values=values,
            status=400,
        )
    return redirect(request, f"/resellers/r/{one.public_id}")


@router.post("/resellers/r/{public_id}/coins")
async def reseller_coins(request: Request, public_id: str) -> Response:
    ctx = await owner_page(request, "reseller.coins")
    one = await resellers.get_reseller(runtime(request), ctx.owner_id, public_id)
    form = await form_values(request)
    values = {k: form.get(k, "") for k in _COIN_FIELDS}
    try:
        await resellers.adjust_coins(
            runtime(request),
            ctx.owner_id,
            one.public_id,
            values["amount"],  # type: ignore[arg-type]  # parse_int reads text
            values["description"],
            actor=ctx.actor,
        )
    except AdminError as exc:
        field = form_error(exc, _COIN_FIELDS)
        return await _reseller_page(
            request,
            ctx,
            one.public_id,
            errors={f"coins_{field}": exc.message},
            values=values,
            status=400,
        )
    return redirect(request, f"/resellers/r/{one.public_id}")


@router.post("/resellers/r/{public_id}/{action}")
async def reseller_state(request: Request, public_id: str, action: str) -> Response:
    if action not in ("ban", "unban"):
        raise Refused(404, "Not found", "There is nothing here.")
    ctx = await owner_page(request, f"reseller.{action}")
    one = await resellers.set_reseller_active(
        runtime(request), ctx.owner_id, public_id, action == "unban", actor=ctx.actor
    )
    return redirect(request, f"/resellers/r/{one.public_id}")


# -- the reseller's own page -----------------------------------------------------------------


@dataclass(frozen=True)
class ResellerCtx:
    session: DashSession
    reseller_id: str
    owner_username: str
    rights: principals.Rights
    actor: Actor
    memberships: list[tuple[str, str]]  # (reseller id, owner username)

    def may(self, capability: str, app_id: str | None = None) -> bool:
        return self.rights.reseller_allows(capability, app_id)


async def reseller_self(request: Request, capability: str) -> ResellerCtx:
    """Session (CSRF on POST) and the account's reseller membership (`?r=` picks one when
    it resells for several owners); 403 unless that membership is active and grants
    `capability`."""
    session = await signed_in(request)
    rows = await reseller_memberships(request, session)
    if not rows:
        raise not_allowed()
    wanted = request.query_params.get("r", "")
    row = next((r for r in rows if r.id == wanted), rows[0])
    rights = await principals.rights_for(runtime(request), session.account.id, row.owner_account_id)
    ctx = ResellerCtx(
        session=session,
        reseller_id=row.id,
        owner_username=row.username,
        rights=rights,
        actor=actor(request, session),
        memberships=[(r.id, r.username) for r in rows],
    )
    if rights.active_reseller is None or not ctx.may(capability):
        raise not_allowed()
    return ctx


async def _self_page(
    request: Request,
    ctx: ResellerCtx,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    generated: resellers.Generated | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    me = await resellers.my_balance(rt, ctx.reseller_id)
    products = await resellers.my_products(rt, ctx.reseller_id)
    key_state = request.query_params.get("status", "")
    key_state = key_state if key_state in ("unused", "active", "used") else ""
    keys = await resellers.my_licenses(
        rt,
        ctx.reseller_id,
        status=key_state or None,
        cursor=cursor_arg(request, "kc"),
        limit=PAGE_SIZE,
    )
    ledger = await resellers.my_ledger(
        rt, ctx.reseller_id, cursor=cursor_arg(request, "lc"), limit=PAGE_SIZE
    )
    context = {
        "ctx": ctx,
        "me": me,
        "products": products,
        "keys": keys,
        "key_state": key_state,
        "ledger": ledger,
        "errors": errors or {},
        "values": values or {},
        "generated": generated,
        "r_query": urlencode({"r": ctx.reseller_id}),
        "next_keys": urlencode({"r": ctx.reseller_id, "status": key_state, "kc": keys.next_cursor})
        if keys.next_cursor
        else "",
        "next_ledger": urlencode({"r": ctx.reseller_id, "lc": ledger.next_cursor})
        if ledger.next_cursor
        else "",
    }
    return await page(request, ctx.session, "reseller_self.html", context, status=status)


@router.get("/reseller")
async def reseller_home(request: Request) -> Response:
    ctx = await reseller_self(request, "reseller.products")
    return await _self_page(request, ctx)


@router.post("/reseller/generate")
async def reseller_generate(request: Request) -> Response:
    ctx = await reseller_self(request, "license.generate")
    form = await form_values(request)
    values = {k: form.get(k, "") for k in ("product_id", "amount", "note")}
    try:
        done = await resellers.generate_for_reseller(
            runtime(request),
            ctx.reseller_id,
            values["product_id"],
            values["amount"],  # type: ignore[arg-type]  # parse_int reads text
            note=values["note"],
            actor=ctx.actor,
        )
    except AdminError as exc:
        field = form_error(exc, ("product_id", "amount", "note"))
        return await _self_page(
            request, ctx, errors={f"gen_{field}": exc.message}, values=values, status=400
        )
    return await _self_page(request, ctx, generated=done)


@router.get("/reseller/export")
async def reseller_export(request: Request) -> Response:
    ctx = await reseller_self(request, "license.export")
    fmt = request.query_params.get("format", "csv")
    if fmt not in resellers.EXPORT_FORMATS:
        raise Refused(400, "Request refused", "The format must be csv or json.")
    body = await resellers.export_my_licenses(runtime(request), ctx.reseller_id, fmt)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return Response(
        content=body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="my-keys.{fmt}"'},
    )


_OWN_ACTIONS = {"ban": "ban", "unban": "unban", "reset-hwid": "reset_hwid"}


@router.post("/reseller/keys/{app_id}/{key}/{action}")
async def reseller_key_action(request: Request, app_id: str, key: str, action: str) -> Response:
    name = _OWN_ACTIONS.get(action)
    if name is None:
        raise Refused(404, "Not found", "There is nothing here.")
    ctx = await reseller_self(request, "license.list")
    reseller = ctx.rights.active_reseller
    if reseller is None or app_id not in reseller.app_ids:
        raise AdminError("APP_NOT_FOUND", "No such app.")
    if not ctx.may(f"license.{name}", app_id):
        raise not_allowed()
    await resellers.act_on_own_key(
        runtime(request), ctx.reseller_id, app_id, key, name, actor=ctx.actor
    )
    return redirect(request, f"/reseller?r={ctx.reseller_id}")
