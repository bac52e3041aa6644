"""The Webhooks page of an app: endpoints (add, switch on/off, test, rotate the secret,
remove) and the delivery log of one endpoint with every attempt and a resend button.

Every change runs the webhook service and its audit entry in one transaction
(`actions.audited`); a secret is shown once, on the page that answers create or rotate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import dashboard_auth, webhooks
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import AppAccess, DashSession
from licentia.services.events import EVENT_TYPES
from licentia.web.actions import app_page, audited
from licentia.web.app import DashRoute, form_values, runtime
from licentia.web.context import redirect, render

router = APIRouter(route_class=DashRoute)
PATH = "/apps/{app_id}/webhooks"
_CHANGES = ("webhook.create", "webhook.edit", "webhook.delete", "webhook.rotate_secret")
_ALL = (*_CHANGES, "webhook.send_test", "webhook.resend")


async def _can(request: Request, session: DashSession, app_id: str) -> set[str]:
    granted: set[str] = set()
    for capability in _ALL:
        try:
            await dashboard_auth.authorize_app(runtime(request), session, app_id, capability)
        except AdminError as exc:
            if exc.code != "PERMISSION_DENIED":
                raise
        else:
            granted.add(capability)
    return granted


async def _page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    shown: webhooks.Endpoint | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    hooks = await webhooks.list_endpoints(runtime(request), access.app_id)
    context = {
        "app": access,
        "tab": "webhooks",
        "hooks": hooks,
        "shown": shown,
        "event_types": EVENT_TYPES,
        "can": await _can(request, session, access.app_id),
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "webhooks.html", context, session=session, status=status)


def _fields(hook: webhooks.Endpoint) -> dict[str, Any]:
    return {n: getattr(hook, n) for n in ("url", "events", "format", "enabled", "description")}


@router.get(PATH)
async def webhooks_page(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "webhook.list")
    return await _page(request, session, access)


@router.post(PATH)
async def webhook_create(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "webhook.create")
    form = await form_values(request)
    rt = runtime(request)
    try:
        hook = await audited(
            request,
            session,
            lambda: webhooks.create_endpoint(
                rt,
                access.app_id,
                form.get("url", ""),
                form.get("events", "") or "*",
                form.get("format", "standard"),
                form.get("description", ""),
            ),
            capability="webhook.create",
            target_type="webhook",
            target=form.get("url", "")[:200],
            app_id=access.app_id,
            owner_account_id=access.owner_account_id,
        )
    except AdminError as exc:
        if exc.is_not_found:
            raise
        field = (exc.fields or ["form"])[0]
        return await _page(
            request, session, access, errors={field: exc.message}, values=form, status=400
        )
    return await _page(request, session, access, shown=hook)


async def _change(
    request: Request,
    app_id: str,
    webhook_id: str,
    capability: str,
    action: Callable[[Any, str, str], Awaitable[webhooks.Endpoint]],
) -> Response:
    session, access = await app_page(request, app_id, capability)
    rt = runtime(request)
    before = _fields(await webhooks.get_endpoint(rt, access.app_id, webhook_id))
    hook = await audited(
        request,
        session,
        lambda: action(rt, access.app_id, webhook_id),
        capability=capability,
        target_type="webhook",
        target=webhook_id,
        app_id=access.app_id,
        owner_account_id=access.owner_account_id,
        changes={"enabled": [before["enabled"], not before["enabled"]]}
        if capability == "webhook.edit"
        else ({"secret": [1, 2]} if capability == "webhook.rotate_secret" else None),
    )
    if capability == "webhook.rotate_secret":
        return await _page(request, session, access, shown=hook)
    return redirect(request, f"/apps/{access.app_id}/webhooks")


async def _toggle(rt: Any, app_id: str, webhook_id: str) -> webhooks.Endpoint:
    hook = await webhooks.get_endpoint(rt, app_id, webhook_id)
    return await webhooks.update_endpoint(rt, app_id, webhook_id, enabled=not hook.enabled)


@router.post(PATH + "/{webhook_id}/toggle")
async def webhook_toggle(request: Request, app_id: str, webhook_id: str) -> Response:
    return await _change(request, app_id, webhook_id, "webhook.edit", _toggle)


@router.post(PATH + "/{webhook_id}/rotate")
async def webhook_rotate(request: Request, app_id: str, webhook_id: str) -> Response:
    return await _change(
        request, app_id, webhook_id, "webhook.rotate_secret", webhooks.rotate_secret
    )


@router.post(PATH + "/{webhook_id}/delete")
async def webhook_delete(request: Request, app_id: str, webhook_id: str) -> Response:
    """Removes the endpoint with its queue and log, only with the form's `confirm` box ticked."""
    if (await form_values(request)).get("confirm") != "yes":
        session, access = await app_page(request, app_id, "webhook.delete")
        errors = {"remove": "Tick the box next to remove to delete the webhook and its log."}
        return await _page(request, session, access, errors=errors, status=400)
    return await _change(request, app_id, webhook_id, "webhook.delete", webhooks.delete_endpoint)


@router.post(PATH + "/{webhook_id}/test")
async def webhook_test(request: Request, app_id: str, webhook_id: str) -> Response:
    session, access = await app_page(request, app_id, "webhook.send_test")
    rt = runtime(request)
    await audited(
        request,
        session,
        lambda: webhooks.send_test(rt, access.app_id, webhook_id),
        capability="webhook.send_test",
        target_type="webhook",
        target=webhook_id,
        app_id=access.app_id,
        owner_account_id=access.owner_account_id,
    )
    return redirect(request, f"/apps/{access.app_id}/webhooks/{webhook_id}")


@router.get(PATH + "/{webhook_id}")
async def webhook_log(request: Request, app_id: str, webhook_id: str) -> Response:
    """The delivery log: the newest 50 deliveries, each with its attempts."""
    session, access = await app_page(request, app_id, "webhook.list")
    rt = runtime(request)
    hook = await webhooks.get_endpoint(rt, access.app_id, webhook_id)
    status = request.query_params.get("status", "")
    status = status if status in ("pending", "delivered", "failed") else ""
    items = await webhooks.list_deliveries(rt, access.app_id, webhook_id, status=status)
    log = [(d, (await webhooks.get_delivery(rt, access.app_id, d.id))[1]) for d in items]
    context = {
        "app": access,
        "tab": "webhooks",
        "hook": hook,
        "log": log,
        "status": status,
        "can": await _can(request, session, access.app_id),
    }
    return render(request, "webhook_log.html", context, session=session)


@router.post(PATH + "/{webhook_id}/deliveries/{delivery_id}/resend")
async def webhook_resend(
    request: Request, app_id: str, webhook_id: str, delivery_id: int
) -> Response:
    session, access = await app_page(request, app_id, "webhook.resend")
    rt = runtime(request)
    await audited(
        request,
        session,
        lambda: webhooks.resend(rt, access.app_id, delivery_id),
        capability="webhook.resend",
        target_type="webhook-delivery",
        target=str(delivery_id),
        app_id=access.app_id,
        owner_account_id=access.owner_account_id,
    )
    return redirect(request, f"/apps/{access.app_id}/webhooks/{webhook_id}")
