"""Access control, errors and audit of the Elite Key API (management A.2 to A.5, A.9)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
from sqlalchemy import select

from licentia.api.app import LicentiaApp
from licentia.services import admin, credentials
from licentia.store.tables import audit_log, licenses
from tests.conftest import World

from .conftest import Bot

ERROR_KEYS = {"code", "detail", "error", "message", "success"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == code and body["success"] is False
    assert body["error"] == body["message"] and body["detail"]
    return dict(body)


async def audit_rows(world: World, owner_account_id: str | None = None) -> list[Any]:
    async with world.rt.db.read() as conn:
        query = select(audit_log).where(audit_log.c.face == "elite-key")
        if owner_account_id is not None:
            query = query.where(audit_log.c.owner_account_id == owner_account_id)
        return list((await conn.execute(query.order_by(audit_log.c.id))).all())


async def owner_account(world: World) -> str:
    return (await admin.get_owner(world.rt, world.owner_id)).id


async def test_missing_and_unknown_key(world: World, elite_key: str) -> None:
    client = world.client
    assert_error(
        await client.get("/api/elite-key", params={"function": "app", "action": "list"}),
        401,
        "INVALID_ELITE_KEY",
    )
    wrong = "ek_" + secrets.token_urlsafe(32)
    assert_error(
        await client.get("/api/elite-key/ping", headers={"x-elite-key": wrong}),
        401,
        "INVALID_ELITE_KEY",
    )
    rotated = await credentials.rotate_elite_key(world.rt, world.owner_id)
    assert_error(
        await client.get("/api/elite-key/ping", headers={"x-elite-key": elite_key}),
        401,
        "INVALID_ELITE_KEY",
    )
    ok = await client.get("/api/elite-key/ping", headers={"x-elite-key": rotated})
    assert ok.status_code == 200


async def test_key_in_body(world: World, elite_key: str) -> None:
    response = await world.client.post(
        "/api/elite-key",
        params={"function": "variable", "action": "set"},
        json={"key": elite_key, "var_key": "v1", "value": "x", "app_name": world.app_name},
    )
    assert response.status_code == 200, response.text
    assert response.json()["variable"]["key"] == "v1"
    form = await world.client.post(
        "/api/elite-key",
        content=f"function=app&action=list&key={elite_key}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 200 and form.json()["apps"] == [world.app_name]


async def test_failed_key_throttle(app: LicentiaApp, world: World, elite_key: str) -> None:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.77", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        for _ in range(10):
            r = await other.get("/api/elite-key/ping", headers={"x-elite-key": "ek_bad"})
            assert r.status_code == 401
        limited = await other.get("/api/elite-key/ping", headers={"x-elite-key": elite_key})
        assert_error(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) >= 1
    # Another IP is unaffected.
    ok = await world.client.get("/api/elite-key/ping", headers={"x-elite-key": elite_key})
    assert ok.status_code == 200


async def test_suspended_owner(bot: Bot, world: World) -> None:
    await admin.set_owner_status(world.rt, world.owner_id, "suspended")
    assert_error(await bot.call("app", "list"), 403, "ACCOUNT_SUSPENDED")
    rows = await audit_rows(world, await owner_account(world))
    assert rows[-1].result == "ACCOUNT_SUSPENDED"
    assert rows[-1].capability == "app.list"


async def test_disabled_capability(bot: Bot, world: World) -> None:
    await credentials.set_elite_capabilities(world.rt, world.owner_id, ["license.generate"])
    body = assert_error(
        await bot.call("license", "generate", {"subscription": "Premium", "amount": 1}),
        403,
        "PERMISSION_DENIED",
    )
    assert body["error"] == "Permission denied"
    assert "license.generate" in body["detail"]
    async with world.rt.db.read() as conn:
        assert (
            await conn.execute(select(licenses).where(licenses.c.app_id == world.app_id))
        ).first() is None
    # Other actions still work, and ping cannot be disabled.
    await bot.ok("license", "add", {"license_key": "K1", "subscription": "Premium"})
    rows = await audit_rows(world, await owner_account(world))
    assert [(r.capability, r.result) for r in rows][-2:] == [
        ("license.generate", "PERMISSION_DENIED"),
        ("license.add", "ok"),
    ]


async def test_ip_rules(bot: Bot, world: World) -> None:
    # The test client's socket address is 203.0.113.24.
    await credentials.add_elite_rule(world.rt, world.owner_id, "ip_deny", "203.0.113.0/24")
    assert_error(await bot.call("app", "list"), 403, "IP_BLOCKED")
    await credentials.remove_elite_rule(world.rt, world.owner_id, "ip_deny", "203.0.113.0/24")
    await credentials.add_elite_rule(world.rt, world.owner_id, "ip_allow", "192.0.2.1")
    assert_error(await bot.call("app", "list"), 403, "IP_BLOCKED")
    await credentials.add_elite_rule(world.rt, world.owner_id, "ip_allow", "203.0.113.24")
    await bot.ok("app", "list")
    # X-Forwarded-For is ignored unless the peer is a trusted proxy.
    await credentials.remove_elite_rule(world.rt, world.owner_id, "ip_allow", "203.0.113.24")
    forged = await bot.call(
        "app", "list", headers={"x-forwarded-for": "192.0.2.1", "cf-connecting-ip": "192.0.2.1"}
    )
    assert_error(forged, 403, "IP_BLOCKED")


async def test_domain_rules(bot: Bot, world: World) -> None:
    await credentials.add_elite_rule(world.rt, world.owner_id, "domain_deny", "*.evil.example")
    assert_error(
        await bot.call("app", "list", headers={"origin": "https://a.b.evil.example"}),
        403,
        "DOMAIN_BLOCKED",
    )
    await bot.ok("app", "list", headers={"origin": "https://evil.example"})
    await credentials.add_elite_rule(world.rt, world.owner_id, "domain_allow", "panel.example.com")
    # No Origin/Referer (the bot): locked out by an allow list.
    assert_error(await bot.call("app", "list"), 403, "DOMAIN_BLOCKED")
    await bot.ok("app", "list", headers={"referer": "https://PANEL.example.com/x"})


async def test_isolation(bot: Bot, world: World, app: LicentiaApp) -> None:
    other_owner = await admin.create_owner(world.rt, f"other_{secrets.token_hex(3)}", "pw")
    other_app = await admin.create_app(world.rt, other_owner.owner_id, "SecretApp")
    await admin.create_subscription(world.rt, other_app.app_id, "Premium")
    key = (await admin.generate_licenses(world.rt, other_app.app_id, "Premium", days=1))[0]
    assert_error(await bot.call("app", "info", app_name="SecretApp"), 404, "APP_NOT_FOUND")
    assert_error(
        await bot.call("license", "info", {"license_key": key}, app_name="SecretApp"),
        404,
        "APP_NOT_FOUND",
    )
    assert_error(await bot.call("license", "info", {"license_key": key}), 404, "LICENSE_NOT_FOUND")
    assert (await bot.ok("app", "list"))["apps"] == [world.app_name]
    # app_name is case-sensitive.
    assert_error(
        await bot.call("app", "info", app_name=world.app_name.upper()), 404, "APP_NOT_FOUND"
    )


async def test_app_name_defaulting(bot: Bot, world: World) -> None:
    assert (await bot.ok("app", "info", app_name=""))["app_name"] == world.app_name
    await admin.create_app(world.rt, world.owner_id, "Second")
    assert_error(await bot.call("app", "info", app_name=""), 400, "MISSING_FIELDS")


async def test_request_errors(bot: Bot, world: World) -> None:
    client = world.client
    headers = {"x-elite-key": bot.key}
    assert_error(await client.put("/api/elite-key", headers=headers), 405, "METHOD_NOT_ALLOWED")
    assert_error(
        await client.delete("/api/elite-key/ping", headers=headers), 405, "METHOD_NOT_ALLOWED"
    )
    big = json.dumps({"value": "x" * 70000})
    assert_error(
        await client.post("/api/elite-key", content=big, headers=headers), 413, "PAYLOAD_TOO_LARGE"
    )
    assert_error(await client.get("/api/elite-key", headers=headers), 400, "MISSING_FIELDS")
    assert_error(
        await client.get("/api/elite-key", params={"function": "license"}, headers=headers),
        400,
        "MISSING_FIELDS",
    )
    assert_error(
        await client.get(
            "/api/elite-key", params={"function": "license", "action": "fly"}, headers=headers
        ),
        400,
        "INVALID_ACTION",
    )
    # function/action are case-insensitive.
    upper = await client.get(
        "/api/elite-key", params={"function": "APP", "action": "List"}, headers=headers
    )
    assert upper.status_code == 200
    body = assert_error(await bot.call("license", "info", {}), 400, "MISSING_FIELDS")
    assert "license_key" in body["detail"]
    assert_error(
        await bot.call("license", "generate", {"subscription": "Premium", "amount": "many"}),
        400,
        "INVALID_INPUT",
    )
    assert_error(
        await bot.call("license", "add", {"license_key": "K", "subscription": "Nope"}),
        404,
        "SUBSCRIPTION_NOT_FOUND",
    )
    await bot.ok("license", "add", {"license_key": "DUP", "subscription": "Premium"})
    assert_error(
        await bot.call("license", "add", {"license_key": "DUP", "subscription": "Premium"}),
        409,
        "ALREADY_EXISTS",
    )
    bad_json = await client.post(
        "/api/elite-key",
        params={"function": "app", "action": "edit"},
        content=b"{not json",
        headers=headers,
    )
    assert_error(bad_json, 400, "INVALID_INPUT")


async def test_audit_entries(bot: Bot, world: World) -> None:
    await bot.ok(
        "license", "add", {"license_key": "AUD-1", "subscription": "Premium", "note": "n1"}
    )
    await bot.ok("license", "ban", {"license_key": "AUD-1", "reason": "fraud"})
    await bot.ok("license", "info", {"license_key": "AUD-1"})  # reads are not recorded
    await bot.call("license", "ban", {"license_key": "NOPE"})
    rows = await audit_rows(world, await owner_account(world))
    assert [(r.capability, r.target, r.result) for r in rows] == [
        ("license.add", "AUD-1", "ok"),
        ("license.ban", "AUD-1", "ok"),
        ("license.ban", "NOPE", "LICENSE_NOT_FOUND"),
    ]
    ban = rows[1]
    assert ban.actor_kind == "elite-key" and ban.actor == world.owner_id
    assert ban.actor_ip == "203.0.113.24"
    assert ban.app_id == world.app_id
    assert json.loads(ban.changes)["banned"] == [False, True]
    details = json.loads(ban.details)
    assert details["url_prefix"] == "https://licentia.example.com"
    assert details["domain"] == ""


async def test_key_never_recorded(bot: Bot, world: World, caplog: Any) -> None:
    caplog.set_level("DEBUG")
    await bot.ok("variable", "set", {"key": "k", "value": "v"})
    await world.client.get(
        "/api/elite-key", params={"function": "app", "action": "list", "key": bot.key}
    )
    await bot.call("license", "ban", {"license_key": "missing"})
    async with world.rt.db.read() as conn:
        for row in (await conn.execute(select(audit_log))).all():
            assert bot.key not in " ".join(str(v) for v in row)
    # Our own log lines and the database driver's (httpx logs the test client's own URLs).
    for record in caplog.records:
        if record.name.startswith(("licentia", "aiosqlite", "sqlalchemy", "asyncpg")):
            assert bot.key not in record.getMessage()


async def test_unknown_key_refusal_is_audited(world: World) -> None:
    before = len(await audit_rows(world))
    await world.client.get(
        "/api/elite-key",
        params={"function": "app", "action": "list"},
        headers={"x-elite-key": "ek_" + "A" * 43},
    )
    rows = await audit_rows(world)
    assert len(rows) == before + 1
    assert rows[-1].result == "INVALID_ELITE_KEY" and rows[-1].capability == "app.list"
