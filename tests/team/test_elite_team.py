"""Elite Key `staff` and `reseller` calls exactly as the AuthlyX Discord bot sends them
(management A.7): account level (`app_name=""`), POST JSON for changes, GET for reads."""

from __future__ import annotations

import json

from sqlalchemy import select

from licentia.services import admin_apps, admin_resellers, admin_staff
from licentia.store.tables import audit_log
from tests.conftest import World
from tests.elite.conftest import Bot

from .conftest import uniq


async def _elite_audit(world: World, capability: str) -> list[dict[str, object]]:
    owner = await admin_apps.get_owner(world.rt, world.owner_id)
    async with world.rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.owner_account_id == owner.id)
                .where(audit_log.c.capability == capability)
                .order_by(audit_log.c.id)
            )
        ).all()
    return [
        {
            "face": r.face,
            "target": r.target,
            "result": r.result,
            "changes": json.loads(r.changes) if r.changes else None,
        }
        for r in rows
    ]


async def test_staff_calls_as_the_bot_sends_them(bot: Bot, world: World) -> None:
    role = await admin_staff.create_role(world.rt, world.owner_id, "Support", ["license.info"])
    other = await admin_staff.create_role(world.rt, world.owner_id, "Admins", ["license:write"])

    roles = await bot.ok("staff", "roles", app_name="")
    assert roles["roles"] == [
        {"id": other.id, "name": "Admins"},
        {"id": role.id, "name": "Support"},
    ]

    name = uniq("kim")
    added = await bot.ok(
        "staff",
        "add",
        {"type": "new", "username": name, "email": "kim@example.com", "role_id": role.id},
        app_name="",
    )
    public_id = added["staff"]["public_id"]
    assert added["staff"] == {"username": name, "public_id": public_id}
    assert len(added["temporary_password"]) == 16

    account = await admin_apps.create_owner(world.rt, uniq("ex"), "pw")
    existing = await bot.ok(
        "staff",
        "add",
        {"type": "existing", "staff_public_id": account.public_id, "role_id": other.id},
        app_name="",
    )
    assert existing["staff"]["public_id"] == account.public_id
    assert "temporary_password" not in existing

    edited = await bot.ok("staff", "edit", {"identifier": name, "role_id": other.id}, app_name="")
    assert edited["staff"]["username"] == name
    await bot.ok("staff", "ban", {"identifier": public_id}, app_name="")
    await bot.ok("staff", "ban", {"identifier": public_id}, app_name="")  # idempotent
    listed = await bot.ok("staff", "list", app_name="")
    mine = next(s for s in listed["staff"] if s["username"] == name)
    assert mine == {
        "username": name,
        "public_id": public_id,
        "role_name": "Admins",
        "is_active": False,
    }
    await bot.ok("staff", "unban", {"identifier": name}, app_name="")
    assert (await admin_staff.get_staff(world.rt, world.owner_id, name)).is_active is True

    missing = await bot.call("staff", "edit", {"identifier": name}, app_name="")
    assert missing.status_code == 400 and missing.json()["code"] == "MISSING_FIELDS"
    unknown = await bot.call("staff", "ban", {"identifier": "nobody"}, app_name="")
    assert unknown.status_code == 404 and unknown.json()["code"] == "STAFF_NOT_FOUND"
    bad_role = await bot.call("staff", "edit", {"identifier": name, "role_id": "1"}, app_name="")
    assert bad_role.status_code == 404 and bad_role.json()["code"] == "ROLE_NOT_FOUND"
    assert bad_role.json()["error"] and bad_role.json()["success"] is False

    await bot.ok("staff", "remove", {"identifier": name}, app_name="")
    gone = await bot.call("staff", "remove", {"identifier": name}, app_name="")
    assert gone.status_code == 404

    bans = await _elite_audit(world, "staff.ban")
    assert bans[0] == {
        "face": "elite-key",
        "target": public_id,
        "result": "ok",
        "changes": {"is_active": [True, False]},
    }
    adds = await _elite_audit(world, "staff.add")
    assert len(adds) == 2 and adds[0]["changes"]["temporary_password"] == "changed"  # type: ignore[index]


async def test_reseller_calls_as_the_bot_sends_them(bot: Bot, world: World) -> None:
    plan = await admin_resellers.create_rate_plan(world.rt, world.owner_id, "Gold")
    plans = await bot.ok("reseller", "rate_plans", app_name="")
    assert plans["rate_plans"] == [{"id": plan.id, "name": "Gold"}]

    name = uniq("rae")
    added = await bot.ok(
        "reseller",
        "add",
        {"type": "new", "username": name, "email": "r@example.com", "rate_profile_id": None},
        app_name="",
    )
    assert added["reseller"]["username"] == name and len(added["temporary_password"]) == 16

    account = await admin_apps.create_owner(world.rt, uniq("ex"), "pw")
    existing = await bot.ok(
        "reseller",
        "add",
        {"type": "existing", "reseller_public_id": account.public_id, "rate_profile_id": plan.id},
        app_name="",
    )
    assert existing["reseller"] == {"username": account.username, "public_id": account.public_id}
    assert "temporary_password" not in existing
    twice = await bot.call(
        "reseller",
        "add",
        {"type": "existing", "reseller_public_id": account.public_id, "rate_profile_id": None},
        app_name="",
    )
    assert twice.status_code == 409 and twice.json()["code"] == "ALREADY_EXISTS"

    await bot.ok("reseller", "edit", {"identifier": name, "rate_profile_id": plan.id}, app_name="")
    assert (await admin_resellers.get_reseller(world.rt, world.owner_id, name)).rate_plan_id == (
        plan.id
    )
    coins = await bot.ok(
        "reseller", "coins", {"identifier": name, "amount": 15, "description": "x"}, app_name=""
    )
    assert coins["points_balance"] == 15
    short = await bot.call(
        "reseller", "coins", {"identifier": name, "amount": -16, "description": "x"}, app_name=""
    )
    assert short.status_code == 422 and short.json()["code"] == "INSUFFICIENT_BALANCE"
    zero = await bot.call("reseller", "coins", {"identifier": name, "amount": 0}, app_name="")
    assert zero.status_code == 400 and zero.json()["code"] == "INVALID_INPUT"
    coins = await bot.ok("reseller", "coins", {"identifier": name, "amount": "-5"}, app_name="")
    assert coins["points_balance"] == 10

    await bot.ok("reseller", "ban", {"identifier": name}, app_name="")
    listed = await bot.ok("reseller", "list", app_name="")
    assert [r for r in listed["resellers"] if r["username"] == name] == [
        {
            "username": name,
            "public_id": added["reseller"]["public_id"],
            "points_balance": 10,
            "rate_profile_name": "Gold",
            "is_active": False,
        }
    ]
    await bot.ok("reseller", "unban", {"identifier": name}, app_name="")
    cleared = await bot.ok(
        "reseller", "edit", {"identifier": name, "rate_profile_id": None}, app_name=""
    )
    assert cleared["reseller"]["username"] == name
    assert (await admin_resellers.get_reseller(world.rt, world.owner_id, name)).rate_plan_id is None
    no_plan = await bot.call("reseller", "edit", {"identifier": name}, app_name="")
    assert no_plan.status_code == 400 and no_plan.json()["code"] == "MISSING_FIELDS"

    refused = await _elite_audit(world, "reseller.coins")
    assert [e["result"] for e in refused] == ["ok", "INSUFFICIENT_BALANCE", "INVALID_INPUT", "ok"]
    assert refused[0]["changes"] == {"points_balance": [0, 15]}
