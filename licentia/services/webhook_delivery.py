"""The webhook delivery workers: claim due deliveries, send them, record every attempt.

Each `licentia serve` worker process runs `run_worker`. Claiming is safe across processes and
hosts: a due row (`pending`, `next_attempt_at` reached, no live lease) is taken by setting
`lease_until` and a random `lease_token` with a conditional UPDATE (compare-and-set), read on
PostgreSQL with `FOR UPDATE SKIP LOCKED` so concurrent workers take different rows; on SQLite
write transactions are serialised, so there is one claimant at a time. A worker killed with
its lease out simply lets the lease run out; the row is claimed again (at-least-once: the
receiver deduplicates by `webhook-id`).

After a failed attempt the next one waits `schedule[attempts - 1]` seconds, +-20% jitter; when
the schedule is used up the delivery is `failed` (the default spans about 27.6 hours).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import background, webhook_http
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    apps,
    events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)

log = logging.getLogger("licentia.webhooks")

SECRET_PURPOSE = "webhook-secret"  # noqa: S105 - an AEAD purpose label, not a secret
JITTER = 0.2
BATCH = 10  # deliveries claimed at once by one worker
EVENT_KEEP = timedelta(days=30)  # settled events (and their delivery log) are kept this long

d = webhook_deliveries


async def purge(rt: Runtime) -> int:
    """Delete events older than `EVENT_KEEP` none of whose deliveries is still pending (their
    deliveries and attempts go with them); how many."""
    pending = select(d.c.id).where(d.c.event_id == events.c.id, d.c.status == "pending")
    async with rt.db.write() as conn:
        result = await conn.execute(
            delete(events).where(events.c.created_at < rt.clock() - EVENT_KEEP, ~pending.exists())
        )
    return int(result.rowcount or 0)


def next_delay(schedule: Sequence[float], attempts: int, rng: Callable[[], float]) -> float | None:
    """Seconds until the next try after `attempts` failed tries (None: give up)."""
    if attempts < 1 or attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    return max(0.0, base * (1 + JITTER * (2 * rng() - 1)))


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    attempts: int
    event_id: str
    event_type: str
    event_data: str
    event_at: datetime
    app_id: str
    app_name: str
    url: str
    secret_enc: str
    format: str


def _due(now: datetime) -> Any:
    return and_(
        d.c.status == "pending",
        d.c.next_attempt_at <= now,
        or_(d.c.lease_until.is_(None), d.c.lease_until <= now),
    )


def _due_rows(now: datetime) -> Any:
    """Due deliveries of enabled endpoints (a disabled endpoint's queue waits)."""
    return (
        select(d.c.id)
        .join(webhook_endpoints, webhook_endpoints.c.id == d.c.endpoint_id)
        .where(_due(now), webhook_endpoints.c.enabled.is_(True))
    )


async def claim(rt: Runtime, *, limit: int = BATCH) -> tuple[str, list[Claimed]]:
    """Lease up to `limit` due deliveries of enabled endpoints; (lease token, rows)."""
    now = rt.clock()
    token = secrets.token_hex(16)
    # Longer than the longest attempt (every redirect hop timing out) by one more timeout.
    lease = now + timedelta(seconds=rt.settings.webhook_timeout * (webhook_http.MAX_REDIRECTS + 2))
    async with rt.db.read() as conn:  # the usual case, nothing due: no write transaction
        if (await conn.execute(_due_rows(now).limit(1))).first() is None:
            return token, []
    async with rt.db.write() as conn:
        pick = _due_rows(now).order_by(d.c.next_attempt_at, d.c.id).limit(limit)
        if not rt.db.is_sqlite:
            pick = pick.with_for_update(of=d, skip_locked=True)
        ids = [row.id for row in (await conn.execute(pick)).all()]
        if not ids:
            return token, []
        await conn.execute(
            update(d).where(d.c.id.in_(ids), _due(now)).values(lease_until=lease, lease_token=token)
        )
        rows = (
            await conn.execute(
                select(
                    d.c.id,
                    d.c.attempts,
                    events.c.id.label("event_id"),
                    events.c.type,
                    events.c.data,
                    events.c.created_at,
                    events.c.app_id,
                    apps.c.name,
                    webhook_endpoints.c.url,
                    webhook_endpoints.c.secret_enc,
                    webhook_endpoints.c.format,
                )
                .join(events, events.c.id == d.c.event_id)
                .join(webhook_endpoints, webhook_endpoints.c.id == d.c.endpoint_id)
                .join(apps, apps.c.id == events.c.app_id)
                .where(d.c.lease_token == token)
            )
        ).all()
    return token, [Claimed(*row) for row in rows]


def _request(rt: Runtime, item: Claimed) -> tuple[str, dict[str, str]]:
    data = json.loads(item.event_data)
    if item.format == "discord":
        body = webhook_http.discord_body(item.event_type, item.app_name, item.event_at, data)
    else:
        body = webhook_http.standard_body(
            item.event_id, item.event_type, item.app_id, item.event_at, data
        )
    secret = rt.box.decrypt(item.secret_enc, SECRET_PURPOSE).decode()
    return body, webhook_http.signed_headers(secret, item.event_id, rt.clock(), body)


async def _record(
    conn: AsyncConnection,
    item: Claimed,
    token: str,
    outcome: webhook_http.Outcome,
    at: datetime,
    delay: float | None,
) -> None:
    await conn.execute(
        webhook_attempts.insert().values(
            delivery_id=item.delivery_id,
            attempted_at=at,
            status_code=outcome.status_code,
            ok=outcome.ok,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
            response_excerpt=outcome.excerpt,
        )
    )
    values: dict[str, Any] = {
        "attempts": item.attempts + 1,
        "last_status_code": outcome.status_code,
        "lease_until": None,
        "lease_token": None,
    }
    if outcome.ok:
        values.update(status="delivered", delivered_at=at)
    elif delay is None:
        values.update(status="failed")
    else:
        values.update(next_attempt_at=at + timedelta(seconds=delay))
    # Only the lease holder moves the row on (a worker whose lease ran out records its try).
    await conn.execute(
        update(d).where(d.c.id == item.delivery_id, d.c.lease_token == token).values(**values)
    )


async def deliver_one(
    rt: Runtime,
    client: httpx.AsyncClient,
    item: Claimed,
    token: str,
    schedule: Sequence[float],
    rng: Callable[[], float] = random.random,
) -> webhook_http.Outcome:
    try:
        body, headers = _request(rt, item)
    except Exception as exc:  # an unreadable secret: record it, retry later like any failure
        outcome = webhook_http.Outcome(False, None, 0, f"cannot sign: {type(exc).__name__}", "")
    else:
        outcome = await webhook_http.post(
            client,
            item.url,
            body,
            headers,
            allow_private=rt.settings.webhook_allow_private,
            total=rt.settings.webhook_timeout * (webhook_http.MAX_REDIRECTS + 1),
        )
    at = rt.clock()
    delay = None if outcome.ok else next_delay(schedule, item.attempts + 1, rng)
    async with rt.db.write() as conn:
        await _record(conn, item, token, outcome, at, delay)
    return outcome


def make_client(rt: Runtime) -> httpx.AsyncClient:
    """No proxies from the environment, no automatic redirects, one timeout for everything."""
    return httpx.AsyncClient(
        timeout=rt.settings.webhook_timeout, follow_redirects=False, trust_env=False
    )


async def deliver_due(
    rt: Runtime, client: httpx.AsyncClient, schedule: Sequence[float] | None = None
) -> int:
    """Claim one batch and send it (concurrently); the number of attempts made."""
    plan = tuple(schedule) if schedule is not None else rt.settings.webhook_retry_delays()
    token, items = await claim(rt)
    if items:
        await asyncio.gather(*(deliver_one(rt, client, item, token, plan) for item in items))
    return len(items)


async def run_worker(rt: Runtime, poll_interval: float) -> None:
    """Deliver forever: a full batch is followed at once by the next, else sleep a while."""
    async with make_client(rt) as client:
        while True:
            try:
                sent = await background.finish_on_cancel(deliver_due(rt, client))
            except Exception:
                log.exception("webhook delivery round failed")
                sent = 0
            if sent < BATCH:
                await asyncio.sleep(poll_interval)
