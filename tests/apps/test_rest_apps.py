"""Apps (B.4), variables (B.10) and custom messages (B.17) through the management API."""

from __future__ import annotations

from sqlalchemy import func, select

from licentia.services import admin
from licentia.store.tables import apps, ip_rules, subscriptions, variables
from tests.apps.conftest import Manage, all_audit, assert_error, audit_rows, changes_of, config_rev


async def test_app_create_list_info_and_secret(fm: Manage) -> None:
    response = await fm.post("/apps", {"name": "Second"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "Second" and len(created["secret"]) == 64
    assert created["owner_id"] == fm.world.owner_id
    names = [a["name"] for a in (await fm.get("/apps")).json()["items"]]
    assert names == sorted([fm.world.app_name, "Second"], key=str.casefold)
    info = (await fm.get(f"/apps/{created['id']}")).json()
    assert (info["plan_name"], info["total_users"], info["is_enabled"]) == ("Licentia", 0, True)
    assert "secret" not in info
    assert_error(await fm.post("/apps", {"name": "second"}), 409, "ALREADY_EXISTS")
    assert_error(await fm.post("/apps", {"name": "a<b"}), 400, "INVALID_INPUT", ["name"])
    assert_error(await fm.post("/apps", {}), 400, "MISSING_FIELDS", ["name"])
    [entry] = await audit_rows(fm, "app.create")
    assert (entry.target_type, entry.target, entry.app_id) == ("app", created["id"], created["id"])
    assert changes_of(entry)["name"] == [None, "Second"]
    assert created["secret"] not in (entry.changes or "")
    refused = await audit_rows(fm, "app.create", result=None)
    assert sorted(r.result for r in refused) == [
        "ALREADY_EXISTS",
        "INVALID_INPUT",
        "MISSING_FIELDS",
        "ok",
    ]
    # The secret: readable with app.secret (app:write), never with app:read alone.
    shown = (await fm.get(f"/apps/{created['id']}/secret")).json()
    assert shown == {"app_id": created["id"], "secret": created["secret"]}
    [read] = await audit_rows(fm, "app.secret")  # every reading is audited, never the value
    assert read.target == created["id"] and created["secret"] not in (read.changes or "")
    reader = await fm.make_token(["app:read"])
    assert_error(
        await fm.get(f"/apps/{created['id']}/secret", token=reader), 403, "PERMISSION_DENIED"
    )
    # An app-limited token cannot create apps (an account-level change).
    limited = await fm.make_token(["app:write"], app_ids=[fm.app_id])
    assert_error(await fm.post("/apps", {"name": "Third"}, token=limited), 403, "PERMISSION_DENIED")


async def test_enable_disable_rename_regenerate(fm: Manage) -> None:
    path = f"/apps/{fm.app_id}"
    rev = await config_rev(fm)
    body = (await fm.post(path + "/disable")).json()
    assert body["is_enabled"] is False
    assert (await fm.post(path + "/disable")).json()["is_enabled"] is False  # idempotent
    assert len(await audit_rows(fm, "app.disable")) == 1
    response = await fm.world.post("init", _init_body(fm), check_signature=False)
    assert response.json()["code"] == "APP_DISABLED"
    assert (await fm.post(path + "/enable")).json()["is_enabled"] is True
    [entry] = await audit_rows(fm, "app.enable")
    assert changes_of(entry) == {"is_enabled": [False, True]}
    assert await config_rev(fm) == rev + 2

    other = await admin.create_app(fm.rt, fm.world.owner_id, "Taken")
    assert_error(await fm.post(path + "/rename", {"name": "TAKEN"}), 409, "ALREADY_EXISTS")
    renamed = (await fm.post(path + "/rename", {"name": "Renamed"})).json()
    assert renamed["name"] == "Renamed" and "old name" not in renamed["warnings"][0]
    assert fm.world.app_name in renamed["warnings"][0]
    [entry] = await audit_rows(fm, "app.rename")
    assert changes_of(entry) == {"name": [fm.world.app_name, "Renamed"]}
    assert other.app_id != fm.app_id

    old_secret = fm.world.secret
    new = (await fm.post(path + "/regenerate-secret")).json()["secret"]
    assert new != old_secret and await admin.get_app_secret(fm.rt, fm.app_id) == new
    [entry] = await audit_rows(fm, "app.regenerate_secret")
    assert new not in (entry.changes or "") and old_secret not in (entry.changes or "")
    body = {**_init_body(fm), "app_name": "Renamed"}
    assert (await fm.world.post("init", body, check_signature=False)).json()["code"] == (
        "INVALID_SECRET"
    )
    body["secret"] = new
    assert (await fm.world.post("init", body, check_signature=False)).json()["code"] == "OK"


def _init_body(m: Manage) -> dict[str, str]:
    return {
        "owner_id": m.world.owner_id,
        "app_name": m.world.app_name,
        "secret": m.world.secret,
        "version": "1.0.0",
    }


async def test_delete_needs_confirmation_and_removes_everything(fm: Manage) -> None:
    path = f"/apps/{fm.app_id}"
    await admin.set_variable(fm.rt, fm.app_id, "motd", "hi")
    await admin.add_ip_rule(fm.rt, fm.app_id, "10.0.0.1")
    await admin.add_license(fm.rt, fm.app_id, "KEY-DEL", "Premium")
    before = await fm.snapshot()
    assert_error(await fm.call("DELETE", path), 400, "INVALID_INPUT", ["confirm"])
    assert_error(
        await fm.call("DELETE", path, params={"confirm": fm.world.app_name.lower()}),
        400,
        "INVALID_INPUT",
    )
    assert await fm.snapshot() == before
    refused = await audit_rows(fm, "app.delete", result="INVALID_INPUT")
    assert len(refused) == 2
    response = await fm.call("DELETE", path, params={"confirm": fm.world.app_name})
    assert response.status_code == 204, response.text
    async with fm.rt.db.read() as conn:
        for table in (variables, ip_rules, subscriptions):
            count = (
                await conn.execute(
                    select(func.count()).select_from(table).where(table.c.app_id == fm.app_id)
                )
            ).scalar_one()
            assert count == 0, table.name
        assert (await conn.execute(select(apps).where(apps.c.id == fm.app_id))).first() is None
    assert_error(await fm.get(path), 404, "APP_NOT_FOUND")
    entry = (await audit_rows(fm, "app.delete"))[-1]
    assert entry.result == "ok" and changes_of(entry) == {"name": [fm.world.app_name, None]}


async def test_variables(fm: Manage) -> None:
    path = f"/apps/{fm.app_id}/variables"
    created = await fm.call("PUT", path + "/motd", json_body={"value": "hi & bye"})
    assert created.status_code == 200, created.text
    body = created.json()
    assert (body["created"], body["writable"], body["auth_required"]) == (True, True, False)
    assert body["warnings"] and body["updated_by"].startswith("token:")
    updated = (
        await fm.call("PUT", path + "/motd", json_body={"value": "x", "writable": False})
    ).json()
    assert (updated["created"], updated["value"], updated["writable"]) == (False, "x", False)
    kept = (await fm.call("PUT", path + "/motd", json_body={"value": "y"})).json()
    assert kept["writable"] is False
    assert (await fm.get(path + "/motd")).json()["value"] == "y"
    assert [v["key"] for v in (await fm.get(path)).json()["items"]] == ["motd"]
    assert_error(await fm.get(path + "/MOTD"), 404, "VARIABLE_NOT_FOUND")
    assert_error(
        await fm.call("PUT", path + "/bad%20key", json_body={"value": "v"}),
        400,
        "INVALID_INPUT",
        ["key"],
    )
    assert_error(
        await fm.call("PUT", path + "/k", json_body={"value": "v" * 5000}), 400, "INVALID_INPUT"
    )
    entries = await audit_rows(fm, "variable.set")
    assert changes_of(entries[0])["value"] == [None, "hi & bye"]
    assert changes_of(entries[1]) == {"value": ["hi & bye", "x"], "writable": [True, False]}
    assert (await fm.call("DELETE", path + "/motd")).status_code == 204
    assert_error(await fm.call("DELETE", path + "/motd"), 404, "VARIABLE_NOT_FOUND")
    [entry] = await audit_rows(fm, "variable.delete")
    assert (entry.target_type, entry.target) == ("variable", "motd")


async def test_custom_messages(fm: Manage) -> None:
    path = f"/apps/{fm.app_id}/responses"
    items = (await fm.get(path)).json()["items"]
    by_code = {i["code"]: i for i in items}
    assert by_code["OK.init"]["category"] == "Init"
    assert by_code["INVALID_SECRET"]["category"] == "Init"
    assert by_code["USER_BANNED"]["category"] == "Auth"
    assert by_code["OK.login"]["category"] == "Auth"
    assert by_code["VARIABLE_NOT_FOUND"]["category"] == "General"
    assert "OWNER_NOT_FOUND" not in by_code and "INTERNAL" not in by_code
    init_only = (await fm.get(path, params={"category": "Init"})).json()["items"]
    assert {i["category"] for i in init_only} == {"Init"}
    rev = await config_rev(fm)
    body = (await fm.call("PUT", path + "/user_banned", json_body={"message": "Gone"})).json()
    assert (body["code"], body["message"], body["is_default"]) == ("USER_BANNED", "Gone", False)
    assert await config_rev(fm) == rev + 1
    assert_error(
        await fm.call("PUT", path + "/USER_BANNED", json_body={"message": "a<b"}),
        400,
        "INVALID_INPUT",
        ["message"],
    )
    assert_error(
        await fm.call("PUT", path + "/INTERNAL", json_body={"message": "x"}),
        400,
        "INVALID_INPUT",
        ["code"],
    )
    await fm.call("PUT", path + "/OK.init", json_body={"message": "Hello"})
    reset = (await fm.call("DELETE", path + "/USER_BANNED")).json()
    assert reset["is_default"] is True and reset["message"] == reset["default_message"]
    assert (await fm.post(path + "/reset-all")).json() == {"count": 1}
    assert (await fm.post(path + "/reset-all")).json() == {"count": 0}
    assert all(i["is_default"] for i in (await fm.get(path)).json()["items"])
    [entry] = [r for r in await audit_rows(fm, "response.set") if r.target == "USER_BANNED"]
    assert changes_of(entry)["message"][1] == "Gone"
    assert len(await audit_rows(fm, "response.reset_all")) == 1
    assert len(await all_audit(fm)) >= 4
