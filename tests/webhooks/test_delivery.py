"""Signed outbound webhooks (issue #11 part 2): the outbox, delivery, retries, safety.

A real HTTP receiver on 127.0.0.1 verifies every request with the `standardwebhooks`
library. The retry schedule is injected (`schedule=`), so retries need no waiting.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from licentia.services import (
    admin_apps,
    admin_identities,
    admin_licenses,
    admin_sessions,
    events,
    webhook_delivery,
    webhook_http,
    webhooks,
)
from licentia.services.admin_common import AdminError
from licentia.services.views_licenses import LicenseFilter
from licentia.store.tables import events as events_table
from licentia.store.tables import webhook_deliveries

from ..conftest import World
from .receiver import Receiver

FAST = (0.0, 0.0, 0.0)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # No background worker: the tests drive `deliver_due` themselves.
    return {"webhook_allow_private": True, "webhook_poll_interval": 0}


@pytest.fixture(autouse=True)
async def _no_leftovers(world: World) -> Any:
    """Delivery is global (every due row of the database): leave none behind for others."""
    yield
    for hook in await webhooks.list_endpoints(world.rt, world.app_id):
        await webhooks.delete_endpoint(world.rt, world.app_id, hook.id)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(timeout=5, follow_redirects=False, trust_env=False) as client:
        yield client


async def _endpoint(world: World, receiver: Receiver, path: str = "/hook", **kw: Any) -> Any:
    created = await webhooks.create_endpoint(world.rt, world.app_id, receiver.url(path), **kw)
    assert created.secret and created.secret.startswith("whsec_")
    receiver.secrets[path] = created.secret
    return created


async def _drain(world: World, http: httpx.AsyncClient, schedule: Any = FAST) -> int:
    total = 0
    for _ in range(10):
        sent = await webhook_delivery.deliver_due(world.rt, http, schedule)
        if not sent:
            return total
        total += sent
    return total


async def _rows(world: World, table: Any, **where: Any) -> list[Any]:
    async with world.rt.db.read() as conn:
        query = select(table)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        return list((await conn.execute(query)).all())


async def test_event_rows_commit_with_the_change_only(world: World, receiver: Receiver) -> None:
    hook = await _endpoint(world, receiver, events_filter="license.*")
    key = await world.key()
    with pytest.raises(RuntimeError):
        async with world.rt.db.write() as conn:
            await events.emit(conn, world.app_id, "license.banned", {"license_key": key})
            raise RuntimeError("the change fails")
    assert await _rows(world, events_table, app_id=world.app_id) == []
    await admin_licenses.ban_license(world.rt, world.app_id, key, "fraud")
    await admin_licenses.ban_license(world.rt, world.app_id, key, "fraud")  # no change: no event
    rows = await _rows(world, events_table, app_id=world.app_id)
    assert [(r.type, json.loads(r.data)) for r in rows] == [
        ("license.banned", {"license_key": key, "reason": "fraud"})
    ]
    deliveries = await _rows(world, webhook_deliveries, endpoint_id=hook.id)
    assert [(d.event_id, d.status) for d in deliveries] == [(rows[0].id, "pending")]
    # key.generated is outside the filter: not stored for this app at all.
    assert {r.type for r in await _rows(world, events_table, app_id=world.app_id)} == {
        "license.banned"
    }


async def test_signed_delivery_retried_until_accepted(
    world: World, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    hook = await _endpoint(world, receiver)
    receiver.fail_first = 2
    await world.key()  # key.generated
    assert await _drain(world, http) == 3
    got = receiver.received
    assert [r.answered for r in got] == [500, 500, 200]
    assert all(r.verified for r in got), "every attempt carries a valid signature"
    assert len({r.headers["webhook-id"] for r in got}) == 1, "retries keep the webhook-id"
    body = json.loads(got[0].body)
    assert body["type"] == "key.generated" and body["id"] == got[0].headers["webhook-id"]
    assert body["data"]["count"] == 1 and body["app_id"] == world.app_id
    [delivery] = await webhooks.list_deliveries(world.rt, world.app_id, hook.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    _, attempts = await webhooks.get_delivery(world.rt, world.app_id, delivery.id)
    assert [(a.status_code, a.ok) for a in attempts] == [(500, False), (500, False), (200, True)]
    assert all(a.latency_ms >= 0 for a in attempts)
    assert attempts[-1].response_excerpt == '{"ok":true}' and attempts[0].error == "HTTP 500"
    assert await _drain(world, http) == 0, "a delivered event is not sent again"


async def test_gives_up_after_the_schedule_then_resend(
    world: World, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    hook = await _endpoint(world, receiver)
    receiver.status = 503
    event_id = await webhooks.send_test(world.rt, world.app_id, hook.id)
    assert await _drain(world, http, schedule=(0.0,)) == 2
    [delivery] = await webhooks.list_deliveries(world.rt, world.app_id, hook.id, status="failed")
    assert delivery.event_id == event_id and delivery.attempts == 2
    receiver.status = 200
    again = await webhooks.resend(world.rt, world.app_id, delivery.id)
    assert again.status == "pending"
    assert await _drain(world, http) == 1
    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id] * 3
    _, attempts = await webhooks.get_delivery(world.rt, world.app_id, delivery.id)
    assert [a.status_code for a in attempts] == [503, 503, 200]
    with pytest.raises(AdminError) as err:
        await webhooks.resend(world.rt, world.app_id, delivery.id + 10**9)
    assert err.value.code == "DELIVERY_NOT_FOUND"


async def test_failure_waits_for_the_jittered_backoff(
    world: World, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    await _endpoint(world, receiver)
    receiver.status = 500
    await world.key()
    assert await _drain(world, http, schedule=(60.0, 60.0)) == 1, "the retry is not due yet"
    [row] = await _rows(world, webhook_deliveries, status="pending")
    wait = (row.next_attempt_at - world.clock()).total_seconds()
    assert 48 <= wait <= 72
    world.clock.advance(73)
    assert await _drain(world, http, schedule=(60.0, 60.0)) == 1


async def test_client_calls_emit_their_events(world: World, receiver: Receiver) -> None:
    await _endpoint(world, receiver, events_filter="user.*,license.redeemed,device.limit_reached")
    _, key = await world.register("nadia", "right-password", sid="machine-1")
    session = await world.init()
    for _ in range(3):
        bad = {"session_id": session, "username": "nadia", "password": "wrong", "sid": "machine-1"}
        assert (await world.post("login", bad)).json()["success"] is False
    ok = {"session_id": session, "username": "nadia", "password": "right-password", "sid": "m2"}
    assert (await world.post("login", ok)).json()["code"] == "DEVICE_LIMIT_REACHED"
    answer = (await world.post("login", {**ok, "sid": "machine-1"})).json()
    assert answer["success"] is True, answer
    more = await world.key()
    extend = {"session_id": await world.init(), "username": "nadia", "license_key": more}
    extend.update(password="right-password", sid="machine-1")
    assert (await world.post("extend", extend)).json()["success"] is True
    rows = await _rows(world, events_table, app_id=world.app_id)
    redeemed = [json.loads(r.data) for r in rows if r.type == "license.redeemed"]
    assert sorted(r["license_key"] for r in redeemed) == sorted([key, more])
    assert {r["endpoint"] for r in redeemed} == {"register", "extend"}
    rows = [
        r for r in rows if r.type != "license.redeemed" or json.loads(r.data)["license_key"] == key
    ]
    kinds = [r.type for r in sorted(rows, key=lambda r: r.created_at)]
    assert sorted(kinds) == sorted(
        [
            "user.registered",
            "license.redeemed",
            "user.login_failed",
            "user.login",
            "device.limit_reached",
        ]
    ), "three failed logins in one minute are one sampled event"
    by_type = {r.type: json.loads(r.data) for r in rows}
    assert by_type["license.redeemed"]["license_key"] == key
    assert by_type["user.login_failed"]["code"] == "INVALID_PASSWORD"
    assert by_type["device.limit_reached"]["sid"] == "m2"
    assert "password" not in json.dumps(by_type)


async def test_management_changes_emit_their_events(world: World, receiver: Receiver) -> None:
    await _endpoint(world, receiver)
    await world.register("omar", "pw-omar-1", sid="box-1")
    await admin_identities.ban_user(world.rt, world.app_id, "omar", "chargeback")
    await admin_sessions.reset_bindings(world.rt, world.app_id, "user", "omar")
    await admin_apps.set_app_settings(
        world.rt, world.app_id, {"hwid_lock": False, "session_idle_timeout": 600}
    )
    rows = await _rows(world, events_table, app_id=world.app_id)
    by_type = {r.type: json.loads(r.data) for r in rows}
    assert by_type["user.banned"] == {"kind": "user", "identity": "omar", "reason": "chargeback"}
    assert by_type["session.ended"]["reason"] == "banned" and by_type["session.ended"]["count"] == 1
    assert by_type["hwid.reset"] == {"kind": "user", "identity": "omar", "removed": 1}
    assert by_type["app.setting_changed"] == {
        "settings": {"hwid_lock": False, "session_idle_timeout": 600}
    }
    assert by_type["key.generated"]["count"] == 1


async def test_sessions_ended_by_a_password_change_or_a_bulk_delete_are_reported(
    world: World, receiver: Receiver
) -> None:
    await _endpoint(world, receiver, events_filter="session.ended")
    first, _ = await world.register("pia", "old-password-1", sid="pc-1")
    second = await world.init()
    login = {"session_id": second, "username": "pia", "password": "old-password-1", "sid": "pc-1"}
    assert (await world.post("login", login)).json()["success"] is True
    change = {"session_id": first, "old_password": "old-password-1", "new_password": "new-pw-22"}
    assert (await world.post("change-password", change)).json()["success"] is True
    key = await world.key(note="bulk-delete-me")
    third = await world.init()
    body = {"session_id": third, "license_key": key, "sid": "pc-2"}
    assert (await world.post("licenses", body)).json()["success"] is True
    gone = await admin_licenses.delete_licenses(
        world.rt, world.app_id, LicenseFilter(note="bulk-delete-me")
    )
    assert gone == [key]
    rows = await _rows(world, events_table, app_id=world.app_id, type="session.ended")
    data = sorted((json.loads(r.data) for r in rows), key=lambda d: str(d["reason"]))
    assert [(d["kind"], d["reason"], d["count"]) for d in data] == [
        ("license", "deleted", 1),
        ("user", "password_changed", 1),  # the other session; the one that changed it stays
    ]


async def test_claims_are_disjoint(world: World, receiver: Receiver) -> None:
    await _endpoint(world, receiver)
    for _ in range(3):
        await world.key()
    (t1, a), (t2, b) = await asyncio.gather(
        webhook_delivery.claim(world.rt, limit=2), webhook_delivery.claim(world.rt, limit=2)
    )
    ids_a, ids_b = {c.delivery_id for c in a}, {c.delivery_id for c in b}
    assert not ids_a & ids_b and len(ids_a | ids_b) == 3 and t1 != t2
    assert (await webhook_delivery.claim(world.rt))[1] == [], "leased rows are not claimed again"


async def test_discord_format(world: World, receiver: Receiver, http: httpx.AsyncClient) -> None:
    await _endpoint(world, receiver, format="discord")
    await world.key()
    await _drain(world, http)
    message = json.loads(receiver.received[0].body)
    assert (
        message["content"].startswith("**key.generated** · ")
        and world.app_name in message["content"]
    )
    assert message["allowed_mentions"] == {"parse": []}


async def test_redirects_and_response_cap(
    world: World, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    headers = {"content-type": "application/json"}
    receiver.status = 307
    receiver.redirect_to = f"http://127.0.0.2:{receiver.port}/hook"
    other = await webhook_http.post(
        http, receiver.url("/redirect"), "{}", headers, allow_private=True
    )
    assert (other.ok, other.error) == (False, "redirect to another host refused")
    receiver.redirect_to = "/hook"
    receiver.received.clear()
    same = await webhook_http.post(
        http, receiver.url("/redirect"), "{}", headers, allow_private=True
    )
    assert [r.path for r in receiver.received] == ["/redirect", "/hook"]
    assert same.status_code == 307  # /hook answers 307 as well here: redirect loop, bounded
    receiver.status, receiver.reply = 200, b"x" * 300_000
    big = await webhook_http.post(http, receiver.url(), "{}", headers, allow_private=True)
    assert big.ok and len(big.excerpt) == webhook_http.EXCERPT


async def test_private_targets_refused_unless_allowed(
    world: World, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    strict = world.rt.settings.model_copy(update={"webhook_allow_private": False})
    world.rt.settings, saved = strict, world.rt.settings
    try:
        for url in (
            receiver.url(),
            "http://localhost:8080/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
            "http://10.1.2.3/x",
            "ftp://example.com/x",
            "http://user:pw@example.com/x",
        ):
            with pytest.raises(AdminError) as err:
                await webhooks.create_endpoint(world.rt, world.app_id, url)
            assert err.value.fields == ["url"], url
    finally:
        world.rt.settings = saved
    refused = await webhook_http.post(http, receiver.url(), "{}", {}, allow_private=False)
    assert not refused.ok and "refused" in refused.error and receiver.received == []
    with pytest.raises(webhook_http.TargetRefused):
        await webhook_http.check_target("http://[::ffff:127.0.0.1]/x", False)


async def test_endpoint_management(world: World, receiver: Receiver) -> None:
    hook = await _endpoint(world, receiver, events_filter="license.*, user.login")
    assert hook.events == ["license.*", "user.login"]
    changed = await webhooks.update_endpoint(
        world.rt, world.app_id, hook.id, enabled=False, events="*", description="ops"
    )
    assert (changed.enabled, changed.events, changed.description) == (False, ["*"], "ops")
    await world.key()  # disabled endpoint: nothing queued
    assert await _rows(world, webhook_deliveries, endpoint_id=hook.id) == []
    rotated = await webhooks.rotate_secret(world.rt, world.app_id, hook.id)
    assert rotated.secret and rotated.secret != hook.secret
    for bad in ({"events": "license.nope"}, {"format": "slack"}, {"url": "gopher://x"}):
        with pytest.raises(AdminError):
            await webhooks.update_endpoint(world.rt, world.app_id, hook.id, **bad)
    await webhooks.delete_endpoint(world.rt, world.app_id, hook.id)
    assert await webhooks.list_endpoints(world.rt, world.app_id) == []


@pytest.mark.one_pass
def test_retry_schedule_spans_a_day_with_jitter(world: World) -> None:
    from licentia.config import Settings

    schedule = Settings().webhook_retry_delays()
    assert sum(schedule) >= 24 * 3600
    assert webhook_delivery.next_delay(schedule, 1, lambda: 0.0) == pytest.approx(5 * 0.8)
    assert webhook_delivery.next_delay(schedule, 1, lambda: 1.0) == pytest.approx(5 * 1.2)
    assert webhook_delivery.next_delay(schedule, len(schedule) + 1, lambda: 0.5) is None
    assert events.matches(["license.*"], "license.banned")
    assert not events.matches(["license.*"], "user.banned")
    assert events.valid_filter("user.*") and not events.valid_filter("nope.*")


async def test_purge_keeps_pending_events(
    world: World, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    hook = await _endpoint(world, receiver)
    done = await webhooks.send_test(world.rt, world.app_id, hook.id)
    await _drain(world, http)
    receiver.status = 500
    waiting = await webhooks.send_test(world.rt, world.app_id, hook.id)
    await _drain(world, http, schedule=(3600.0,))
    world.clock.advance(days=31)
    assert await webhook_delivery.purge(world.rt) >= 1
    left = {r.id for r in await _rows(world, events_table, app_id=world.app_id)}
    assert left == {waiting} and done not in left
    assert len(await _rows(world, webhook_deliveries, endpoint_id=hook.id)) == 1
