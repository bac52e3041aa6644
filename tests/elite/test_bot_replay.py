"""Replays every call the AuthlyX Discord bot makes (sdk-wire-behaviour 5.2) and checks every
field the bot reads.
Staff and reseller calls are replayed in tests/team/test_elite_team.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from licentia.services import admin
from tests.conftest import World

from .conftest import Bot

ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


def ms_date(days: int, now: datetime) -> str:
    """What the bot's parseExpiry sends: now + n days, ISO 8601 UTC with milliseconds."""
    return (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.123Z")


def is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    datetime.strptime(value, ISO_Z)
    return True


async def test_ping(bot: Bot, world: World) -> None:
    response = await world.client.get("/api/elite-key/ping", headers={"x-elite-key": bot.key})
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "pong",
        "owner_id": world.owner_id,
        "apps": 1,
    }


async def test_app_calls(bot: Bot, world: World) -> None:
    data = await bot.ok("app", "list", app_name="")
    assert data["apps"] == [world.app_name]

    info = await bot.ok("app", "info")
    for name in (
        "total_users",
        "total_licenses",
        "total_devices",
        "total_subscriptions",
        "total_variables",
    ):
        assert isinstance(info[name], int)
    assert info["total_subscriptions"] == 1
    assert info["plan_name"] == "Licentia"
    assert info["is_enabled"] is True
    assert info["user_panel_enabled"] is False
    assert info["app_name"] == world.app_name

    await world.init()  # one client request today
    usage = await bot.ok("app", "usage")
    series = usage["series"]
    assert len(series) == 7
    today = world.clock().strftime("%Y-%m-%d")
    assert series[-1]["date"] == today
    assert series[-1]["count"] >= 1
    assert [s["date"] for s in series] == sorted(s["date"] for s in series)

    edited = await bot.ok("app", "edit", {"is_enabled": False})
    assert edited["app"] == {
        "name": world.app_name,
        "is_enabled": False,
        "user_panel_enabled": False,
    }
    edited = await bot.ok("app", "edit", {"user_panel_enabled": True})
    assert edited["app"]["user_panel_enabled"] is True
    settings = await admin.get_app_settings(world.rt, world.app_id)
    assert settings["is_enabled"] is False and settings["user_panel_enabled"] is True


async def test_subscription_list(bot: Bot, world: World) -> None:
    await admin.create_subscription(world.rt, world.app_id, "Basic", 1)
    data = await bot.ok("subscription", "list")
    assert data["subscriptions"] == [
        {"name": "Basic", "level": 1},
        {"name": "Premium", "level": 2},
    ]


async def test_license_calls(bot: Bot, world: World) -> None:
    now = world.clock()
    added = await bot.ok(
        "license",
        "add",
        {
            "license_key": "MY-KEY-1",
            "subscription": "Premium",
            "expiry_date": ms_date(30, now),
            "device_limit": 2,
            "note": "Order 5521",
        },
    )
    assert added["license"]["license_key"] == "MY-KEY-1"
    assert added["license"]["max_devices"] == 2

    generated = await bot.ok(
        "license",
        "generate",
        {
            "subscription": "Premium",
            "expiry_date": None,
            "amount": 3,
            "device_limit": 1,
            "note": "Giveaway",
            "use_capital": True,
            "use_lowercase": False,
            "use_numbers": True,
        },
    )
    keys = generated["keys"]
    assert generated["count"] == 3 and len(keys) == 3
    assert all(isinstance(k, str) and len(k) == 29 for k in keys)

    info = await bot.ok("license", "info", {"license_key": "MY-KEY-1"})
    lic = info["license"]
    assert lic["subscription_name"] == "Premium"
    assert lic["banned"] is False and lic["paused"] is False
    assert lic["email"] is None and lic["ip_address"] is None
    assert lic["expiry_date"] == (now + timedelta(days=30)).strftime(ISO_Z)
    assert lic["used_devices"] == 0 and lic["max_devices"] == 2
    assert is_date(lic["date_created"])
    assert lic["last_login"] is None
    assert lic["note"] == "Order 5521"
    assert lic["status"] == "unused"

    lifetime = (await bot.ok("license", "info", {"license_key": keys[0]}))["license"]
    assert lifetime["expiry_date"] is None and lifetime["note"] == "Giveaway"

    for verb, field, value in (
        ("ban", "banned", True),
        ("unban", "banned", False),
        ("pause", "paused", True),
        ("unpause", "paused", False),
    ):
        data = await bot.ok("license", verb, {"license_key": "MY-KEY-1"})
        assert data["license"][field] is value

    extended = await bot.ok("license", "extend", {"license_key": "MY-KEY-1", "days": 5})
    assert extended["license"]["expiry_date"] == (now + timedelta(days=35)).strftime(ISO_Z)
    shortened = await bot.ok("license", "shorten", {"license_key": "MY-KEY-1", "days": 10})
    assert shortened["license"]["expiry_date"] == (now + timedelta(days=25)).strftime(ISO_Z)

    lifetime_extend = await bot.call("license", "extend", {"license_key": keys[0], "days": 5})
    assert lifetime_extend.status_code == 400
    assert lifetime_extend.json()["code"] == "INVALID_INPUT"

    edited = await bot.ok(
        "license", "edit", {"license_key": "MY-KEY-1", "note": "changed", "device_limit": 3}
    )
    assert edited["license"]["note"] == "changed" and edited["license"]["max_devices"] == 3

    # reset_hwid is a GET; run it on a key a client used.
    _session, key = await world.register("hwiduser", "pw-123456", hwid="S-1-5-21-1")
    reset = await bot.ok("license", "reset_hwid", {"license_key": key})
    assert reset["license"]["status"] == "used"
    assert reset["license"]["used_by"] == "hwiduser"
    assert reset["license"]["hwid"] is None and reset["license"]["ip_address"] is None
    assert reset["license"]["used_devices"] == 0

    deleted = await bot.ok("license", "delete", {"license_key": "MY-KEY-1"})
    assert deleted["message"]
    gone = await bot.call("license", "info", {"license_key": "MY-KEY-1"})
    assert gone.status_code == 404
    body = gone.json()
    assert body["code"] == "LICENSE_NOT_FOUND" and body["error"] and body["success"] is False


async def test_user_calls(bot: Bot, world: World) -> None:
    now = world.clock()
    created = await bot.ok(
        "user",
        "generate",
        {
            "username": "xela",
            "password": "hunter22",
            "email": None,
            "subscription": "Premium",
            "expiry_date": ms_date(10, now),
            "device_limit": 1,
        },
    )
    assert created["user"]["username"] == "xela"

    user = (await bot.ok("user", "info", {"username": "xela"}))["user"]
    assert user["username"] == "xela"
    assert user["subscription_name"] == "Premium"
    assert user["banned"] is False and user["paused"] is False
    assert user["email"] is None and user["ip_address"] is None
    assert user["expiry_date"] == (now + timedelta(days=10)).strftime(ISO_Z)
    assert user["device_limit"] == 1
    assert is_date(user["date_created"])
    assert user["last_login"] is None
    assert user["linked_license_key"] is None

    for verb, field, value in (
        ("ban", "banned", True),
        ("unban", "banned", False),
        ("pause", "paused", True),
        ("unpause", "paused", False),
    ):
        data = await bot.ok("user", verb, {"username": "xela"})
        assert data["user"][field] is value

    extended = await bot.ok("user", "extend", {"username": "xela", "days": 2})
    assert extended["user"]["expiry_date"] == (now + timedelta(days=12)).strftime(ISO_Z)
    shortened = await bot.ok("user", "shorten", {"username": "xela", "days": 1})
    assert shortened["user"]["expiry_date"] == (now + timedelta(days=11)).strftime(ISO_Z)

    await bot.ok("user", "reset_password", {"username": "xela", "new_password": "new-pass-1"})
    verified = await bot.ok(
        "user", "verify_password", {"username": "xela", "password": "new-pass-1"}
    )
    assert verified["valid"] is True
    assert verified["username"] == "xela"
    assert verified["subscription"] == "Premium"
    assert verified["expiry"] == (now + timedelta(days=11)).strftime(ISO_Z)
    assert verified["banned"] is False and verified["paused"] is False
    wrong = await bot.call("user", "verify_password", {"username": "xela", "password": "hunter22"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "INVALID_PASSWORD"
    unknown = await bot.call("user", "verify_password", {"username": "nobody", "password": "x"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "USER_NOT_FOUND"

    reset = await bot.ok("user", "reset_hwid", {"username": "xela"})
    assert reset["user"]["hwid"] is None

    await bot.ok("user", "delete", {"username": "xela"})
    gone = await bot.call("user", "info", {"username": "xela"})
    assert gone.status_code == 404 and gone.json()["code"] == "USER_NOT_FOUND"


async def test_device_calls(bot: Bot, world: World) -> None:
    now = world.clock()
    await admin.create_subscription(world.rt, world.app_id, "Basic", 1)
    await admin.create_device(world.rt, world.app_id, "motherboard", "MB-123", "Premium", days=5)
    await admin.create_device(world.rt, world.app_id, "processor", "CPU-9", "Basic")

    listed = await bot.ok("device", "list")
    assert [(d["device_id"], d["device_type"]) for d in listed["devices"]] == [
        ("MB-123", "motherboard"),
        ("CPU-9", "processor"),
    ]
    for d in listed["devices"]:
        assert d["banned"] is False and d["paused"] is False
    filtered = await bot.ok("device", "list", {"subscription": "Basic"})
    assert [d["device_id"] for d in filtered["devices"]] == ["CPU-9"]

    params = {"device_type": "motherboard", "device_id": "mb-123"}
    device = (await bot.ok("device", "info", params))["device"]
    assert device["device_type"] == "motherboard"
    assert device["subscription_name"] == "Premium"
    assert device["expiry_date"] == (now + timedelta(days=5)).strftime(ISO_Z)
    assert device["activated"] is False
    assert device["banned"] is False and device["paused"] is False

    for verb, field, value in (
        ("ban", "banned", True),
        ("unban", "banned", False),
        ("pause", "paused", True),
        ("unpause", "paused", False),
    ):
        data = await bot.ok("device", verb, params)
        assert data["device"][field] is value
    extended = await bot.ok("device", "extend", {**params, "days": 3})
    assert extended["device"]["expiry_date"] == (now + timedelta(days=8)).strftime(ISO_Z)
    shortened = await bot.ok("device", "shorten", {**params, "days": 1})
    assert shortened["device"]["expiry_date"] == (now + timedelta(days=7)).strftime(ISO_Z)
    reset = await bot.ok("device", "reset", params)
    assert reset["device"]["hwid"] is None
    await bot.ok("device", "delete", params)
    gone = await bot.call("device", "info", params)
    assert gone.status_code == 404 and gone.json()["code"] == "DEVICE_NOT_FOUND"


async def test_variable_calls(bot: Bot, world: World) -> None:
    created = await bot.ok("variable", "set", {"key": "motd", "value": "hello"})
    assert created["variable"]["writable"] is True
    await admin.set_variable(world.rt, world.app_id, "ro", "fixed", writable=False)
    listed = await bot.ok("variable", "list")
    assert [(v["key"], v["value"], v["writable"]) for v in listed["variables"]] == [
        ("motd", "hello", True),
        ("ro", "fixed", False),
    ]
    got = await bot.ok("variable", "get", {"key": "ro"})
    assert got["variable"]["value"] == "fixed" and got["variable"]["writable"] is False
    updated = await bot.ok("variable", "set", {"key": "motd", "value": "bye"})
    assert updated["variable"]["value"] == "bye"
    await bot.ok("variable", "delete", {"key": "motd"})
    gone = await bot.call("variable", "get", {"key": "motd"})
    assert gone.status_code == 404 and gone.json()["code"] == "VARIABLE_NOT_FOUND"


async def test_older_bot_key_in_query(bot: Bot, world: World) -> None:
    """Revision 14d6eac sent the key as a query parameter and url_prefix/app_name in the
    query of POSTs too."""
    response = await world.client.post(
        "/api/elite-key",
        params={
            "function": "variable",
            "action": "set",
            "key": bot.key,
            "url_prefix": "https://authly.cc",
            "app_name": world.app_name,
        },
        json={"key": "legacy", "value": "v"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["variable"]["key"] == "legacy"
    got = await world.client.get(
        "/api/elite-key",
        params=[
            ("function", "variable"),
            ("action", "get"),
            ("key", bot.key),
            ("key", "legacy"),
            ("app_name", world.app_name),
        ],
    )
    assert got.status_code == 200 and got.json()["variable"]["value"] == "v"


async def test_example_a8_shapes(bot: Bot, world: World) -> None:
    key = await world.key(days=30)
    data = await bot.ok("license", "info", {"license_key": key})
    assert data["message"] == "License found"
    assert set(data["license"]) == {
        "activated_at",
        "banned",
        "date_created",
        "duration_days",
        "email",
        "expired",
        "expiry_date",
        "hwid",
        "ip_address",
        "last_login",
        "license_key",
        "max_devices",
        "note",
        "paused",
        "status",
        "subscription",
        "subscription_name",
        "used_by",
        "used_devices",
    }
    assert data["license"]["duration_days"] == 30
