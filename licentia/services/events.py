"""Domain events and their durable outbox (issue #9's event record, issue #11's webhooks).

A service that changes something calls `emit(conn, app_id, type, data)` with the connection
of its own transaction: the event row and one `webhook_deliveries` row per subscribed,
enabled endpoint are written there, so they exist exactly when the change was committed (a
rolled-back change leaves no event, a committed one cannot lose its event). The delivery
workers (`services/webhook_delivery.py`) send them later.

Today the outbox has one consumer, the webhooks: an event that no endpoint of its app
subscribes to is not stored (the client hot path then pays one indexed read, no write).

Terms:

* **event type**: one of `EVENT_TYPES` (`area.action`).
* **filter**: what an endpoint subscribes to: `*` (everything), a type, or `area.*`.
* **event id**: `evt_` and 26 random base32 characters; the `webhook-id` of every delivery
  and of every retry of it, so a receiver deduplicates by it.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select

from licentia.domain.timeutil import utcnow
from licentia.store.engine import HotConn
from licentia.store.tables import events, webhook_deliveries, webhook_endpoints

#: Every event type a service emits (docs/webhooks.md describes each payload).
EVENT_TYPES = (
    "license.redeemed",
    "license.banned",
    "license.unbanned",
    "license.paused",
    "license.unpaused",
    "license.expired_on_use",
    "user.registered",
    "user.login",
    "user.login_failed",
    "user.banned",
    "user.unbanned",
    "user.paused",
    "user.unpaused",
    "device.banned",
    "device.unbanned",
    "device.paused",
    "device.unpaused",
    "hwid.reset",
    "device.limit_reached",
    "session.ended",
    "key.generated",
    "reseller.purchase",
    "app.setting_changed",
    "webhook.test",
)
#: Past tense of the admin state actions, as event type suffixes.
PAST = {"ban": "banned", "unban": "unbanned", "pause": "paused", "unpause": "unpaused"}
_AREAS = frozenset(name.split(".", 1)[0] for name in EVENT_TYPES)


# Built once: the client hot path runs `emit` on every identity call.
_SUBSCRIBERS = select(webhook_endpoints.c.id, webhook_endpoints.c.event_types).where(
    and_(webhook_endpoints.c.app_id == bindparam("app"), webhook_endpoints.c.enabled.is_(True))
)
_INSERT_EVENT = events.insert().values(
    id=bindparam("id"),
    app_id=bindparam("app_id"),
    type=bindparam("type"),
    data=bindparam("data"),
    created_at=bindparam("at"),
)
_INSERT_DELIVERY = webhook_deliveries.insert().values(
    event_id=bindparam("event_id"),
    endpoint_id=bindparam("endpoint"),
    next_attempt_at=bindparam("at"),
    created_at=bindparam("at"),
)


def new_event_id() -> str:
    raw = base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()
    return f"evt_{raw[:26]}"


def valid_filter(item: str) -> bool:
    """True for `*`, a known event type, or `area.*` of a known area."""
    if item == "*" or item in EVENT_TYPES:
        return True
    area, _, rest = item.partition(".")
    return rest == "*" and area in _AREAS


def parse_filter(text: str) -> list[str]:
    """`"license.*, user.login"` -> `["license.*", "user.login"]`; empty means `*`."""
    items = [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
    return sorted(set(items)) or ["*"]


def matches(filters: Iterable[str], event_type: str) -> bool:
    area = event_type.split(".", 1)[0]
    return any(f in ("*", event_type, f"{area}.*") for f in filters)


async def emit(
    conn: HotConn,
    app_id: str,
    type: str,
    data: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> str | None:
    """Record one event in the caller's transaction; its id, or None when nobody listens."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    rows = (await conn.execute(_SUBSCRIBERS, {"app": app_id})).all()
    targets = [row.id for row in rows if matches(str(row.event_types).split(","), type)]
    if not targets:
        return None
    at = now or utcnow()
    event_id = new_event_id()
    body = json.dumps(dict(data), separators=(",", ":"), sort_keys=True, default=str)
    await conn.execute(
        _INSERT_EVENT, {"id": event_id, "app_id": app_id, "type": type, "data": body, "at": at}
    )
    for target in targets:
        await conn.execute(_INSERT_DELIVERY, {"event_id": event_id, "endpoint": target, "at": at})
    return event_id


async def sessions_ended(
    conn: HotConn,
    app_id: str,
    kind: str,
    identity_id: str,
    reason: str,
    count: int | None,
    now: datetime,
) -> None:
    """`session.ended` for the `count` live sessions of one identity that a change just ended
    (nothing when it ended none): every path that ends sessions reports them the same way."""
    if count:
        data = {"kind": kind, "identity_id": identity_id, "reason": reason, "count": int(count)}
        await emit(conn, app_id, "session.ended", data, now=now)
