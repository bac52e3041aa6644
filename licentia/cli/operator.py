"""CLI commands for owner accounts, the audit log's retention and client usage.

`owner create|suspend|unsuspend`, `token ...`, `elite-key ...` and `audit list|export` live in
`cli/main.py`; this module adds `owner list|info|edit|reset-password|delete`, `audit prune`
and `app usage`. Every change is audited with the CLI actor.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from licentia.cli._support import console, emit_json, fail, read_secret, run, show, usage
from licentia.cli.groups import AppOpt, JsonOpt, app_app, audit_app, owner_app
from licentia.domain.timeutil import iso_z
from licentia.services import admin_accounts, admin_apps, maintenance
from licentia.services import usage as usage_service
from licentia.services.runtime import Runtime

OwnerArg = Annotated[str, typer.Argument(help="8-digit owner id.")]


# -- owners ------------------------------------------------------------------------------


@owner_app.command("list")
def owner_list(
    ctx: typer.Context,
    search: Annotated[str | None, typer.Option("--search", help="Username or email part.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="active or suspended.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List every owner account (operator)."""
    owners = run(
        ctx, json_out, lambda rt: admin_accounts.list_owners(rt, search=search, status=status)
    )
    if json_out:
        emit_json({"owners": [o.as_dict() for o in owners]})
        return
    table = Table(title="Owners")
    for column in ("owner id", "username", "email", "status", "apps", "created"):
        table.add_column(column, overflow="fold")
    for o in owners:
        table.add_row(o.owner_id, o.username, o.email, o.status, str(o.apps), iso_z(o.created_at))
    console().print(table)


@owner_app.command("info")
def owner_info(ctx: typer.Context, owner_id: OwnerArg, json_out: JsonOpt = False) -> None:
    """Show one owner account."""
    info = run(ctx, json_out, lambda rt: admin_accounts.account_info(rt, owner_id))
    show(json_out, info.as_dict(), title="Owner")


@owner_app.command("edit")
def owner_edit(
    ctx: typer.Context,
    owner_id: OwnerArg,
    email: Annotated[str | None, typer.Option("--email")] = None,
    plan_label: Annotated[
        str | None, typer.Option("--plan-label", help="Reported to clients as plan_name.")
    ] = None,
    compat_initial_password: Annotated[
        bool | None,
        typer.Option(
            "--compat-initial-password/--no-compat-initial-password",
            help="The AuthlyX initial-password rule for staff and resellers (A.7).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Change an owner's email, plan label or initial-password rule."""
    changes: dict[str, Any] = {}
    if email is not None:
        changes["email"] = email
    if plan_label is not None:
        changes["plan_label"] = plan_label
    if compat_initial_password is not None:
        changes["compat_initial_password"] = compat_initial_password
    if not changes:
        usage(json_out, "give at least one of --email, --plan-label, --compat-initial-password")
    info = run(ctx, json_out, lambda rt: admin_accounts.edit_account(rt, owner_id, changes))
    show(json_out, info.as_dict(), title="Owner updated")


@owner_app.command("reset-password")
def owner_reset_password(
    ctx: typer.Context,
    owner_id: OwnerArg,
    password: Annotated[
        str | None,
        typer.Option(
            "--password", help="The new password; with --generate a random one is printed."
        ),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Draw a random password and print it once.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Set an owner's password (asked for hidden, read from stdin, or generated)."""
    secret = None if generate else read_secret(password, "New password", json_out)
    generated = run(ctx, json_out, lambda rt: admin_accounts.reset_password(rt, owner_id, secret))
    data: dict[str, Any] = {"owner_id": owner_id, "password_reset": True}
    if generated is not None:
        data["password"] = generated
    show(json_out, data, title="Password reset")


@owner_app.command("delete")
def owner_delete(
    ctx: typer.Context,
    owner_id: OwnerArg,
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", help="Repeat the owner id to confirm (asked when omitted)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete an owner with all its apps, tokens and Elite Key (asks for confirmation)."""
    answer = confirm
    if answer is None:
        if json_out:
            fail(json_out, "USAGE", "--confirm OWNER_ID is required with --json", 2)
        answer = typer.prompt(f"Type the owner id {owner_id} to delete it and all its apps")
    info = run(ctx, json_out, lambda rt: admin_accounts.delete_owner(rt, owner_id, confirm=answer))
    show(
        json_out,
        {"owner_id": info.owner_id, "username": info.username, "deleted": True, "apps": info.apps},
        title="Owner deleted",
    )


# -- audit retention ---------------------------------------------------------------------


@audit_app.command("prune")
def audit_prune(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Delete audit entries older than LICENTIA_AUDIT_RETENTION_DAYS now (the periodic purge
    does the same)."""

    async def work(rt: Runtime) -> dict[str, Any]:
        removed = await maintenance.prune_audit(rt)
        return {"deleted": removed, "retention_days": rt.settings.audit_retention_days}

    show(json_out, run(ctx, json_out, work), title="Audit log pruned")


# -- usage -------------------------------------------------------------------------------


@app_app.command("usage")
def app_usage(
    ctx: typer.Context,
    app_id: AppOpt,
    days: Annotated[int, typer.Option("--days", help="Days ending today (UTC).")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Client API requests per UTC day (and per endpoint), oldest first."""

    async def work(rt: Runtime) -> list[usage_service.UsageDay]:
        await admin_apps.get_app(rt, app_id)  # APP_NOT_FOUND rather than a row of zeros
        return await usage_service.usage_report(rt, app_id, days)

    series = run(ctx, json_out, work)
    if json_out:
        emit_json(
            {
                "app_id": app_id,
                "days": days,
                "total": sum(d.count for d in series),
                "series": [d.as_dict() for d in series],
            }
        )
        return
    table = Table(title=f"Client API usage, last {days} days (UTC)")
    table.add_column("date")
    table.add_column("requests", justify="right")
    table.add_column("by endpoint", overflow="fold")
    for d in series:
        detail = ", ".join(f"{name} {count}" for name, count in d.endpoints.items())
        table.add_row(d.date, str(d.count), detail or "-")
    console().print(table)
