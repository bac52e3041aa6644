"""REST: the caller's account, API tokens, Elite Key settings, the audit log, the signing key
and usage, with isolation (another owner's token: 404) and scopes (403)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from licentia.services import admin_apps, credentials
from tests.conftest import World
from tests.elite.conftest import Bot
from tests.manage.conftest import Manage, assert_error, changes_of

OPERATOR_SCOPES = (
    "owner:read",
    "owner:write",
    "token:read",
    "token:write",
    "elite-key:read",
    "elite-key:write",
    "audit:read",
    "signing-key:read",
    "app:read",
)

#: (method, path, body, capability) of every route of this family.
ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/account", None, "owner.info"),
    ("PATCH", "/account", {"plan_label": "Gold"}, "owner.edit"),
    (
        "POST",
        "/account/password",
        {"current_password": "x", "new_password": "y"},
        "owner.change_password",
    ),
    ("GET", "/tokens", None, "token.list"),
    ("POST", "/tokens", {"name": "t", "scopes": ["app:read"]}, "token.create"),
    ("DELETE", "/tokens/00000000-0000-0000-0000-000000000000", None, "token.revoke"),
    ("GET", "/elite-key", None, "elite-key.show"),
    ("POST", "/elite-key/rotate", None, "elite-key.rotate"),
    ("DELETE", "/elite-key", None, "elite-key.delete"),
    ("PUT", "/elite-key/capabilities", {"disabled": []}, "elite-key.set_capabilities"),
    ("POST", "/elite-key/rules/ip_allow", {"value": "10.0.0.0/8"}, "elite-key.add_rule"),
    ("DELETE", "/elite-key/rules/ip_allow?value=10.0.0.0/8", None, "elite-key.remove_rule"),
    ("GET", "/elite-key/calls", None, "elite-key.view"),
    ("GET", "/audit", None, "audit.list"),
    ("GET", "/audit/export", None, "audit.export"),
    ("GET", "/signing-key", None, "signing-key.show"),
    ("GET", "/apps/{app}/usage", None, "app.usage"),
]


@pytest.fixture
async def m(world: World) -> Manage:
    manage = Manage(world)
    await manage.setup()
    manage.token = await manage.make_token(OPERATOR_SCOPES)
    return manage


async def test_account_info_edit_password(m: Manage) -> None:
    got = await m.get("/account")
    assert got.status_code == 200, got.text
    info = got.json()
    assert info["owner_id"] == m.world.owner_id and info["plan_label"] == "Licentia"
    assert info["apps"] == 1 and info["status"] == "active" and "password_hash" not in info
    response = await m.call(
        "PATCH", "/account", json_body={"plan_label": "Gold", "email": "v@example.com"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["plan_label"] == "Gold"
    entry = (await m.audit())[-1]
    assert entry.capability == "owner.edit" and entry.actor_kind == "token"
    assert changes_of(entry)["plan_label"] == ["Licentia", "Gold"]
    assert_error(
        await m.call("PATCH", "/account", json_body={"plan_label": ""}), 400, "INVALID_INPUT"
    )
    assert_error(await m.call("PATCH", "/account", json_body={"status": "x"}), 400, "INVALID_INPUT")
    assert_error(await m.call("PATCH", "/account", json_body={}), 400, "MISSING_FIELDS")
    wrong = await m.post(
        "/account/password", {"current_password": "nope", "new_password": "new-pass-1"}
    )
    assert_error(wrong, 422, "INVALID_PASSWORD")
    ok = await m.post(
        "/account/password", {"current_password": "owner-password", "new_password": "new-pass-1"}
    )
    assert ok.status_code == 200 and ok.json() == {"changed": True}
    entry = (await m.audit())[-1]
    assert entry.capability == "owner.change_password"
    assert "new-pass-1" not in (entry.changes or "")
    async with m.rt.db.read() as conn:
        from licentia.store.tables import accounts

        stored = (
            await conn.execute(accounts.select().where(accounts.c.owner_id == m.world.owner_id))
        ).first()
    assert stored is not None
    assert await m.rt.passwords.verify(stored.password_hash, "new-pass-1")


async def test_tokens_create_list_revoke(m: Manage) -> None:
    created = await m.post(
        "/tokens", {"name": "ci", "scopes": ["token:read", "app.info"], "apps": [m.app_id]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["token"].startswith("lic_") and body["apps"] == [m.app_id]
    assert body["status"] == "active" and body["scopes"] == ["token:read", "app.info"]
    listed = (await m.get("/tokens?limit=1")).json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    assert "token" not in listed["items"][0]
    seen = {i["id"] for i in listed["items"]}
    second = (await m.get(f"/tokens?limit=500&cursor={listed['next_cursor']}")).json()
    seen |= {i["id"] for i in second["items"]}
    assert body["id"] in seen and len(seen) >= 3
    # The new token works, and cannot create tokens beyond its own scopes.
    new = body["token"]
    assert (await m.get("/tokens", token=new)).status_code == 200
    assert_error(
        await m.post("/tokens", {"name": "x", "scopes": ["token:read"]}, token=new),
        403,
        "PERMISSION_DENIED",
    )
    assert_error(
        await m.post("/tokens", {"name": "x", "scopes": ["license:write"]}),
        403,
        "PERMISSION_DENIED",
    )
    assert_error(await m.post("/tokens", {"name": "x", "scopes": ["bogus"]}), 400, "INVALID_INPUT")
    revoked = await m.call("DELETE", f"/tokens/{body['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = await m.call("DELETE", f"/tokens/{body['id']}")
    assert again.status_code == 200  # idempotent
    assert_error(await m.get("/tokens", token=new), 401, "INVALID_TOKEN")
    caps = [e.capability for e in await m.audit() if e.result == "ok"]
    assert caps.count("token.create") == 1 and caps.count("token.revoke") == 1
    refused = [e for e in await m.audit() if e.result == "PERMISSION_DENIED"]
    assert {e.capability for e in refused} == {"token.create"}
    assert_error(await m.call("DELETE", "/tokens/nope"), 404, "TOKEN_NOT_FOUND")


async def test_elite_key_settings(m: Manage, world: World) -> None:
    shown = (await m.get("/elite-key")).json()
    assert shown["has_key"] is False
    rotated = await m.post("/elite-key/rotate")
    assert rotated.status_code == 200, rotated.text
    key = rotated.json()["elite_key"]
    assert key.startswith("ek_") and rotated.json()["has_key"] is True
    bot = Bot(world.client, key, world.app_name)
    await bot.ok("app", "info")
    caps = await m.call("PUT", "/elite-key/capabilities", json_body={"disabled": ["app.info"]})
    assert caps.json()["disabled_capabilities"] == ["app.info"]
    assert (await bot.call("app", "info")).status_code == 403
    assert_error(
        await m.call("PUT", "/elite-key/capabilities", json_body={"disabled": ["nope.nope"]}),
        400,
        "INVALID_INPUT",
    )
    added = await m.post("/elite-key/rules/domain_deny", {"value": "*.evil.example"})
    assert added.json()["domain_deny"] == ["*.evil.example"]
    assert_error(
        await m.post("/elite-key/rules/ip_allow", {"value": "not-an-ip"}), 400, "INVALID_INPUT"
    )
    assert_error(await m.post("/elite-key/rules/other", {"value": "1.2.3.4"}), 400, "INVALID_INPUT")
    removed = await m.call("DELETE", "/elite-key/rules/domain_deny?value=*.evil.example")
    assert removed.status_code == 200 and removed.json()["domain_deny"] == []
    missing = await m.call("DELETE", "/elite-key/rules/domain_deny?value=a.example")
    assert missing.status_code == 404
    calls = (await m.get("/elite-key/calls")).json()["items"]
    assert calls[0]["capability"] == "app.info" and calls[0]["face"] == "elite-key"
    assert calls[0]["result"] == "PERMISSION_DENIED"
    deleted = await m.call("DELETE", "/elite-key")
    assert deleted.json() == {"deleted": True}
    assert (await m.call("DELETE", "/elite-key")).json() == {"deleted": False}
    assert (await bot.call("app", "list")).status_code == 401
    caps_logged = [e.capability for e in await m.audit()]
    for name in (
        "elite-key.rotate",
        "elite-key.delete",
        "elite-key.set_capabilities",
        "elite-key.add_rule",
        "elite-key.remove_rule",
    ):
        assert name in caps_logged, name


async def test_audit_list_export_signing_key_usage(m: Manage, world: World) -> None:
    await m.call("PATCH", "/account", json_body={"plan_label": "Audit"})
    page = (await m.get("/audit?capability=owner&limit=1")).json()
    assert page["items"][0]["capability"] == "owner.edit"
    assert page["items"][0]["changes"]["plan_label"][1] == "Audit"
    assert (await m.get("/audit?capability=license.ban")).json()["items"] == []
    assert_error(await m.get("/audit?cursor=abc"), 400, "INVALID_INPUT")
    csv_out = await m.get("/audit/export?capability=owner.edit")
    assert csv_out.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_out.text)))
    assert rows[0][0] == "id" and len(rows) == 2
    as_json = await m.get("/audit/export?format=json")
    assert isinstance(json.loads(as_json.text), list)
    assert_error(await m.get("/audit/export?format=xml"), 400, "INVALID_INPUT")
    key = (await m.get("/signing-key")).json()
    assert key["pem"] == world.pem and key["algorithm"] == "Ed25519" and key["der_base64"]
    await world.init()
    assert world.app.usage is not None
    await world.app.usage.flush(world.rt)
    got = (await m.get(f"/apps/{m.app_id}/usage?days=30")).json()
    assert got["days"] == 30 and len(got["series"]) == 30 and got["total"] == 1
    assert got["series"][-1]["endpoints"] == {"init": 1}
    assert_error(await m.get(f"/apps/{m.app_id}/usage?days=0"), 400, "INVALID_INPUT")


async def test_isolation_and_scopes(m: Manage, world: World) -> None:
    other = await admin_apps.create_owner(world.rt, f"other_{m.app_id[:8]}", "pw-other-1")
    _, foreign = await credentials.create_token(
        world.rt, other.owner_id, "foreign", list(OPERATOR_SCOPES)
    )
    assert_error(await m.get(f"/apps/{m.app_id}/usage", token=foreign), 404, "APP_NOT_FOUND")
    # The foreign token sees its own account, never this one.
    assert (await m.get("/account", token=foreign)).json()["owner_id"] == other.owner_id
    assert_error(
        await m.call("DELETE", f"/tokens/{m.last_token_id}", token=foreign), 404, "TOKEN_NOT_FOUND"
    )
    narrow = await m.make_token(["license:read"])
    for method, path, body, capability in ROUTES:
        response = await m.call(
            method, path.replace("{app}", m.app_id), token=narrow, json_body=body
        )
        assert_error(response, 403, "PERMISSION_DENIED")
        assert capability in response.json()["message"], (path, response.text)
