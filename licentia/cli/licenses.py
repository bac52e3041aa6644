"""CLI commands for subscriptions (B.5) and license keys (B.6).

`licentia subscription list|create|edit|delete` and `licentia license list|info|add|generate|
edit|delete|ban|unban|pause|unpause|extend|shorten|reset-hwid|end-sessions|export|import`.
Each calls the one service the REST API and the Elite Key API call (`services.admin_licenses`,
`services.transfer`, `services.views_licenses`). A change and its audit entry (actor `cli`)
commit in one transaction. `--json` prints exactly one JSON object; long work (generation,
export, import) shows a progress bar on stderr when it is a terminal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import select

from licentia.cli._support import (
    console,
    emit_json,
    jsonable,
    parse_when,
    run,
    show,
    stderr_is_tty,
    usage,
)
from licentia.cli.groups import AppOpt, JsonOpt, ReasonOpt, license_app, subscription_app
from licentia.cli.outputs import StagedOutput, check_output, commit_after
from licentia.services import admin, audit, transfer, views_licenses
from licentia.services.runtime import Runtime
from licentia.services.views_licenses import LicenseFilter, LicenseView
from licentia.store.tables import apps

T = TypeVar("T")
PROGRESS_THRESHOLD = 2000
KeyArg = Annotated[str, typer.Argument(help="License key.")]
FormatOpt = Annotated[str, typer.Option("--format", help="text, csv or json.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
]
StateOpt = Annotated[
    str | None,
    typer.Option("--state", help="unused, active, used, banned, paused or expired."),
]
SubscriptionFilterOpt = Annotated[str | None, typer.Option("--subscription")]
NoteFilterOpt = Annotated[str | None, typer.Option("--note", help="Exact note.")]
BatchOpt = Annotated[str | None, typer.Option("--batch", help="Batch id.")]
UsedByOpt = Annotated[str | None, typer.Option("--used-by", help="Username that redeemed it.")]
SearchOpt = Annotated[str | None, typer.Option("--search", help="Key prefix.")]
FromOpt = Annotated[str | None, typer.Option("--created-from", help="Created at/after (ISO).")]
ToOpt = Annotated[str | None, typer.Option("--created-to", help="Created before (ISO).")]
LIST_COLUMNS = ("key", "subscription", "state", "expiry_date", "device_limit", "used_by", "note")


# -- plumbing ----------------------------------------------------------------------------


async def _audit(
    rt: Runtime,
    app_id: str,
    capability: str,
    target_type: str,
    target: str,
    changes: dict[str, Any],
) -> None:
    """The CLI's audit entry, in the caller's write transaction (so it commits with the change)."""
    async with rt.db.write() as conn:
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
            target=target,
            changes=changes,
            app_id=app_id,
        )


def _stored(view: LicenseView) -> dict[str, Any]:
    data = view.as_dict()
    if view.status == "unused":  # "if activated now" moves with the clock: not a change
        data["expiry_date"] = view.fixed_expiry
    return data


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    skip = {"state", "expired", "id", "fixed_expiry"}
    return {k: [before.get(k), v] for k, v in after.items() if k not in skip and before.get(k) != v}


def _public(view: LicenseView) -> dict[str, Any]:
    data = view.as_dict()
    for name in ("id", "fixed_expiry"):
        data.pop(name)
    return data


async def _licensed_change(
    rt: Runtime,
    app_id: str,
    key: str,
    capability: str,
    change: Callable[[str], Awaitable[Any]],
) -> LicenseView:
    """Run `change(key)` on one license and audit its before/after, in one transaction."""
    async with rt.db.write():
        before = await views_licenses.get_license(rt, app_id, key)
        await change(before.key)
        after = await views_licenses.get_license(rt, app_id, before.key)
        changes = _diff(_stored(before), _stored(after))
        if changes:
            await _audit(rt, app_id, capability, "license", before.key, changes)
    return after


@contextmanager
def _progress(label: str, total: int | None, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on stderr (only when `enabled`); yields `update(done)`."""
    if not enabled:
        yield lambda done: None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)


def _interactive(json_out: bool, amount: int = PROGRESS_THRESHOLD) -> bool:
    return not json_out and amount >= PROGRESS_THRESHOLD and stderr_is_tty()


def _filters(
    json_out: bool,
    state: str | None,
    subscription: str | None,
    note: str | None,
    batch: str | None,
    used_by: str | None,
    search: str | None,
    created_from: str | None,
    created_to: str | None,
) -> LicenseFilter:
    return LicenseFilter(
        state=state,
        subscription=subscription,
        note=note,
        batch=batch,
        used_by=used_by,
        search=search,
        created_from=parse_when(json_out, "--created-from", created_from),
        created_to=parse_when(json_out, "--created-to", created_to),
    )


def _check_format(json_out: bool, fmt: str) -> None:
    if fmt not in transfer.EXPORT_FORMATS:
        usage(json_out, "--format must be text, csv or json")


# -- subscriptions -----------------------------------------------------------------------


def _sub_data(view: views_licenses.SubscriptionView) -> dict[str, Any]:
    return {"id": view.id, "name": view.name, "level": view.level, "created_at": view.created_at}


@subscription_app.command("list")
def subscription_list(ctx: typer.Context, app_id: AppOpt, json_out: JsonOpt = False) -> None:
    """List the app's subscriptions by level, then name."""
    subs = run(ctx, json_out, lambda rt: views_licenses.list_subscriptions(rt, app_id))
    rows = [_sub_data(s) for s in subs]
    if json_out:
        emit_json({"subscriptions": rows})
        return
    table = Table(title="Subscriptions")
    for column in ("name", "level", "created_at", "id"):
        table.add_column(column, overflow="fold")
    for row in jsonable(rows):
        table.add_row(row["name"], str(row["level"]), row["created_at"], row["id"])
    console().print(table)


@subscription_app.command("create")
def subscription_create(
    ctx: typer.Context,
    app_id: AppOpt,
    name: Annotated[str, typer.Option("--name")],
    level: Annotated[int, typer.Option("--level")] = 1,
    json_out: JsonOpt = False,
) -> None:
    """Create a subscription."""

    async def work(rt: Runtime) -> admin.Subscription:
        async with rt.db.write():
            sub = await admin.create_subscription(rt, app_id, name, level)
            changes = {"name": [None, sub.name], "level": [None, sub.level]}
            await _audit(rt, app_id, "subscription.create", "subscription", sub.name, changes)
        return sub

    sub = run(ctx, json_out, work)
    show(json_out, {"id": sub.id, "app_id": sub.app_id, "name": sub.name, "level": sub.level})


@subscription_app.command("edit")
def subscription_edit(
    ctx: typer.Context,
    app_id: AppOpt,
    name: Annotated[str, typer.Option("--name", help="The subscription to change.")],
    new_name: Annotated[str | None, typer.Option("--new-name")] = None,
    level: Annotated[int | None, typer.Option("--level")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Rename a subscription or change its level (a rename shows everywhere at once)."""

    async def work(rt: Runtime) -> views_licenses.SubscriptionView:
        async with rt.db.write():
            before, after = await admin.edit_subscription(
                rt, app_id, name, new_name=new_name, level=level
            )
            changes = _diff(before.as_dict(), after.as_dict())
            if changes:
                await _audit(rt, app_id, "subscription.edit", "subscription", before.name, changes)
        return after

    show(json_out, _sub_data(run(ctx, json_out, work)))


@subscription_app.command("delete")
def subscription_delete(
    ctx: typer.Context,
    app_id: AppOpt,
    name: Annotated[str, typer.Option("--name")],
    reassign_to: Annotated[
        str | None,
        typer.Option("--reassign-to", help="Subscription that takes over every reference."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete a subscription (refused while used, unless --reassign-to)."""

    async def work(rt: Runtime) -> admin.DeletedSubscription:
        async with rt.db.write():
            gone = await admin.delete_subscription(rt, app_id, name, reassign_to=reassign_to)
            changes: dict[str, Any] = {"name": [gone.name, None]}
            if gone.reassigned_to is not None:
                changes["reassigned_to"] = [None, gone.reassigned_to]
                changes["moved"] = [None, gone.moved]
            await _audit(rt, app_id, "subscription.delete", "subscription", gone.name, changes)
        return gone

    gone = run(ctx, json_out, work)
    show(
        json_out,
        {
            "deleted": gone.name,
            "reassigned_to": gone.reassigned_to,
            "moved": gone.moved,
        },
    )


# -- licenses: list, info ----------------------------------------------------------------


@license_app.command("list")
def license_list(
    ctx: typer.Context,
    app_id: AppOpt,
    state: StateOpt = None,
    subscription: SubscriptionFilterOpt = None,
    note: NoteFilterOpt = None,
    batch: BatchOpt = None,
    used_by: UsedByOpt = None,
    search: SearchOpt = None,
    created_from: FromOpt = None,
    created_to: ToOpt = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next_cursor of a page.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows per page (1-500).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List licenses, newest first, one page at a time."""
    filters = _filters(
        json_out, state, subscription, note, batch, used_by, search, created_from, created_to
    )
    page = run(
        ctx,
        json_out,
        lambda rt: views_licenses.list_licenses(rt, app_id, filters, cursor=cursor, limit=limit),
    )
    rows = [_public(v) for v in page.items]
    if json_out:
        emit_json({"items": rows, "next_cursor": page.next_cursor})
        return
    table = Table(title="Licenses")
    for column in LIST_COLUMNS:
        table.add_column(column, overflow="fold")
    for row in jsonable(rows):
        table.add_row(*("-" if row[c] in (None, "") else str(row[c]) for c in LIST_COLUMNS))
    console().print(table)
    if page.next_cursor:
        console(stderr=True).print(f"more: --cursor {page.next_cursor}")


@license_app.command("info")
def license_info(
    ctx: typer.Context, key: KeyArg, app_id: AppOpt, json_out: JsonOpt = False
) -> None:
    """Show one license."""
    view = run(ctx, json_out, lambda rt: views_licenses.get_license(rt, app_id, key))
    show(json_out, _public(view), title=f"License {view.key}")


# -- licenses: add, generate -------------------------------------------------------------


def _one_term(json_mode: bool, days: int | None, expires: str | None, lifetime: bool) -> None:
    if sum((days is not None, expires is not None, lifetime)) != 1:
        usage(json_mode, "give exactly one of --days, --expires and --lifetime")


@license_app.command("generate")
def license_generate(
    ctx: typer.Context,
    app_id: AppOpt,
    subscription: Annotated[str, typer.Option("--subscription", help="Subscription name.")],
    days: Annotated[
        int | None, typer.Option("--days", help="Term in days, starting at first use.")
    ] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Fixed expiry (ISO).")] = None,
    lifetime: Annotated[bool, typer.Option("--lifetime", help="Never expires.")] = False,
    device_limit: Annotated[int, typer.Option("--device-limit", help="0 = unlimited.")] = 1,
    count: Annotated[int, typer.Option("--count", help="How many keys (1-100000).")] = 1,
    mask: Annotated[
        str, typer.Option("--mask", help="X or * = random character; others literal.")
    ] = admin.DEFAULT_MASK,
    note: Annotated[str, typer.Option("--note")] = "",
    capital: Annotated[bool, typer.Option("--capital/--no-capital", help="Use A-Z.")] = True,
    lowercase: Annotated[bool, typer.Option("--lowercase/--no-lowercase", help="Use a-z.")] = False,
    numbers: Annotated[bool, typer.Option("--numbers/--no-numbers", help="Use 0-9.")] = True,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="A retry with the same key within 24 h returns the first batch.",
        ),
    ] = None,
    fmt: FormatOpt = "text",
    output: OutputOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Generate license keys from a mask (all or none)."""
    _one_term(json_out, days, expires, lifetime)
    _check_format(json_out, fmt)
    when = parse_when(json_out, "--expires", expires)
    check_output(json_out, output)  # before any key is made
    staged = StagedOutput(output) if output is not None else None

    async def work(rt: Runtime) -> admin.GeneratedBatch:
        with _progress("Generating", count, _interactive(json_out, count)) as update:
            async with rt.db.write():
                batch = await admin.generate_batch(
                    rt,
                    app_id,
                    subscription,
                    days=days,
                    expires=when,
                    lifetime=lifetime,
                    device_limit=device_limit,
                    count=count,
                    mask=mask,
                    note=note,
                    use_capital=capital,
                    use_lowercase=lowercase,
                    use_numbers=numbers,
                    idempotency_key=idempotency_key,
                    progress=update,
                )
                if not batch.replayed:
                    changes = {
                        "count": [None, len(batch.keys)],
                        "subscription": [None, subscription],
                        "mask": [None, mask],
                        "note": [None, note],
                    }
                    await _audit(
                        rt, app_id, "license.generate", "license-batch", batch.batch_id, changes
                    )
                if staged is not None:  # a failed write rolls the batch back
                    staged.stage(transfer.render_keys(batch.keys, fmt, batch.batch_id))
        return batch

    batch = commit_after(json_out, staged, lambda: run(ctx, json_out, work))
    _report_batch(json_out, batch, fmt, output)


def _report_batch(
    json_out: bool, batch: admin.GeneratedBatch, fmt: str, output: Path | None
) -> None:
    if json_out:  # exactly `{"keys": [...]}` (scripts rely on it); --output has the batch id
        emit_json({"keys": batch.keys})
        return
    if output is None:  # plain lines (or CSV/JSON), so the output can be piped into a file
        typer.echo(transfer.render_keys(batch.keys, fmt, batch.batch_id), nl=False)
    status = "returned again (idempotent retry)" if batch.replayed else "generated"
    where = f" to {output}" if output is not None else ""
    console(stderr=True).print(f"{len(batch.keys)} key(s) {status}{where}; batch {batch.batch_id}.")


@license_app.command("add")
def license_add(
    ctx: typer.Context,
    app_id: AppOpt,
    key: Annotated[str, typer.Option("--key", help="The key (1-64 of A-Z a-z 0-9 - _).")],
    subscription: Annotated[str, typer.Option("--subscription")],
    days: Annotated[int | None, typer.Option("--days")] = None,
    expires: Annotated[str | None, typer.Option("--expires")] = None,
    lifetime: Annotated[bool, typer.Option("--lifetime")] = False,
    device_limit: Annotated[int, typer.Option("--device-limit")] = 1,
    note: Annotated[str, typer.Option("--note")] = "",
    email: Annotated[str, typer.Option("--email")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Add one specific key (no term given = lifetime)."""
    if sum((days is not None, expires is not None, lifetime)) > 1:
        usage(json_out, "give at most one of --days, --expires and --lifetime")
    when = parse_when(json_out, "--expires", expires)

    async def work(rt: Runtime) -> admin.LicenseState:
        async with rt.db.write():
            state = await admin.add_license(
                rt,
                app_id,
                key,
                subscription,
                days=days,
                expires=when,
                lifetime=lifetime,
                device_limit=device_limit,
                note=note,
                email=email,
            )
            changes = {
                "subscription": [None, subscription],
                "duration_days": [None, state.duration_days],
                "expiry_date": [None, state.fixed_expiry],
                "device_limit": [None, state.device_limit],
                "note": [None, note],
            }
            await _audit(rt, app_id, "license.add", "license", state.key, changes)
        return state

    show(json_out, _license_data(run(ctx, json_out, work), "add"))


def _license_data(state: admin.LicenseState, action: str) -> dict[str, Any]:
    return {
        "key": state.key,
        "app_id": state.app_id,
        "action": action,
        "banned": state.banned,
        "paused": state.paused,
        "status": state.status,
    }


# -- licenses: state changes -------------------------------------------------------------

_STATE_SERVICES: dict[str, Any] = {
    "ban": admin.ban_license,
    "unban": admin.unban_license,
    "pause": admin.pause_license,
    "unpause": admin.unpause_license,
}


def _license_action(
    ctx: typer.Context, action: str, app_id: str, key: str, reason: str, json_out: bool
) -> None:
    fn = _STATE_SERVICES[action]

    async def work(rt: Runtime) -> admin.LicenseState:
        async with rt.db.write():
            await _licensed_change(
                rt, app_id, key, f"license.{action}", lambda k: fn(rt, app_id, k, reason)
            )
            state: admin.LicenseState = await admin.get_license(rt, app_id, key)
        return state

    show(json_out, _license_data(run(ctx, json_out, work), action))


@license_app.command("ban")
def license_ban(
    ctx: typer.Context,
    key: KeyArg,
    app_id: AppOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Ban a key; ends its sessions."""
    _license_action(ctx, "ban", app_id, key, reason, json_out)


@license_app.command("unban")
def license_unban(
    ctx: typer.Context,
    key: KeyArg,
    app_id: AppOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Lift a key's ban."""
    _license_action(ctx, "unban", app_id, key, reason, json_out)


@license_app.command("pause")
def license_pause(
    ctx: typer.Context,
    key: KeyArg,
    app_id: AppOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Pause a key (its time stops); ends its sessions."""
    _license_action(ctx, "pause", app_id, key, reason, json_out)


@license_app.command("unpause")
def license_unpause(
    ctx: typer.Context,
    key: KeyArg,
    app_id: AppOpt,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Resume a paused key; its expiry moves forward by the paused time."""
    _license_action(ctx, "unpause", app_id, key, reason, json_out)


# -- licenses: edit, extend/shorten, reset-hwid, end-sessions, delete ----------------------


@license_app.command("edit")
def license_edit(
    ctx: typer.Context,
    key: KeyArg,
    app_id: AppOpt,
    note: Annotated[str | None, typer.Option("--note")] = None,
    device_limit: Annotated[
        int | None, typer.Option("--device-limit", help="0 = unlimited.")
    ] = None,
    subscription: Annotated[str | None, typer.Option("--subscription")] = None,
    email: Annotated[str | None, typer.Option("--email", help='"" clears it.')] = None,
    days: Annotated[int | None, typer.Option("--days", help="New term (while unused).")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="New fixed date.")] = None,
    lifetime: Annotated[bool, typer.Option("--lifetime", help="New term: lifetime.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Change a key's note, device limit, subscription or email; its term while unused."""
    if sum((days is not None, expires is not None, lifetime)) > 1:
        usage(json_out, "give at most one of --days, --expires and --lifetime")
    when = parse_when(json_out, "--expires", expires)
    term = None
    if days is not None or when is not None or lifetime:
        term = admin.TermChange(days=days, expires=when, lifetime=lifetime)

    async def work(rt: Runtime) -> LicenseView:
        return await _licensed_change(
            rt,
            app_id,
            key,
            "license.edit",
            lambda k: admin.edit_license(
                rt,
                app_id,
                k,
                note=note,
                device_limit=device_limit,
                subscription=subscription,
                email=email,
                term=term,
            ),
        )

    show(json_out, _public(run(ctx, json_out, work)), title=f"License {key}")


def _shift(
    ctx: typer.Context,
    action: str,
    key: str,
    app_id: str,
    days: int | None,
    expires: str | None,
    json_out: bool,
) -> None:
    if (days is None) == (expires is None):
        usage(json_out, "give exactly one of --days and --expires")
    when = parse_when(json_out, "--expires", expires)
    sign = 1 if action == "extend" else -1

    async def work(rt: Runtime) -> LicenseView:
        return await _licensed_change(
            rt,
            app_id,
            key,
            f"license.{action}",
            lambda k: admin.shift_license(rt, app_id, k, days=days, expires=when, sign=sign),
        )

    show(json_out, _public(run(ctx, json_out, work)), title=f"License {key}")


ShiftDaysOpt = Annotated[int | None, typer.Option("--days", help="Days (at least 1).")]
ShiftDateOpt = Annotated[str | None, typer.Option("--expires", help="The new date (ISO).")]


@license_app.command("extend")
def license_extend(
    ctx: typer.Context,
    key: KeyArg,
    app_id: AppOpt,
    days: ShiftDaysOpt = None,
    expires: ShiftDateOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Extend a key by days, or set its expiry (for an unused duration key, its duration)."""
    _shift(ctx, "extend", key, app_id, days, expires, json_out)


@license_app.command("shorten")
def license_shorten(
    ctx: typer.Context,
    key: KeyArg,
    app_id: AppOpt,
    days: ShiftDaysOpt = None,
    expires: ShiftDateOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Shorten a key by days (an unused duration key never below 1 day), or set its expiry."""
    _shift(ctx, "shorten", key, app_id, days, expires, json_out)


@license_app.command("reset-hwid")
def license_reset_hwid(
    ctx: typer.Context, key: KeyArg, app_id: AppOpt, json_out: JsonOpt = False
) -> None:
    """Clear a key's bound SIDs and last IP (a used key: those of its account)."""

    async def work(rt: Runtime) -> tuple[LicenseView, int]:
        async with rt.db.write():
            before = await views_licenses.get_license(rt, app_id, key)
            removed = await admin.reset_license_hwid(rt, app_id, before.key)
            after = await views_licenses.get_license(rt, app_id, before.key)
            changes = _diff(_stored(before), _stored(after))
            if removed or changes:
                changes["bindings_removed"] = [None, removed]
                await _audit(rt, app_id, "license.reset_hwid", "license", before.key, changes)
        return after, removed

    view, removed = run(ctx, json_out, work)
    show(json_out, {"key": view.key, "bindings_removed": removed, "hwid": view.hwid})


@license_app.command("end-sessions")
def license_end_sessions(
    ctx: typer.Context, key: KeyArg, app_id: AppOpt, json_out: JsonOpt = False
) -> None:
    """End a key's live client sessions."""

    async def work(rt: Runtime) -> int:
        async with rt.db.write():
            ended = await admin.end_license_sessions(rt, app_id, key)
            if ended:
                changes = {"sessions_ended": [None, ended]}
                await _audit(rt, app_id, "license.end_sessions", "license", key.strip(), changes)
        return ended

    show(json_out, {"key": key.strip(), "sessions_ended": run(ctx, json_out, work)})


@license_app.command("delete")
def license_delete(
    ctx: typer.Context,
    app_id: AppOpt,
    key: Annotated[
        str | None, typer.Argument(help="One key; or none, with filters, for a bulk delete.")
    ] = None,
    state: StateOpt = None,
    subscription: SubscriptionFilterOpt = None,
    note: NoteFilterOpt = None,
    batch: BatchOpt = None,
    used_by: UsedByOpt = None,
    search: SearchOpt = None,
    created_from: FromOpt = None,
    created_to: ToOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete one key, or every key matching the filters (e.g. --state unused); ends their
    sessions."""
    filters = _filters(
        json_out, state, subscription, note, batch, used_by, search, created_from, created_to
    )
    if key is not None and not filters.is_empty():
        usage(json_out, "give a key or filters, not both")
    if key is None and filters.is_empty():
        usage(json_out, "give a key, or at least one filter for a bulk delete")

    async def work(rt: Runtime) -> list[str]:
        async with rt.db.write():
            if key is not None:
                before = await views_licenses.get_license(rt, app_id, key)
                await admin.delete_license(rt, app_id, before.key)
                gone: dict[str, Any] = {"state": [before.state, None]}
                await _audit(rt, app_id, "license.delete", "license", before.key, gone)
                return [before.key]
            keys = await admin.delete_licenses(rt, app_id, filters)
            if keys:
                changes = {"deleted": [None, len(keys)]}
                await _audit(
                    rt, app_id, "license.delete", "license", f"{len(keys)} licenses", changes
                )
            return keys

    keys = run(ctx, json_out, work)
    if json_out:
        emit_json({"deleted": len(keys), "keys": keys})
        return
    console().print(f"{len(keys)} license(s) deleted.")
