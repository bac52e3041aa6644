"""Elite Key `staff` and `reseller` functions (management A.7, account level).

Thin translations onto `services.admin_staff` / `services.admin_resellers`: the same
validation and error codes as every other face. Ids leave as strings; `identifier` is a
username or a public id. The router records the audit entry (the services get `actor=None`),
so each handler names its target and changes on the context.
"""

from __future__ import annotations

from typing import Any

from licentia.api.elite.handlers import Context, Result, action
from licentia.api.elite.params import missing
from licentia.services import admin_resellers, admin_staff


def _who(member: Any) -> dict[str, str]:
    return {"username": member.username, "public_id": member.public_id}


# -- staff -------------------------------------------------------------------------------


@action("staff", "roles", app_scoped=False)
async def staff_roles(ctx: Context) -> Result:
    page = await admin_staff.list_roles(ctx.rt, ctx.principal.owner_id)
    roles = sorted(page.items, key=lambda r: (r.name.casefold(), r.id))
    return {
        "message": f"{len(roles)} roles",
        "roles": [{"id": r.id, "name": r.name} for r in roles],
    }


@action("staff", "add", app_scoped=False)
async def staff_add(ctx: Context) -> Result:
    p = ctx.params
    kind = p.req("type").strip().lower()
    role_id = p.req("role_id")
    if kind == "new":
        username, email, public_id = p.req("username"), p.req("email"), None
        ctx.on("staff", username)
    else:
        username, email, public_id = None, None, p.req("staff_public_id")
        ctx.on("staff", public_id)
    added = await admin_staff.add_staff(
        ctx.rt,
        ctx.principal.owner_id,
        type=kind,
        role_id=role_id,
        username=username,
        email=email,
        public_id=public_id,
        actor=None,
    )
    member = added.staff
    ctx.on("staff", member.public_id)
    ctx.changes = {
        "type": [None, kind],
        "username": [None, member.username],
        "role": [None, member.role_name],
    }
    result: Result = {"message": "Staff member added", "staff": _who(member)}
    if added.temporary_password is not None:
        ctx.changes["temporary_password"] = [None, "set"]
        result["temporary_password"] = added.temporary_password
    return result


@action("staff", "edit", app_scoped=False)
async def staff_edit(ctx: Context) -> Result:
    identifier = ctx.params.req("identifier")
    role_id = ctx.params.req("role_id")
    ctx.on("staff", identifier)
    before = await admin_staff.get_staff(ctx.rt, ctx.principal.owner_id, identifier)
    member = await admin_staff.edit_staff(
        ctx.rt, ctx.principal.owner_id, identifier, role_id=role_id, actor=None
    )
    ctx.on("staff", member.public_id)
    if before.role_id != member.role_id:
        ctx.changes = {"role": [before.role_name, member.role_name]}
    return {"message": "Staff member updated", "staff": _who(member)}


@action("staff", "ban", "unban", app_scoped=False)
async def staff_ban(ctx: Context) -> Result:
    identifier = ctx.params.req("identifier")
    active = ctx.capability.endswith("unban")
    ctx.on("staff", identifier)
    before = await admin_staff.get_staff(ctx.rt, ctx.principal.owner_id, identifier)
    member = await admin_staff.set_staff_active(
        ctx.rt, ctx.principal.owner_id, identifier, active, actor=None
    )
    ctx.on("staff", member.public_id)
    if before.is_active != member.is_active:
        ctx.changes = {"is_active": [before.is_active, member.is_active]}
    word = "unbanned" if active else "banned"
    return {"message": f"Staff member {word}", "staff": _who(member)}


@action("staff", "list", app_scoped=False)
async def staff_list(ctx: Context) -> Result:
    page = await admin_staff.list_staff(ctx.rt, ctx.principal.owner_id)
    items = [
        {
            "username": m.username,
            "public_id": m.public_id,
            "role_name": m.role_name,
            "is_active": m.is_active,
        }
        for m in page.items
    ]
    return {"message": f"{len(items)} staff members", "staff": items}


@action("staff", "remove", app_scoped=False)
async def staff_remove(ctx: Context) -> Result:
    identifier = ctx.params.req("identifier")
    ctx.on("staff", identifier)
    member = await admin_staff.remove_staff(ctx.rt, ctx.principal.owner_id, identifier, actor=None)
    ctx.on("staff", member.public_id)
    ctx.changes = {"role": [member.role_name, None]}
    return {"message": "Staff member removed"}


# -- reseller ----------------------------------------------------------------------------


@action("reseller", "rate_plans", app_scoped=False)
async def reseller_rate_plans(ctx: Context) -> Result:
    page = await admin_resellers.list_rate_plans(ctx.rt, ctx.principal.owner_id)
    plans = sorted(page.items, key=lambda r: (r.name.casefold(), r.id))
    return {
        "message": f"{len(plans)} rate plans",
        "rate_plans": [{"id": r.id, "name": r.name} for r in plans],
    }


def _rate_profile(ctx: Context, *, required: bool) -> tuple[bool, str | None]:
    """(given, value) of `rate_profile_id`: a JSON null is given as None (clears it)."""
    p = ctx.params
    if p.is_null("rate_profile_id"):
        return True, None
    value = p.text("rate_profile_id")
    if value is None or not value.strip():
        if required:
            raise missing("rate_profile_id")
        return False, None
    return True, value


@action("reseller", "add", app_scoped=False)
async def reseller_add(ctx: Context) -> Result:
    p = ctx.params
    kind = p.req("type").strip().lower()
    _given, plan_id = _rate_profile(ctx, required=False)
    if kind == "new":
        username, email, public_id = p.req("username"), p.req("email"), None
        ctx.on("reseller", username)
    else:
        username, email, public_id = None, None, p.req("reseller_public_id")
        ctx.on("reseller", public_id)
    added = await admin_resellers.add_reseller(
        ctx.rt,
        ctx.principal.owner_id,
        type=kind,
        username=username,
        email=email,
        public_id=public_id,
        rate_plan_id=plan_id,
        actor=None,
    )
    reseller = added.reseller
    ctx.on("reseller", reseller.public_id)
    ctx.changes = {
        "type": [None, kind],
        "username": [None, reseller.username],
        "rate_plan": [None, reseller.rate_plan_name],
    }
    result: Result = {"message": "Reseller added", "reseller": _who(reseller)}
    if added.temporary_password is not None:
        ctx.changes["temporary_password"] = [None, "set"]
        result["temporary_password"] = added.temporary_password
    return result


@action("reseller", "edit", app_scoped=False)
async def reseller_edit(ctx: Context) -> Result:
    identifier = ctx.params.req("identifier")
    _given, plan_id = _rate_profile(ctx, required=True)
    ctx.on("reseller", identifier)
    before = await admin_resellers.get_reseller(ctx.rt, ctx.principal.owner_id, identifier)
    reseller = await admin_resellers.edit_reseller(
        ctx.rt, ctx.principal.owner_id, identifier, rate_plan_id=plan_id, actor=None
    )
    ctx.on("reseller", reseller.public_id)
    if before.rate_plan_id != reseller.rate_plan_id:
        ctx.changes = {"rate_plan": [before.rate_plan_name, reseller.rate_plan_name]}
    return {"message": "Reseller updated", "reseller": _who(reseller)}


@action("reseller", "ban", "unban", app_scoped=False)
async def reseller_ban(ctx: Context) -> Result:
    identifier = ctx.params.req("identifier")
    active = ctx.capability.endswith("unban")
    ctx.on("reseller", identifier)
    before = await admin_resellers.get_reseller(ctx.rt, ctx.principal.owner_id, identifier)
    reseller = await admin_resellers.set_reseller_active(
        ctx.rt, ctx.principal.owner_id, identifier, active, actor=None
    )
    ctx.on("reseller", reseller.public_id)
    if before.is_active != reseller.is_active:
        ctx.changes = {"is_active": [before.is_active, reseller.is_active]}
    word = "unbanned" if active else "banned"
    return {"message": f"Reseller {word}", "reseller": _who(reseller)}


@action("reseller", "coins", app_scoped=False)
async def reseller_coins(ctx: Context) -> Result:
    p = ctx.params
    identifier = p.req("identifier")
    amount = p.integer("amount", required=True, low=-admin_resellers.MAX_COINS)
    assert amount is not None
    description = p.text("description") or ""
    ctx.on("reseller", identifier)
    reseller = await admin_resellers.adjust_coins(
        ctx.rt, ctx.principal.owner_id, identifier, amount, description, actor=None
    )
    ctx.on("reseller", reseller.public_id)
    after = reseller.points_balance
    ctx.changes = {"points_balance": [after - amount, after]}
    return {"message": "Coins updated", "points_balance": after}


@action("reseller", "list", app_scoped=False)
async def reseller_list(ctx: Context) -> Result:
    page = await admin_resellers.list_resellers(ctx.rt, ctx.principal.owner_id)
    items = [
        {
            "username": r.username,
            "public_id": r.public_id,
            "points_balance": r.points_balance,
            "rate_profile_name": r.rate_plan_name,
            "is_active": r.is_active,
        }
        for r in page.items
    ]
    return {"message": f"{len(items)} resellers", "resellers": items}
