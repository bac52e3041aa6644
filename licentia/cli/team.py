"""CLI commands for staff roles, staff members, rate plans, resellers and coins.

`licentia role|staff|rate-plan|reseller <action> --owner OWNER_ID`: each calls the one service
of `services.admin_staff` / `services.admin_resellers` that the REST API and the Elite Key
API call, audited with the CLI actor. `--json` prints exactly one JSON object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.table import Table

from licentia.cli._support import console, emit_json, jsonable, run, show, warn
from licentia.cli.groups import JsonOpt, rate_plan_app, reseller_app, role_app, staff_app
from licentia.services import admin_resellers, admin_staff
from licentia.services.runtime import Runtime

OwnerOpt = Annotated[str, typer.Option("--owner", help="8-digit owner id.")]
IdentifierArg = Annotated[str, typer.Argument(help="Username or public id.")]
RoleIdOpt = Annotated[str, typer.Option("--role", help="Role id (see `role list`).")]


def _table(title: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in jsonable(rows):
        cells = []
        for column in columns:
            value = row.get(column)
            if isinstance(value, list):
                cells.append(" ".join(str(v) for v in value) or "-")
            elif value is None:
                cells.append("-")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    console().print(table)


def _password_note(json_out: bool, password: str | None) -> None:
    if password is not None:
        warn(
            json_out,
            [
                "the temporary password is shown only now; it must be changed at first sign-in "
                "and expires after 72 hours unused"
            ],
        )


# -- roles -------------------------------------------------------------------------------


@role_app.command("list")
def role_list(ctx: typer.Context, owner: OwnerOpt, json_out: JsonOpt = False) -> None:
    """List the owner's staff roles."""
    page = run(ctx, json_out, lambda rt: admin_staff.list_roles(rt, owner))
    rows = [r.as_dict() for r in page.items]
    if json_out:
        emit_json({"roles": rows})
        return
    _table("Staff roles", ("id", "name", "permissions", "apps", "members"), rows)


@role_app.command("create")
def role_create(
    ctx: typer.Context,
    owner: OwnerOpt,
    name: Annotated[str, typer.Argument(help="Role name.")],
    permission: Annotated[
        list[str] | None,
        typer.Option("--permission", help="A capability (license.ban) or name:read; repeat."),
    ] = None,
    app_ids: Annotated[
        list[str] | None, typer.Option("--app", help="Limit to this app id; repeat. Default all.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a staff role."""
    role = run(
        ctx,
        json_out,
        lambda rt: admin_staff.create_role(rt, owner, name, permission or [], app_ids or None),
    )
    show(json_out, role.as_dict(), title="Role created")


@role_app.command("edit")
def role_edit(
    ctx: typer.Context,
    owner: OwnerOpt,
    role_id: Annotated[str, typer.Argument(help="Role id.")],
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    permission: Annotated[
        list[str] | None,
        typer.Option("--permission", help="Replace the permissions with these; repeat."),
    ] = None,
    no_permissions: Annotated[
        bool, typer.Option("--no-permissions", help="Remove every permission.")
    ] = False,
    app_ids: Annotated[
        list[str] | None, typer.Option("--app", help="Replace the app scope; repeat.")
    ] = None,
    all_apps: Annotated[bool, typer.Option("--all-apps", help="Scope: every app.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Rename a role, replace its permissions or its app scope."""
    extra: dict[str, Any] = {}
    if all_apps:
        extra["app_ids"] = None
    elif app_ids:
        extra["app_ids"] = app_ids
    perms = [] if no_permissions else permission

    async def work(rt: Runtime) -> admin_staff.Role:
        return await admin_staff.edit_role(
            rt, owner, role_id, name=name, permissions=perms, **extra
        )

    show(json_out, run(ctx, json_out, work).as_dict(), title="Role")


@role_app.command("delete")
def role_delete(
    ctx: typer.Context,
    owner: OwnerOpt,
    role_id: Annotated[str, typer.Argument(help="Role id.")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a role (refused while a staff member holds it)."""
    role = run(ctx, json_out, lambda rt: admin_staff.delete_role(rt, owner, role_id))
    show(json_out, {"deleted": True, "id": role.id, "name": role.name})


# -- staff -------------------------------------------------------------------------------

_STAFF_COLUMNS = ("username", "public_id", "role_name", "is_active", "email", "created_at")


@staff_app.command("list")
def staff_list(ctx: typer.Context, owner: OwnerOpt, json_out: JsonOpt = False) -> None:
    """List the owner's staff members."""
    page = run(ctx, json_out, lambda rt: admin_staff.list_staff(rt, owner))
    rows = [m.as_dict() for m in page.items]
    if json_out:
        emit_json({"staff": rows})
        return
    _table("Staff", _STAFF_COLUMNS, rows)


@staff_app.command("add")
def staff_add(
    ctx: typer.Context,
    owner: OwnerOpt,
    role: RoleIdOpt,
    username: Annotated[
        str | None, typer.Option("--username", help="New account: its username.")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", help="New account: its email.")] = None,
    public_id: Annotated[
        str | None, typer.Option("--public-id", help="Existing account: its public id.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a staff member: a new account (--username, --email) or an existing one
    (--public-id)."""
    kind = "existing" if public_id is not None else "new"
    added = run(
        ctx,
        json_out,
        lambda rt: admin_staff.add_staff(
            rt,
            owner,
            type=kind,
            role_id=role,
            username=username,
            email=email,
            public_id=public_id,
        ),
    )
    _password_note(json_out, added.temporary_password)
    show(
        json_out,
        {**added.staff.as_dict(), "temporary_password": added.temporary_password},
        title="Staff member added",
    )


@staff_app.command("edit")
def staff_edit(
    ctx: typer.Context,
    owner: OwnerOpt,
    identifier: IdentifierArg,
    role: RoleIdOpt,
    json_out: JsonOpt = False,
) -> None:
    """Give a staff member another role."""
    member = run(
        ctx, json_out, lambda rt: admin_staff.edit_staff(rt, owner, identifier, role_id=role)
    )
    show(json_out, member.as_dict(), title="Staff member")


def _staff_state(name: str, active: bool) -> None:
    def command(
        ctx: typer.Context, owner: OwnerOpt, identifier: IdentifierArg, json_out: JsonOpt = False
    ) -> None:
        member = run(
            ctx,
            json_out,
            lambda rt: admin_staff.set_staff_active(rt, owner, identifier, active),
        )
        show(json_out, member.as_dict(), title="Staff member")

    command.__doc__ = f"{name.capitalize()} a staff member (idempotent)."
    staff_app.command(name)(command)


_staff_state("ban", False)
_staff_state("unban", True)


@staff_app.command("remove")
def staff_remove(
    ctx: typer.Context, owner: OwnerOpt, identifier: IdentifierArg, json_out: JsonOpt = False
) -> None:
    """Remove a staff member (the account stays; its tokens for this owner stop working)."""
    member = run(ctx, json_out, lambda rt: admin_staff.remove_staff(rt, owner, identifier))
    show(json_out, {"removed": True, "username": member.username, "public_id": member.public_id})


# -- rate plans ------------------------------------------------------------------------------


def _plan_out(plan: admin_resellers.RatePlan) -> dict[str, Any]:
    out = plan.as_dict()
    if out["prices"]:
        return out
    return {**out, "prices": []}


@rate_plan_app.command("list")
def rate_plan_list(ctx: typer.Context, owner: OwnerOpt, json_out: JsonOpt = False) -> None:
    """List the owner's rate plans with their prices."""
    page = run(ctx, json_out, lambda rt: admin_resellers.list_rate_plans(rt, owner))
    plans = [p.as_dict() for p in page.items]
    if json_out:
        emit_json({"rate_plans": plans})
        return
    rows = [
        {
            **p,
            "prices": [
                f"{x['id']}: {x['app_name']} {x['subscription']} {x['term_kind']}"
                f"{'' if x['term_kind'] == 'lifetime' else ' ' + str(x['term_days']) + 'd'}"
                f" = {x['price']}"
                for x in p["prices"]
            ],
        }
        for p in plans
    ]
    columns = ("id", "name", "allow_ban", "allow_reset_hwid", "resellers", "prices")
    _table("Rate plans", columns, rows)


@rate_plan_app.command("create")
def rate_plan_create(
    ctx: typer.Context,
    owner: OwnerOpt,
    name: Annotated[str, typer.Argument(help="Plan name.")],
    allow_ban: Annotated[
        bool, typer.Option("--allow-ban", help="Resellers may ban/unban their keys.")
    ] = False,
    allow_reset_hwid: Annotated[
        bool, typer.Option("--allow-reset-hwid", help="Resellers may reset their keys' HWID.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create a rate plan (price products with `rate-plan price-set`)."""
    plan = run(
        ctx,
        json_out,
        lambda rt: admin_resellers.create_rate_plan(
            rt, owner, name, allow_ban=allow_ban, allow_reset_hwid=allow_reset_hwid
        ),
    )
    show(json_out, _plan_out(plan), title="Rate plan created")


@rate_plan_app.command("edit")
def rate_plan_edit(
    ctx: typer.Context,
    owner: OwnerOpt,
    plan_id: Annotated[str, typer.Argument(help="Rate plan id.")],
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    allow_ban: Annotated[
        bool | None, typer.Option("--allow-ban/--no-allow-ban", help="Ban/unban own keys.")
    ] = None,
    allow_reset_hwid: Annotated[
        bool | None,
        typer.Option("--allow-reset-hwid/--no-allow-reset-hwid", help="Reset own keys' HWID."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Rename a rate plan or change what its resellers may do."""
    plan = run(
        ctx,
        json_out,
        lambda rt: admin_resellers.edit_rate_plan(
            rt, owner, plan_id, name=name, allow_ban=allow_ban, allow_reset_hwid=allow_reset_hwid
        ),
    )
    show(json_out, _plan_out(plan), title="Rate plan")


@rate_plan_app.command("delete")
def rate_plan_delete(
    ctx: typer.Context,
    owner: OwnerOpt,
    plan_id: Annotated[str, typer.Argument(help="Rate plan id.")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a rate plan (refused while a reseller has it)."""
    plan = run(ctx, json_out, lambda rt: admin_resellers.delete_rate_plan(rt, owner, plan_id))
    show(json_out, {"deleted": True, "id": plan.id, "name": plan.name})


@rate_plan_app.command("price-set")
def rate_plan_price_set(
    ctx: typer.Context,
    owner: OwnerOpt,
    plan_id: Annotated[str, typer.Argument(help="Rate plan id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
    subscription: Annotated[str, typer.Option("--subscription", help="Subscription name.")],
    price: Annotated[int, typer.Option("--price", help="Coins per key (0 or more).")],
    term: Annotated[
        str, typer.Option("--term", help="duration (days from first use), fixed or lifetime.")
    ] = "duration",
    days: Annotated[int | None, typer.Option("--days", help="Term days.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Price a product (subscription + term) of an app; pricing the same product again
    changes its price."""
    plan = run(
        ctx,
        json_out,
        lambda rt: admin_resellers.set_price(
            rt,
            owner,
            plan_id,
            app_id=app_id,
            subscription=subscription,
            term_kind=term,
            term_days=days,
            price=price,
        ),
    )
    show(json_out, _plan_out(plan), title="Rate plan")


@rate_plan_app.command("price-remove")
def rate_plan_price_remove(
    ctx: typer.Context,
    owner: OwnerOpt,
    plan_id: Annotated[str, typer.Argument(help="Rate plan id.")],
    price_id: Annotated[str, typer.Argument(help="Price id (see `rate-plan list`).")],
    json_out: JsonOpt = False,
) -> None:
    """Remove a priced product from a rate plan."""
    plan = run(ctx, json_out, lambda rt: admin_resellers.remove_price(rt, owner, plan_id, price_id))
    show(json_out, _plan_out(plan), title="Rate plan")


# -- resellers -------------------------------------------------------------------------------

_RESELLER_COLUMNS = (
    "username",
    "public_id",
    "rate_plan_name",
    "points_balance",
    "is_active",
    "apps",
)


@reseller_app.command("list")
def reseller_list(ctx: typer.Context, owner: OwnerOpt, json_out: JsonOpt = False) -> None:
    """List the owner's resellers with their balances."""
    page = run(ctx, json_out, lambda rt: admin_resellers.list_resellers(rt, owner))
    rows = [r.as_dict() for r in page.items]
    if json_out:
        emit_json({"resellers": rows})
        return
    _table("Resellers", _RESELLER_COLUMNS, rows)


@reseller_app.command("add")
def reseller_add(
    ctx: typer.Context,
    owner: OwnerOpt,
    username: Annotated[
        str | None, typer.Option("--username", help="New account: its username.")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", help="New account: its email.")] = None,
    public_id: Annotated[
        str | None, typer.Option("--public-id", help="Existing account: its public id.")
    ] = None,
    rate_plan: Annotated[str | None, typer.Option("--rate-plan", help="Rate plan id.")] = None,
    app_ids: Annotated[
        list[str] | None, typer.Option("--app", help="Allow only this app id; repeat.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a reseller: a new account (--username, --email) or an existing one (--public-id)."""
    kind = "existing" if public_id is not None else "new"
    added = run(
        ctx,
        json_out,
        lambda rt: admin_resellers.add_reseller(
            rt,
            owner,
            type=kind,
            username=username,
            email=email,
            public_id=public_id,
            rate_plan_id=rate_plan,
            app_ids=app_ids or None,
        ),
    )
    _password_note(json_out, added.temporary_password)
    show(
        json_out,
        {**added.reseller.as_dict(), "temporary_password": added.temporary_password},
        title="Reseller added",
    )


@reseller_app.command("edit")
def reseller_edit(
    ctx: typer.Context,
    owner: OwnerOpt,
    identifier: IdentifierArg,
    rate_plan: Annotated[str | None, typer.Option("--rate-plan", help="Rate plan id.")] = None,
    no_rate_plan: Annotated[
        bool, typer.Option("--no-rate-plan", help="Clear the rate plan.")
    ] = False,
    app_ids: Annotated[
        list[str] | None, typer.Option("--app", help="Replace the allowed apps; repeat.")
    ] = None,
    all_apps: Annotated[
        bool, typer.Option("--all-apps", help="Allow every app the plan prices.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Change a reseller's rate plan or allowed apps."""
    extra: dict[str, Any] = {}
    if no_rate_plan:
        extra["rate_plan_id"] = None
    elif rate_plan is not None:
        extra["rate_plan_id"] = rate_plan
    if all_apps:
        extra["app_ids"] = None
    elif app_ids:
        extra["app_ids"] = app_ids
    reseller = run(
        ctx, json_out, lambda rt: admin_resellers.edit_reseller(rt, owner, identifier, **extra)
    )
    show(json_out, reseller.as_dict(), title="Reseller")


def _reseller_state(name: str, active: bool) -> None:
    def command(
        ctx: typer.Context, owner: OwnerOpt, identifier: IdentifierArg, json_out: JsonOpt = False
    ) -> None:
        reseller = run(
            ctx,
            json_out,
            lambda rt: admin_resellers.set_reseller_active(rt, owner, identifier, active),
        )
        show(json_out, reseller.as_dict(), title="Reseller")

    command.__doc__ = f"{name.capitalize()} a reseller (idempotent)."
    reseller_app.command(name)(command)


_reseller_state("ban", False)
_reseller_state("unban", True)


@reseller_app.command("coins")
def reseller_coins(
    ctx: typer.Context,
    owner: OwnerOpt,
    identifier: IdentifierArg,
    amount: Annotated[
        int, typer.Option("--amount", help="Coins to give (positive) or take (negative).")
    ],
    description: Annotated[str, typer.Option("--description", help="Ledger text.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Give or take coins; refused (nothing changes) when the balance would go below zero."""
    reseller = run(
        ctx,
        json_out,
        lambda rt: admin_resellers.adjust_coins(rt, owner, identifier, amount, description),
    )
    show(json_out, reseller.as_dict(), title="Reseller")


@reseller_app.command("ledger")
def reseller_ledger(
    ctx: typer.Context,
    owner: OwnerOpt,
    identifier: IdentifierArg,
    limit: Annotated[int, typer.Option("--limit", help="Newest entries (1-500).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """A reseller's coin ledger, newest first."""
    page = run(
        ctx,
        json_out,
        lambda rt: admin_resellers.reseller_ledger(rt, owner, identifier, limit=limit),
    )
    rows = [e.as_dict() for e in page.items]
    if json_out:
        emit_json({"ledger": rows, "next_cursor": page.next_cursor})
        return
    columns = ("id", "created_at", "amount", "balance_after", "description", "actor", "batch_id")
    _table("Coin ledger", columns, rows)
