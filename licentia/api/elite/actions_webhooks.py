"""Elite Key `webhook` function (a Licentia extension of management A.7): a Discord bot can
list an app's webhooks, add one (a Discord channel webhook, say), remove one and send a test.

Thin translations onto `services.webhooks`, with its validation and error codes. A new
endpoint's signing secret is in the `add` answer only; the router records the audit entry.
"""

from __future__ import annotations

from typing import Any

from licentia.api.elite.handlers import Context, Result, action
from licentia.api.elite.params import missing
from licentia.domain.timeutil import iso_z
from licentia.services import webhooks


def _hook(hook: webhooks.Endpoint) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "events": hook.events,
        "format": hook.format,
        "enabled": hook.enabled,
        "description": hook.description,
        "created_at": iso_z(hook.created_at),
    }


def _id(ctx: Context) -> str:
    value = ctx.params.text("webhook_id")
    if not value or not value.strip():
        raise missing("webhook_id")
    ctx.on("webhook", value.strip())
    return value.strip()


@action("webhook", "list")
async def webhook_list(ctx: Context) -> Result:
    hooks = await webhooks.list_endpoints(ctx.rt, ctx.aid)
    return {"message": f"{len(hooks)} webhooks", "webhooks": [_hook(h) for h in hooks]}


@action("webhook", "add")
async def webhook_add(ctx: Context) -> Result:
    p = ctx.params
    url = p.text("url")
    if not url:
        raise missing("url")
    hook = await webhooks.create_endpoint(
        ctx.rt,
        ctx.aid,
        url,
        p.text("events") or "*",
        p.text("format") or "standard",
        p.text("description") or "",
    )
    ctx.on("webhook", hook.id)
    ctx.changes = {name: [None, value] for name, value in _hook(hook).items() if name != "id"}
    return {"message": "Webhook added", "webhook": {**_hook(hook), "secret": hook.secret}}


@action("webhook", "remove")
async def webhook_remove(ctx: Context) -> Result:
    hook = await webhooks.delete_endpoint(ctx.rt, ctx.aid, _id(ctx))
    ctx.changes = {"url": [hook.url, None]}
    return {"message": "Webhook removed"}


@action("webhook", "test")
async def webhook_test(ctx: Context) -> Result:
    event_id = await webhooks.send_test(ctx.rt, ctx.aid, _id(ctx))
    return {"message": "Test event queued", "event_id": event_id}
