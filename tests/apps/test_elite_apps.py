"""The Elite Key actions of the app family (A.7 `app`, `variable`, `version`, `response`,
`hash`) answer from the same services as REST and the CLI, in the bot's shapes."""

from __future__ import annotations

from datetime import timedelta

from licentia.services import admin
from tests.conftest import World
from tests.elite.conftest import Bot, bot, elite_key

__all__ = ["bot", "elite_key"]


async def test_elite_app_family_actions(world: World, bot: Bot) -> None:
    rt = world.rt
    await admin.set_variable(rt, world.app_id, "motd", "hi")
    info = await bot.ok("app", "info")
    assert set(info) == {
        "success",
        "message",
        "app_name",
        "total_users",
        "total_licenses",
        "total_devices",
        "total_subscriptions",
        "total_variables",
        "plan_name",
        "is_enabled",
        "user_panel_enabled",
    }
    assert (info["total_variables"], info["total_subscriptions"], info["plan_name"]) == (
        1,
        1,
        "Licentia",
    )
    assert world.app_name in (await bot.ok("app", "list", app_name=""))["apps"]

    got = await bot.ok("variable", "get", {"key": "motd"})
    assert got["variable"]["value"] == "hi" and got["variable"]["writable"] is True
    missing = await bot.call("variable", "get", {"key": "nope"})
    assert (missing.status_code, missing.json()["code"]) == (404, "VARIABLE_NOT_FOUND")
    assert [v["key"] for v in (await bot.ok("variable", "list"))["variables"]] == ["motd"]

    until = (rt.clock() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    await bot.ok("version", "add", {"version": "1.0.0", "mode": "grace", "allowed_until": until})
    edited = await bot.ok("version", "edit", {"version": "1.0", "mode": "block"})
    assert edited["version"] == {"version": "1.0.0", "mode": "block", "allowed_until": None}
    assert (await admin.list_version_rules(rt, world.app_id))[0].mode == "block"
    listed = await bot.ok("version", "list")
    assert [v["mode"] for v in listed["versions"]] == ["block"]
    absent = await bot.call("version", "edit", {"version": "9.9", "mode": "allow"})
    assert (absent.status_code, absent.json()["code"]) == (404, "VERSION_NOT_FOUND")

    responses = (await bot.ok("response", "list"))["responses"]
    categories = {r["code"]: r["category"] for r in responses}
    assert (categories["OK.init"], categories["USER_BANNED"], categories["CHANNEL_NOT_FOUND"]) == (
        "Init",
        "Auth",
        "General",
    )

    registered = await bot.ok("hash", "register", {"hash": "EF" * 32, "note": "build 7"})
    assert registered["hash"]["hash"] == "ef" * 32 and registered["hash"]["note"] == "build 7"
    hashes = await bot.ok("hash", "list")
    assert hashes["hash_check"] is False and [h["hash"] for h in hashes["hashes"]] == ["ef" * 32]
