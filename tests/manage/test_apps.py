"""Apps (B.4) and subscriptions (B.5) through the management API."""

from __future__ import annotations

from licentia.services import admin
from tests.manage.conftest import Manage, assert_error, changes_of


async def test_app_info_has_every_setting_and_the_counts(m: Manage) -> None:
    await admin.add_license(m.rt, m.app_id, "KEY-1", "Premium")
    body = (await m.get(f"/apps/{m.app_id}")).json()
    assert body["id"] == m.app_id and body["name"] == m.world.app_name
    assert body["hwid_lock"] is True and body["session_idle_timeout"] == 3600
    assert set(admin.APP_SETTINGS) <= set(body)
    assert (body["total_licenses"], body["total_subscriptions"], body["total_users"]) == (1, 1, 0)
    assert body["created_at"].endswith("Z") and "secret" not in body


async def test_patch_changes_several_settings_and_is_audited(m: Manage) -> None:
    response = await m.call(
        "PATCH",
        f"/apps/{m.app_id}",
        json_body={"hwid_lock": False, "session_idle_timeout": 600, "download_url": "a<b"},
        headers={"X-Request-Id": "req-42"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "req-42"
    body = response.json()
    assert (body["hwid_lock"], body["session_idle_timeout"]) == (False, 600)
    assert body["warnings"] and "download_url" in body["warnings"][0]
    settings = await admin.get_app_settings(m.rt, m.app_id)
    assert (settings["hwid_lock"], settings["session_idle_timeout"]) == (False, 600)
    [entry] = await m.audit()
    assert (entry.actor_kind, entry.actor, entry.face) == ("token", m.last_token_id, "rest")
    assert (entry.capability, entry.target_type, entry.target) == ("app.edit", "app", m.app_id)
    assert (entry.actor_ip, entry.request_id, entry.result) == ("203.0.113.24", "req-42", "ok")
    assert changes_of(entry)["hwid_lock"] == [True, False]
    assert changes_of(entry)["session_idle_timeout"] == [3600, 600]


async def test_patch_is_all_or_nothing(m: Manage) -> None:
    before = await m.snapshot()
    response = await m.call(
        "PATCH", f"/apps/{m.app_id}", json_body={"hwid_lock": False, "session_idle_timeout": 0}
    )
    assert_error(response, 400, "INVALID_INPUT", ["session_idle_timeout"])
    assert await m.snapshot() == before


async def test_patch_validation_errors(m: Manage) -> None:
    path = f"/apps/{m.app_id}"
    before = await m.snapshot()
    assert_error(await m.call("PATCH", path, json_body={"nope": 1}), 400, "INVALID_INPUT", ["nope"])
    assert_error(
        await m.call("PATCH", path, json_body={"hwid_lock": "maybe"}),
        400,
        "INVALID_INPUT",
        ["hwid_lock"],
    )
    assert_error(
        await m.call("PATCH", path, json_body={"hwid_lock": None}),
        400,
        "INVALID_INPUT",
        ["hwid_lock"],
    )
    assert_error(await m.call("PATCH", path, json_body={}), 400, "INVALID_INPUT", ["body"])
    assert_error(await m.call("PATCH", path, json_body=[1]), 400, "INVALID_INPUT")
    assert_error(
        await m.call(
            "PATCH", path, content=b"{not json", headers={"content-type": "application/json"}
        ),
        400,
        "INVALID_INPUT",
    )
    assert_error(
        await m.call("PATCH", path, json_body={"reminder_message": "a<b"}),
        400,
        "INVALID_INPUT",
        ["reminder_message"],
    )
    assert await m.snapshot() == before
    # Refused changes are audited with their code, and change nothing else.
    assert {e.result for e in await m.audit()} == {"INVALID_INPUT"}


async def test_subscriptions_list_and_create(m: Manage) -> None:
    path = f"/apps/{m.app_id}/subscriptions"
    created = await m.post(path, {"name": "Basic", "level": 1})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Basic" and created.json()["level"] == 1
    listed = (await m.get(path)).json()["items"]
    assert [(s["name"], s["level"]) for s in listed] == [("Basic", 1), ("Premium", 2)]
    [entry] = await m.audit()
    assert (entry.capability, entry.target_type, entry.target) == (
        "subscription.create",
        "subscription",
        "Basic",
    )
    assert changes_of(entry) == {"name": [None, "Basic"], "level": [None, 1]}


async def test_subscription_errors(m: Manage) -> None:
    path = f"/apps/{m.app_id}/subscriptions"
    before = await m.snapshot()
    assert_error(await m.post(path, {"name": "premium"}), 409, "ALREADY_EXISTS")
    assert_error(await m.post(path, {"level": 3}), 400, "MISSING_FIELDS", ["name"])
    assert_error(await m.post(path, {"name": "a<b"}), 400, "INVALID_INPUT", ["name"])
    assert_error(
        await m.post(path, {"name": "x", "level": "high"}), 400, "INVALID_INPUT", ["level"]
    )
    assert await m.snapshot() == before
