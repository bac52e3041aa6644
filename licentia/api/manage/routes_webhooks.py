"""Management API routes for outbound webhooks (issue #11; docs/webhooks.md).

`/apps/{app_id}/webhooks`: endpoints (list, create, one, edit, delete, rotate the secret,
send a test event) and their delivery log (list, one with its attempts, resend). A signing
secret leaves only in the answers of create and rotate-secret. Each change is audited with
the token as actor (`webhook.<action>`, target type `webhook`).
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures at
# definition time, and their `Depends(guard.app(...))` refer to local names.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from licentia.api.manage.auth import Ctx, Guard
from licentia.api.manage.routing import api_fields
from licentia.api.manage.schemas import Strict, UtcTime
from licentia.services import webhooks

Format = Literal["standard", "discord"]
Status = Literal["pending", "delivered", "failed"]
TAGS: list[Any] = ["webhooks"]
PATH = "/apps/{app_id}/webhooks"
_AUDITED = ("url", "events", "format", "enabled", "description")


class WebhookCreate(Strict):
    url: str = Field(max_length=2048, description="http(s) URL; public addresses only")
    events: list[str] = Field(default_factory=lambda: ["*"], description="`*`, types, `area.*`")
    format: Format = "standard"
    description: str = ""
    enabled: bool = True


class WebhookEdit(Strict):
    url: str | None = Field(default=None, max_length=2048)
    events: list[str] | None = None
    format: Format | None = None
    description: str | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    id: str
    app_id: str
    url: str
    events: list[str]
    format: str
    enabled: bool
    description: str
    created_at: UtcTime
    updated_at: UtcTime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="the whsec_ signing secret; shown only here")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="the webhook-id header of every attempt")
    event_type: str
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: UtcTime
    last_status_code: int | None
    created_at: UtcTime
    delivered_at: UtcTime | None


class AttemptOut(BaseModel):
    id: int
    attempted_at: UtcTime
    status_code: int | None
    ok: bool
    latency_ms: int
    error: str
    response_excerpt: str


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


class DeliveryDetail(DeliveryOut):
    attempts_log: list[AttemptOut]


class TestSent(BaseModel):
    event_id: str


def _out(model: type[BaseModel], value: Any) -> Any:
    return model.model_validate(value, from_attributes=True)


def _audited(hook: webhooks.Endpoint) -> dict[str, Any]:
    return {name: getattr(hook, name) for name in _AUDITED}


def register(router: APIRouter, guard: Guard) -> None:
    """Add the webhook routes to the management router."""
    _endpoints(router, guard)
    _changes(router, guard)
    _deliveries(router, guard)


def _endpoints(router: APIRouter, guard: Guard) -> None:
    @router.get(PATH, response_model=WebhookList, tags=TAGS, summary="List webhooks")
    async def webhook_list(ctx: Annotated[Ctx, Depends(guard.app("webhook.list"))]) -> Any:
        assert ctx.app_id is not None
        items = await webhooks.list_endpoints(ctx.rt, ctx.app_id)
        return WebhookList(items=[_out(WebhookOut, i) for i in items])

    @router.post(
        PATH,
        response_model=WebhookWithSecret,
        status_code=201,
        tags=TAGS,
        summary="Create a webhook",
    )
    async def webhook_create(
        ctx: Annotated[Ctx, Depends(guard.app("webhook.create"))], body: WebhookCreate
    ) -> Any:
        """The answer carries the `whsec_` signing secret: keep it, it is not shown again."""
        assert ctx.app_id is not None
        with api_fields():
            hook = await webhooks.create_endpoint(
                ctx.rt,
                ctx.app_id,
                body.url,
                body.events,
                body.format,
                body.description,
                body.enabled,
            )
        changes = {name: [None, value] for name, value in _audited(hook).items()}
        await ctx.audit(target_type="webhook", target=hook.id, changes=changes)
        return _out(WebhookWithSecret, hook)

    @router.get(PATH + "/{webhook_id}", response_model=WebhookOut, tags=TAGS, summary="A webhook")
    async def webhook_get(
        ctx: Annotated[Ctx, Depends(guard.app("webhook.get"))], webhook_id: str
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            return _out(WebhookOut, await webhooks.get_endpoint(ctx.rt, ctx.app_id, webhook_id))


def _changes(router: APIRouter, guard: Guard) -> None:
    @router.patch(
        PATH + "/{webhook_id}", response_model=WebhookOut, tags=TAGS, summary="Edit a webhook"
    )
    async def webhook_edit(
        ctx: Annotated[Ctx, Depends(guard.app("webhook.edit"))],
        webhook_id: str,
        body: WebhookEdit,
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            before = await webhooks.get_endpoint(ctx.rt, ctx.app_id, webhook_id)
            after = await webhooks.update_endpoint(
                ctx.rt, ctx.app_id, webhook_id, **body.model_dump(exclude_none=True)
            )
        old, new = _audited(before), _audited(after)
        changes = {n: [old[n], new[n]] for n in _AUDITED if old[n] != new[n]}
        await ctx.audit(target_type="webhook", target=webhook_id, changes=changes)
        return _out(WebhookOut, after)

    @router.delete(
        PATH + "/{webhook_id}",
        status_code=204,
        response_class=Response,
        tags=TAGS,
        summary="Delete a webhook and its delivery log",
    )
    async def webhook_delete(
        ctx: Annotated[Ctx, Depends(guard.app("webhook.delete"))], webhook_id: str
    ) -> Response:
        assert ctx.app_id is not None
        with api_fields():
            hook = await webhooks.delete_endpoint(ctx.rt, ctx.app_id, webhook_id)
        changes = {name: [value, None] for name, value in _audited(hook).items()}
        await ctx.audit(target_type="webhook", target=webhook_id, changes=changes)
        return Response(status_code=204)

    @router.post(
        PATH + "/{webhook_id}/rotate-secret",
        response_model=WebhookWithSecret,
        tags=TAGS,
        summary="Replace the signing secret",
    )
    async def webhook_rotate(
        ctx: Annotated[Ctx, Depends(guard.app("webhook.rotate_secret"))], webhook_id: str
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            hook = await webhooks.rotate_secret(ctx.rt, ctx.app_id, webhook_id)
        await ctx.audit(target_type="webhook", target=webhook_id, changes={"secret": [1, 2]})
        return _out(WebhookWithSecret, hook)

    @router.post(
        PATH + "/{webhook_id}/test",
        response_model=TestSent,
        status_code=202,
        tags=TAGS,
        summary="Queue a webhook.test event for this webhook",
    )
    async def webhook_test(
        ctx: Annotated[Ctx, Depends(guard.app("webhook.send_test"))], webhook_id: str
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            event_id = await webhooks.send_test(ctx.rt, ctx.app_id, webhook_id)
        await ctx.audit(target_type="webhook", target=webhook_id)
        return TestSent(event_id=event_id)


def _deliveries(router: APIRouter, guard: Guard) -> None:
    @router.get(
        PATH + "/{webhook_id}/deliveries",
        response_model=DeliveryList,
        tags=TAGS,
        summary="The delivery log of a webhook",
    )
    async def delivery_list(
        ctx: Annotated[Ctx, Depends(guard.app("webhook.list"))],
        webhook_id: str,
        status: Annotated[Status | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Any:
        """Newest first."""
        assert ctx.app_id is not None
        with api_fields():
            items = await webhooks.list_deliveries(
                ctx.rt, ctx.app_id, webhook_id, status=status or "", limit=limit
            )
        return DeliveryList(items=[_out(DeliveryOut, i) for i in items])

    @router.get(
        PATH + "/deliveries/{delivery_id}",
        response_model=DeliveryDetail,
        tags=TAGS,
        summary="One delivery with every attempt",
    )
    async def delivery_get(
        ctx: Annotated[Ctx, Depends(guard.app("webhook.get"))], delivery_id: int
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            delivery, attempts = await webhooks.get_delivery(ctx.rt, ctx.app_id, delivery_id)
        return DeliveryDetail(
            **_out(DeliveryOut, delivery).model_dump(),
            attempts_log=[_out(AttemptOut, a) for a in attempts],
        )

    @router.post(
        PATH + "/deliveries/{delivery_id}/resend",
        response_model=DeliveryOut,
        tags=TAGS,
        summary="Send a delivery again (same webhook-id)",
    )
    async def delivery_resend(
        ctx: Annotated[Ctx, Depends(guard.app("webhook.resend"))], delivery_id: int
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            delivery = await webhooks.resend(ctx.rt, ctx.app_id, delivery_id)
        await ctx.audit(target_type="webhook-delivery", target=str(delivery_id))
        return _out(DeliveryOut, delivery)
