"""Webhook endpoints of an app and their delivery log (issue #11 part 2; docs/webhooks.md).

The faces (CLI, REST, Elite Key, dashboard) call these; each takes an app id the face has
already authorised. An endpoint's signing secret (`whsec_` + base64 of 24 random bytes, the
Standard Webhooks form) is stored encrypted and shown on creation and on `rotate_secret`.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import events as event_outbox
from licentia.services.admin_common import (
    invalid,
    load_app,
    not_found,
    parse_bool,
    parse_int,
    trim,
)
from licentia.services.runtime import Runtime
from licentia.services.webhook_delivery import SECRET_PURPOSE
from licentia.services.webhook_http import TargetRefused, check_literal, check_url_syntax
from licentia.store.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints
from licentia.store.types import new_id

FORMATS = ("standard", "discord")
MAX_ENDPOINTS = 20  # per app
MAX_DESCRIPTION = 256
ep = webhook_endpoints


@dataclass(frozen=True)
class Endpoint:
    id: str
    app_id: str
    url: str
    events: list[str]
    format: str
    enabled: bool
    description: str
    created_at: datetime
    updated_at: datetime
    secret: str | None = None  # only right after create / rotate

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if out["secret"] is None:
            del out["secret"]
        return out


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: str
    event_type: str
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    id: int
    attempted_at: datetime
    status_code: int | None
    ok: bool
    latency_ms: int
    error: str
    response_excerpt: str


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _url(value: object, allow_private: bool) -> str:
    if not isinstance(value, str) or not trim(value):
        raise invalid("url", "url is required")
    try:
        text = check_url_syntax(trim(value))
        check_literal(text, allow_private)
    except TargetRefused as exc:
        raise invalid("url", str(exc)) from None
    return text


def _filters(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    if not isinstance(value, str):
        raise invalid("events", "events is a comma-separated list of event types")
    items = event_outbox.parse_filter(value)
    bad = [item for item in items if not event_outbox.valid_filter(item)]
    if bad:
        raise invalid("events", f"unknown event type(s): {', '.join(bad)} (see docs/webhooks.md)")
    return ["*"] if "*" in items else items


def _format(value: object) -> str:
    text = str(value).strip().lower()
    if text not in FORMATS:
        raise invalid("format", "format is standard or discord")
    return text


def _description(value: object) -> str:
    text = trim(str(value))
    if len(text) > MAX_DESCRIPTION:
        raise invalid("description", f"description has at most {MAX_DESCRIPTION} characters")
    return text


def _view(row: Row[Any], secret: str | None = None) -> Endpoint:
    return Endpoint(
        id=row.id,
        app_id=row.app_id,
        url=row.url,
        events=str(row.event_types).split(","),
        format=row.format,
        enabled=bool(row.enabled),
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        secret=secret,
    )


async def _require(conn: AsyncConnection, app_id: str, endpoint_id: str) -> Row[Any]:
    row = (
        await conn.execute(select(ep).where(and_(ep.c.app_id == app_id, ep.c.id == endpoint_id)))
    ).first()
    if row is None:
        raise not_found("webhook", f"no webhook endpoint {endpoint_id!r} in this app")
    return row


async def create_endpoint(
    rt: Runtime,
    app_id: str,
    url: str,
    events_filter: object = "*",
    format: str = "standard",
    description: str = "",
    enabled: object = True,
) -> Endpoint:
    values = {
        "url": _url(url, rt.settings.webhook_allow_private),
        "event_types": ",".join(_filters(events_filter)),
        "format": _format(format),
        "description": _description(description),
        "enabled": parse_bool(enabled, "enabled"),
    }
    secret = new_secret()
    endpoint_id, now = new_id(), rt.clock()
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        count = (
            await conn.execute(select(func.count()).select_from(ep).where(ep.c.app_id == app_id))
        ).scalar_one()
        if count >= MAX_ENDPOINTS:
            raise invalid("url", f"an app has at most {MAX_ENDPOINTS} webhooks")
        await conn.execute(
            ep.insert().values(
                id=endpoint_id,
                app_id=app_id,
                secret_enc=rt.box.encrypt(secret.encode(), SECRET_PURPOSE),
                created_at=now,
                updated_at=now,
                **values,
            )
        )
        row = await _require(conn, app_id, endpoint_id)
    return _view(row, secret)


async def list_endpoints(rt: Runtime, app_id: str) -> list[Endpoint]:
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = await conn.execute(
            select(ep).where(ep.c.app_id == app_id).order_by(ep.c.created_at, ep.c.id)
        )
        return [_view(row) for row in rows]


async def get_endpoint(rt: Runtime, app_id: str, endpoint_id: str) -> Endpoint:
    async with rt.db.read() as conn:
        return _view(await _require(conn, app_id, endpoint_id))


async def update_endpoint(rt: Runtime, app_id: str, endpoint_id: str, **changes: Any) -> Endpoint:
    """Change `url`, `events`, `format`, `description` and/or `enabled` (others: refused)."""
    parsers: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "url": ("url", lambda v: _url(v, rt.settings.webhook_allow_private)),
        "events": ("event_types", lambda v: ",".join(_filters(v))),
        "format": ("format", _format),
        "description": ("description", _description),
        "enabled": ("enabled", lambda v: parse_bool(v, "enabled")),
    }
    unknown = sorted(set(changes) - set(parsers))
    if unknown:
        raise invalid(unknown[0], f"cannot change {unknown[0]!r} of a webhook")
    values = {
        parsers[name][0]: parsers[name][1](value)
        for name, value in changes.items()
        if value is not None
    }
    async with rt.db.write() as conn:
        await _require(conn, app_id, endpoint_id)
        if values:
            await conn.execute(
                update(ep).where(ep.c.id == endpoint_id).values(updated_at=rt.clock(), **values)
            )
        return _view(await _require(conn, app_id, endpoint_id))


async def rotate_secret(rt: Runtime, app_id: str, endpoint_id: str) -> Endpoint:
    secret = new_secret()
    async with rt.db.write() as conn:
        await _require(conn, app_id, endpoint_id)
        await conn.execute(
            update(ep)
            .where(ep.c.id == endpoint_id)
            .values(
                secret_enc=rt.box.encrypt(secret.encode(), SECRET_PURPOSE), updated_at=rt.clock()
            )
        )
        return _view(await _require(conn, app_id, endpoint_id), secret)


async def delete_endpoint(rt: Runtime, app_id: str, endpoint_id: str) -> Endpoint:
    async with rt.db.write() as conn:
        row = await _require(conn, app_id, endpoint_id)
        await conn.execute(delete(ep).where(ep.c.id == endpoint_id))
    return _view(row)


async def send_test(rt: Runtime, app_id: str, endpoint_id: str) -> str:
    """Queue a `webhook.test` event for this one endpoint (whatever its filter); its id."""
    now = rt.clock()
    async with rt.db.write() as conn:
        await _require(conn, app_id, endpoint_id)
        event_id = event_outbox.new_event_id()
        await conn.execute(
            events.insert().values(
                id=event_id,
                app_id=app_id,
                type="webhook.test",
                data='{"message":"a test event from Licentia"}',
                created_at=now,
            )
        )
        await conn.execute(
            webhook_deliveries.insert().values(
                event_id=event_id, endpoint_id=endpoint_id, next_attempt_at=now, created_at=now
            )
        )
    return event_id


_DELIVERY_COLUMNS = (
    webhook_deliveries.c.id,
    webhook_deliveries.c.event_id,
    events.c.type.label("event_type"),
    webhook_deliveries.c.endpoint_id,
    webhook_deliveries.c.status,
    webhook_deliveries.c.attempts,
    webhook_deliveries.c.next_attempt_at,
    webhook_deliveries.c.last_status_code,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.delivered_at,
)


async def list_deliveries(
    rt: Runtime, app_id: str, endpoint_id: str, *, status: str = "", limit: object = 50
) -> list[Delivery]:
    """Newest first; `status`: `pending`, `delivered` or `failed` (empty: all)."""
    count = parse_int(limit, "limit", low=1, high=500)
    if status not in ("", "pending", "delivered", "failed"):
        raise invalid("status", "status is pending, delivered or failed")
    async with rt.db.read() as conn:
        await _require(conn, app_id, endpoint_id)
        query = (
            select(*_DELIVERY_COLUMNS)
            .join(events, events.c.id == webhook_deliveries.c.event_id)
            .where(webhook_deliveries.c.endpoint_id == endpoint_id)
            .order_by(webhook_deliveries.c.id.desc())
            .limit(count)
        )
        if status:
            query = query.where(webhook_deliveries.c.status == status)
        return [Delivery(**row._mapping) for row in (await conn.execute(query)).all()]


async def _require_delivery(conn: AsyncConnection, app_id: str, delivery_id: object) -> Any:
    number = parse_int(delivery_id, "delivery_id", low=1, high=2**62)
    row = (
        await conn.execute(
            select(*_DELIVERY_COLUMNS)
            .join(events, events.c.id == webhook_deliveries.c.event_id)
            .where(webhook_deliveries.c.id == number, events.c.app_id == app_id)
        )
    ).first()
    if row is None:
        raise not_found("delivery", f"no webhook delivery {delivery_id!r} in this app")
    return row


async def get_delivery(
    rt: Runtime, app_id: str, delivery_id: object
) -> tuple[Delivery, list[Attempt]]:
    async with rt.db.read() as conn:
        row = await _require_delivery(conn, app_id, delivery_id)
        attempts = await conn.execute(
            select(
                webhook_attempts.c.id,
                webhook_attempts.c.attempted_at,
                webhook_attempts.c.status_code,
                webhook_attempts.c.ok,
                webhook_attempts.c.latency_ms,
                webhook_attempts.c.error,
                webhook_attempts.c.response_excerpt,
            )
            .where(webhook_attempts.c.delivery_id == row.id)
            .order_by(webhook_attempts.c.id)
        )
        return Delivery(**row._mapping), [Attempt(*a) for a in attempts.all()]


async def resend(rt: Runtime, app_id: str, delivery_id: object) -> Delivery:
    """Send a delivery again now (same `webhook-id`), with a fresh retry schedule."""
    async with rt.db.write() as conn:
        row = await _require_delivery(conn, app_id, delivery_id)
        await conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == row.id)
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=rt.clock(),
                lease_until=None,
                lease_token=None,
            )
        )
        return Delivery(**(await _require_delivery(conn, app_id, row.id))._mapping)
