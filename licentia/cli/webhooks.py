"""`licentia webhook ...`: outbound webhook endpoints of an app and their delivery log
(issue #11; docs/webhooks.md). Every change is audited (`webhook.<action>`, face `cli`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from licentia.cli._support import run, show
from licentia.cli.apps import audited, show_rows
from licentia.cli.groups import AppOpt, JsonOpt, webhook_app
from licentia.services import webhooks
from licentia.services.runtime import Runtime

IdOpt = Annotated[str, typer.Option("--id", help="Webhook id (`webhook list`).")]
DeliveryOpt = Annotated[int, typer.Option("--delivery", help="Delivery id (`webhook deliveries`).")]
EventsOpt = Annotated[
    str | None,
    typer.Option("--events", help="Comma-separated: `*`, event types, `area.*` (default `*`)."),
]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="standard (signed JSON) or discord.")
]
DescriptionOpt = Annotated[str | None, typer.Option("--description")]
_AUDITED = ("url", "events", "format", "enabled", "description")
_COLUMNS = ["id", "url", "events", "format", "enabled", "description"]
_DELIVERY_COLUMNS = ["id", "event_id", "event_type", "status", "attempts", "last_status_code"]


def _row(hook: webhooks.Endpoint) -> dict[str, Any]:
    return hook.as_dict()


def _audited_fields(hook: webhooks.Endpoint) -> dict[str, Any]:
    return {name: getattr(hook, name) for name in _AUDITED}


@webhook_app.command("add")
def webhook_add(
    ctx: typer.Context,
    app_id: AppOpt,
    url: Annotated[str, typer.Option("--url", help="http(s) URL (public addresses only).")],
    events: EventsOpt = None,
    fmt: FormatOpt = None,
    description: DescriptionOpt = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Add a webhook; prints its `whsec_` signing secret once."""

    async def work(rt: Runtime) -> webhooks.Endpoint:
        return await audited(
            rt,
            "webhook.create",
            lambda: webhooks.create_endpoint(
                rt, app_id, url, events or "*", fmt or "standard", description or "", not disabled
            ),
            app_id=app_id,
            target_type="webhook",
            target=lambda h: h.id,
            changes=lambda h: {k: [None, v] for k, v in _audited_fields(h).items()},
        )

    show(json_out, _row(run(ctx, json_out, work)))


@webhook_app.command("list")
def webhook_list(ctx: typer.Context, app_id: AppOpt, json_out: JsonOpt = False) -> None:
    """List an app's webhooks (never their secrets)."""
    items = run(ctx, json_out, lambda rt: webhooks.list_endpoints(rt, app_id))
    show_rows(json_out, "webhooks", [_row(h) for h in items], _COLUMNS)


@webhook_app.command("show")
def webhook_show(
    ctx: typer.Context, app_id: AppOpt, hook_id: IdOpt, json_out: JsonOpt = False
) -> None:
    """Show one webhook."""
    show(json_out, _row(run(ctx, json_out, lambda rt: webhooks.get_endpoint(rt, app_id, hook_id))))


@webhook_app.command("edit")
def webhook_edit(
    ctx: typer.Context,
    app_id: AppOpt,
    hook_id: IdOpt,
    url: Annotated[str | None, typer.Option("--url")] = None,
    events: EventsOpt = None,
    fmt: FormatOpt = None,
    description: DescriptionOpt = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", show_default=False)] = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a webhook's URL, events, format, description or on/off state."""
    changes: dict[str, Any] = {"url": url, "events": events, "format": fmt}
    changes.update(description=description, enabled=enabled)

    async def work(rt: Runtime) -> webhooks.Endpoint:
        before = _audited_fields(await webhooks.get_endpoint(rt, app_id, hook_id))
        return await audited(
            rt,
            "webhook.edit",
            lambda: webhooks.update_endpoint(rt, app_id, hook_id, **changes),
            app_id=app_id,
            target_type="webhook",
            target=hook_id,
            changes=lambda h: {
                k: [before[k], v] for k, v in _audited_fields(h).items() if before[k] != v
            },
        )

    show(json_out, _row(run(ctx, json_out, work)))


@webhook_app.command("remove")
def webhook_remove(
    ctx: typer.Context, app_id: AppOpt, hook_id: IdOpt, json_out: JsonOpt = False
) -> None:
    """Delete a webhook and its delivery log."""

    async def work(rt: Runtime) -> webhooks.Endpoint:
        return await audited(
            rt,
            "webhook.delete",
            lambda: webhooks.delete_endpoint(rt, app_id, hook_id),
            app_id=app_id,
            target_type="webhook",
            target=hook_id,
            changes=lambda h: {k: [v, None] for k, v in _audited_fields(h).items()},
        )

    hook = run(ctx, json_out, work)
    show(json_out, {"removed": True, "id": hook.id})


@webhook_app.command("rotate-secret")
def webhook_rotate(
    ctx: typer.Context, app_id: AppOpt, hook_id: IdOpt, json_out: JsonOpt = False
) -> None:
    """Replace the signing secret; prints the new one once."""

    async def work(rt: Runtime) -> webhooks.Endpoint:
        return await audited(
            rt,
            "webhook.rotate_secret",
            lambda: webhooks.rotate_secret(rt, app_id, hook_id),
            app_id=app_id,
            target_type="webhook",
            target=hook_id,
            changes=lambda _h: {"secret": [1, 2]},
        )

    show(json_out, _row(run(ctx, json_out, work)))


@webhook_app.command("test")
def webhook_test(
    ctx: typer.Context, app_id: AppOpt, hook_id: IdOpt, json_out: JsonOpt = False
) -> None:
    """Queue a `webhook.test` event for this webhook (sent by a running `licentia serve`)."""

    async def work(rt: Runtime) -> str:
        return await audited(
            rt,
            "webhook.send_test",
            lambda: webhooks.send_test(rt, app_id, hook_id),
            app_id=app_id,
            target_type="webhook",
            target=hook_id,
        )

    show(json_out, {"event_id": run(ctx, json_out, work)})


@webhook_app.command("deliveries")
def webhook_deliveries(
    ctx: typer.Context,
    app_id: AppOpt,
    hook_id: IdOpt,
    status: Annotated[str, typer.Option("--status", help="pending, delivered or failed.")] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """The delivery log of a webhook, newest first."""
    items = run(
        ctx,
        json_out,
        lambda rt: webhooks.list_deliveries(rt, app_id, hook_id, status=status, limit=limit),
    )
    show_rows(json_out, "deliveries", [asdict(d) for d in items], _DELIVERY_COLUMNS)


@webhook_app.command("delivery")
def webhook_delivery(
    ctx: typer.Context, app_id: AppOpt, delivery: DeliveryOpt, json_out: JsonOpt = False
) -> None:
    """One delivery with every attempt (status, latency, response excerpt)."""
    found, attempts = run(ctx, json_out, lambda rt: webhooks.get_delivery(rt, app_id, delivery))
    show(json_out, {**asdict(found), "attempts_log": [asdict(a) for a in attempts]})


@webhook_app.command("resend")
def webhook_resend(
    ctx: typer.Context, app_id: AppOpt, delivery: DeliveryOpt, json_out: JsonOpt = False
) -> None:
    """Send a delivery again (same webhook-id, fresh retry schedule)."""

    async def work(rt: Runtime) -> webhooks.Delivery:
        return await audited(
            rt,
            "webhook.resend",
            lambda: webhooks.resend(rt, app_id, delivery),
            app_id=app_id,
            target_type="webhook-delivery",
            target=str(delivery),
        )

    show(json_out, asdict(run(ctx, json_out, work)))
