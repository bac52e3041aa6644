"""Users, bound devices, hardware devices and client sessions through the management API
(B.7, B.8, B.9, B.13): every action, its errors, its audit entry, and isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from licentia.services import admin
from licentia.store.tables import devices, users
from tests.conftest import FakeClock, World
from tests.manage.conftest import Manage, assert_error, changes_of

Z = "%Y-%m-%dT%H:%M:%SZ"


def app_path(m: Manage, rest: str) -> str:
    return f"/apps/{m.app_id}{rest}"


async def entries(m: Manage, capability: str) -> list[Any]:
    """The successful changes recorded for `capability` (refused calls are logged too)."""
    return [e for e in await m.audit() if e.capability == capability and e.result == "ok"]


async def validate(world: World, session: str) -> str:
    response = await world.post("validate-session", {"session_id": session})
    return str(response.json()["code"])


# -- users -------------------------------------------------------------------------------


async def test_user_edit_terms_and_audit(m: Manage, clock: FakeClock) -> None:
    await admin.create_subscription(m.rt, m.app_id, "Basic", 1)
    created = await m.post(
        app_path(m, "/users"),
        {"username": "Ada", "password": "pw-1", "subscription": "premium", "duration_days": 10},
    )
    assert created.status_code == 201, created.text
    assert created.json()["current_devices"] == 0

    edited = await m.call(
        "PATCH",
        app_path(m, "/users/ada"),
        json_body={
            "email": "ada@example.com",
            "device_limit": 0,
            "note": "vip",
            "subscription": "basic",
        },
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["email"], body["device_limit"], body["note"], body["subscription"]) == (
        "ada@example.com",
        0,
        "vip",
        "Basic",
    )
    [entry] = await entries(m, "user.edit")
    assert (entry.target_type, entry.target) == ("user", "Ada")
    assert changes_of(entry)["device_limit"] == [1, 0]
    assert changes_of(entry)["subscription"] == ["Premium", "Basic"]

    # Extend/shorten by days and to a date; a lifetime user cannot be moved.
    start = (clock.now + timedelta(days=10)).strftime(Z)
    extended = await m.post(app_path(m, "/users/ada/extend"), {"days": 5})
    assert extended.json()["expiry_date"] == (clock.now + timedelta(days=15)).strftime(Z)
    shortened = await m.post(app_path(m, "/users/ada/shorten"), {"days": 3})
    assert shortened.json()["expiry_date"] == (clock.now + timedelta(days=12)).strftime(Z)
    [shift] = await entries(m, "user.shorten")
    assert changes_of(shift)["expiry_date"] == [
        (clock.now + timedelta(days=15)).strftime(Z),
        (clock.now + timedelta(days=12)).strftime(Z),
    ]
    assert start != shortened.json()["expiry_date"]
    assert_error(await m.post(app_path(m, "/users/ada/extend"), {}), 400, "MISSING_FIELDS")
    assert_error(
        await m.post(
            app_path(m, "/users/ada/extend"), {"days": 1, "expiry_date": "2030-01-01T00:00:00Z"}
        ),
        400,
        "INVALID_INPUT",
    )
    lifetime = await m.call("PATCH", app_path(m, "/users/ada"), json_body={"expiry_date": None})
    assert lifetime.json()["expiry_date"] is None
    before = await m.snapshot()
    assert_error(
        await m.post(app_path(m, "/users/ada/extend"), {"days": 1}), 400, "INVALID_INPUT", ["days"]
    )
    assert await m.snapshot() == before

    # Refused edits change nothing.
    assert_error(
        await m.call("PATCH", app_path(m, "/users/ada"), json_body={}), 400, "MISSING_FIELDS"
    )
    assert_error(
        await m.call("PATCH", app_path(m, "/users/ada"), json_body={"subscription": None}),
        400,
        "INVALID_INPUT",
        ["subscription"],
    )
    assert_error(
        await m.call("PATCH", app_path(m, "/users/ada"), json_body={"subscription": "Gold"}),
        404,
        "SUBSCRIPTION_NOT_FOUND",
    )
    assert_error(
        await m.call("PATCH", app_path(m, "/users/ada"), json_body={"email": "no-at"}),
        400,
        "INVALID_INPUT",
        ["email"],
    )
    assert await m.snapshot() == before
    assert_error(
        await m.call("PATCH", app_path(m, "/users/ghost"), json_body={"note": "x"}),
        404,
        "USER_NOT_FOUND",
    )


async def test_user_passwords_devices_and_sessions(m: Manage) -> None:
    world = m.world
    session, _key = await world.register("mara", "old-pw", sid="S-1-5-21-1")
    assert await validate(world, session) == "OK"
    info = (await m.get(app_path(m, "/users/MARA"))).json()
    assert (info["current_devices"], info["hwid"]) == (1, "S-1-5-21-1")

    bound = (await m.get(app_path(m, "/users/mara/devices"))).json()["items"]
    assert [b["sid"] for b in bound] == ["S-1-5-21-1"]
    sessions = (await m.get(app_path(m, "/users/mara/sessions"))).json()["items"]
    assert [(s["id"], s["state"], s["identity"]) for s in sessions] == [
        (session[:8], "live", "mara")
    ]

    # verify-password: right, wrong (422), unknown user (404 after the dummy check).
    ok = await m.post(app_path(m, "/users/mara/verify-password"), {"password": "old-pw"})
    assert ok.status_code == 200 and ok.json()["valid"] is True
    assert ok.json()["expiry"] is not None
    assert_error(
        await m.post(app_path(m, "/users/mara/verify-password"), {"password": "nope"}),
        422,
        "INVALID_PASSWORD",
    )
    assert_error(
        await m.post(app_path(m, "/users/ghost/verify-password"), {"password": "x"}),
        404,
        "USER_NOT_FOUND",
    )

    # reset-password ends the session; the new password verifies.
    reset = await m.post(app_path(m, "/users/mara/reset-password"), {"new_password": "new-pw"})
    assert reset.status_code == 200, reset.text
    assert await validate(world, session) == "SESSION_EXPIRED"
    assert (
        await m.post(app_path(m, "/users/mara/verify-password"), {"password": "new-pw"})
    ).json()["valid"]
    [entry] = await entries(m, "user.reset_password")
    assert changes_of(entry) == {"password": "changed"}
    assert "new-pw" not in (entry.changes or "")
    assert_error(
        await m.post(app_path(m, "/users/mara/reset-password"), {"new_password": ""}),
        400,
        "INVALID_INPUT",
        ["new_password"],
    )

    # remove-device: an unknown SID is 404; the bound one goes.
    assert_error(
        await m.call("DELETE", app_path(m, "/users/mara/devices/S-9")), 404, "BINDING_NOT_FOUND"
    )
    gone = await m.call("DELETE", app_path(m, "/users/mara/devices/s-1-5-21-1"))
    assert gone.status_code == 204
    assert (await m.get(app_path(m, "/users/mara"))).json()["current_devices"] == 0
    [removed] = await entries(m, "user.remove_device")
    assert changes_of(removed) == {"sid": ["S-1-5-21-1", None]}

    # A second session: end-sessions ends it; reset-hwid clears bindings and IP.
    again = await world.init()
    login = await world.post(
        "login", {"session_id": again, "username": "mara", "password": "new-pw", "sid": "S-2"}
    )
    assert login.json()["code"] == "OK", login.text
    ended = await m.post(app_path(m, "/users/mara/end-sessions"))
    assert ended.json() == {"ended": 1}
    assert await validate(world, again) == "SESSION_EXPIRED"
    assert (await m.post(app_path(m, "/users/mara/end-sessions"))).json() == {"ended": 0}
    hwid = await m.post(app_path(m, "/users/mara/reset-hwid"))
    assert (hwid.json()["current_devices"], hwid.json()["hwid"], hwid.json()["ip_address"]) == (
        0,
        "",
        "",
    )
    [entry] = await entries(m, "user.reset_hwid")
    assert changes_of(entry)["bound_devices"] == [1, 0]


async def test_user_import_and_export(m: Manage) -> None:
    digest = await m.rt.passwords.hash("hashed-pw")
    good = (
        "username,password,password_hash,subscription,email,expiry_date,device_limit,note\n"
        "imp1,first-pw,,Premium,a@example.com,2030-01-01T00:00:00Z,2,hello\n"
        f'imp2,,"{digest}",premium,,,,\n'
        "'-minus,pw,,Premium,,,,=SUM(A1)\n"
    )
    bad = "username,password,subscription\nok1,pw,Premium\nok2,,Premium\n"
    before = await m.snapshot()
    refused = assert_error(
        await m.call(
            "POST",
            app_path(m, "/users/import"),
            content=bad,
            headers={"Content-Type": "text/csv"},
        ),
        400,
        "INVALID_INPUT",
    )
    assert refused["message"].startswith("line 3:")
    assert await m.snapshot() == before  # one bad row: nothing created
    wrong_hash = "username,password_hash,subscription\nh1,$2b$12$abcdefghijk,Premium\n"
    assert_error(
        await m.call("POST", app_path(m, "/users/import"), content=wrong_hash),
        400,
        "INVALID_INPUT",
    )
    created = await m.call(
        "POST", app_path(m, "/users/import"), content=good, headers={"Content-Type": "text/csv"}
    )
    assert created.status_code == 201, created.text
    assert created.json() == {"created": 3}
    [entry] = await entries(m, "user.import")
    assert changes_of(entry) == {"created": [None, 3]}
    verify = await m.post(app_path(m, "/users/imp2/verify-password"), {"password": "hashed-pw"})
    assert verify.json()["valid"] is True
    first = (await m.get(app_path(m, "/users/imp1"))).json()
    assert (first["device_limit"], first["expiry_date"], first["note"]) == (
        2,
        "2030-01-01T00:00:00Z",
        "hello",
    )
    assert (await m.get(app_path(m, "/users/-minus"))).json()["note"] == "=SUM(A1)"
    dup = await m.call("POST", app_path(m, "/users/import"), content=good)
    assert_error(dup, 409, "ALREADY_EXISTS")

    csv_out = await m.get(app_path(m, "/users/export"), params={"format": "csv"})
    assert csv_out.status_code == 200 and csv_out.headers["content-type"].startswith("text/csv")
    lines = csv_out.text.splitlines()
    assert lines[0].startswith("username,email,subscription")
    assert any(line.startswith("'-minus,") and "'=SUM(A1)" in line for line in lines)
    assert "hashed-pw" not in csv_out.text and "$argon2" not in csv_out.text
    as_json = (await m.get(app_path(m, "/users/export"), params={"format": "json"})).json()
    assert as_json["count"] == 3
    assert {u["username"] for u in as_json["users"]} == {"imp1", "imp2", "-minus"}
    assert_error(
        await m.get(app_path(m, "/users/export"), params={"format": "xml"}), 400, "INVALID_INPUT"
    )


# -- hardware devices --------------------------------------------------------------------


async def test_device_actions(m: Manage, clock: FakeClock) -> None:
    start = clock.now
    base = app_path(m, "/devices")
    created = await m.post(
        base,
        {
            "device_type": "MotherBoard",
            "device_id": "MB-1",
            "subscription": "Premium",
            "duration_days": 10,
            "name": "rig",
        },
    )
    assert created.status_code == 201, created.text
    assert (created.json()["device_type"], created.json()["state"]) == (
        "motherboard",
        "unactivated",
    )
    assert_error(
        await m.post(
            base, {"device_type": "motherboard", "device_id": "mb-1", "subscription": "Premium"}
        ),
        409,
        "ALREADY_EXISTS",
    )
    assert_error(
        await m.post(base, {"device_type": "gpu", "device_id": "g", "subscription": "Premium"}),
        400,
        "INVALID_INPUT",
        ["device_type"],
    )
    clock.advance(1)
    await m.post(
        base, {"device_type": "processor", "device_id": "CPU-1", "subscription": "Premium"}
    )
    one = base + "/motherboard/mb-1"

    listed = (await m.get(base, params={"device_type": "processor"})).json()["items"]
    assert [d["device_id"] for d in listed] == ["CPU-1"]
    assert len((await m.get(base, params={"state": "unactivated"})).json()["items"]) == 2
    page = (await m.get(base, params={"limit": 1})).json()
    assert page["next_cursor"] and page["items"][0]["device_id"] == "CPU-1"
    rest = (await m.get(base, params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [d["device_id"] for d in rest["items"]] == ["MB-1"] and rest["next_cursor"] is None

    edited = await m.call("PATCH", one, json_body={"name": "server", "email": "it@example.com"})
    assert (edited.json()["name"], edited.json()["email"]) == ("server", "it@example.com")
    [entry] = await entries(m, "device.edit")
    assert (entry.target_type, entry.target) == ("device", "motherboard:MB-1")
    assert changes_of(entry)["name"] == ["rig", "server"]

    for action, field, value in [
        ("ban", "banned", True),
        ("unban", "banned", False),
        ("pause", "paused", True),
        ("unpause", "paused", False),
    ]:
        response = await m.post(f"{one}/{action}")
        assert response.json()[field] is value, (action, response.text)
    assert len(await entries(m, "device.ban")) == 1

    extended = await m.post(f"{one}/extend", {"days": 2})
    assert extended.json()["expiry_date"] == (start + timedelta(days=12)).strftime(Z)
    shortened = await m.post(f"{one}/shorten", {"expiry_date": "2031-05-01T00:00:00Z"})
    assert shortened.json()["expiry_date"] == "2031-05-01T00:00:00Z"
    assert_error(await m.post(base + "/processor/cpu-1/extend", {"days": 1}), 400, "INVALID_INPUT")

    # device-auth records hwid and IP; reset clears them, activation stays; sessions end.
    session = await m.world.init()
    auth = await m.world.post(
        "device-auth",
        {"session_id": session, "device_type": "motherboard", "device_id": "MB-1", "sid": "H1"},
    )
    assert auth.json()["code"] == "OK", auth.text
    info = (await m.get(one)).json()
    assert (info["activated"], info["hwid"]) == (True, "H1")
    reset = (await m.post(f"{one}/reset")).json()
    assert (reset["activated"], reset["hwid"], reset["ip_address"]) == (True, "", "")
    assert (await m.post(f"{one}/end-sessions")).json() == {"ended": 1}
    assert await validate(m.world, session) == "SESSION_EXPIRED"

    assert (await m.call("DELETE", one)).status_code == 204
    assert_error(await m.get(one), 404, "DEVICE_NOT_FOUND")
    [deleted] = await entries(m, "device.delete")
    assert changes_of(deleted) == {"state": ["active", None]}


async def test_device_import_and_export(m: Manage) -> None:
    good = (
        "device_type,device_id,subscription,name,expiry_date\n"
        "motherboard,IMP-1,Premium,a,\n"
        "Processor,IMP-2,premium,@b,2031-01-01T00:00:00Z\n"
    )
    dup_in_file = "device_type,device_id,subscription\nprocessor,X1,Premium\nprocessor,x1,Premium\n"
    assert_error(
        await m.call("POST", app_path(m, "/devices/import"), content=dup_in_file),
        409,
        "ALREADY_EXISTS",
    )
    bad_sub = "device_type,device_id,subscription\nprocessor,Y1,Premium\nprocessor,Y2,Gold\n"
    refused = assert_error(
        await m.call("POST", app_path(m, "/devices/import"), content=bad_sub), 400, "INVALID_INPUT"
    )
    assert "line 3" in refused["message"]
    async with m.rt.db.read() as conn:
        count = (
            await conn.execute(
                select(func.count()).select_from(devices).where(devices.c.app_id == m.app_id)
            )
        ).scalar_one()
    assert count == 0
    created = await m.call("POST", app_path(m, "/devices/import"), content=good)
    assert created.json() == {"created": 2}
    exported = (await m.get(app_path(m, "/devices/export"))).text
    assert "'@b" in exported and "IMP-1" in exported
    as_json = (await m.get(app_path(m, "/devices/export"), params={"format": "json"})).json()
    assert {d["device_id"]: d["expiry_date"] for d in as_json["devices"]} == {
        "IMP-1": None,
        "IMP-2": "2031-01-01T00:00:00Z",
    }

    # An export reads back: its export-only columns (state, created_at, ...) are ignored.
    for device_id in ("IMP-1", "IMP-2"):
        gone = await m.call("DELETE", app_path(m, f"/devices/processor/{device_id}"))
        if gone.status_code == 404:
            gone = await m.call("DELETE", app_path(m, f"/devices/motherboard/{device_id}"))
        assert gone.status_code in (200, 204), gone.text
    again = await m.call("POST", app_path(m, "/devices/import"), content=exported)
    assert again.json() == {"created": 2}, again.text
    reexported = (await m.get(app_path(m, "/devices/export"))).text
    assert sorted(reexported.splitlines()) == sorted(exported.splitlines())


# -- sessions and bindings ---------------------------------------------------------------


async def test_sessions_list_end_and_end_all(m: Manage, clock: FakeClock) -> None:
    world = m.world
    anonymous = await world.init()
    clock.advance(1)  # newest first; sessions of the same second would tie
    user_session, key = await world.register("sam", "pw", sid="SID-A")
    clock.advance(1)
    third = await world.init()
    base = app_path(m, "/sessions")

    listed = (await m.get(base)).json()["items"]
    assert [s["id"] for s in listed] == [third[:8], user_session[:8], anonymous[:8]]
    by_user = (await m.get(base, params={"identity_kind": "user", "identity": "SAM"})).json()
    assert [s["id"] for s in by_user["items"]] == [user_session[:8]]
    assert_error(
        await m.get(base, params={"identity_kind": "user", "identity": "ghost"}),
        404,
        "USER_NOT_FOUND",
    )
    assert_error(await m.get(base, params={"identity": "sam"}), 400, "INVALID_INPUT")

    # End one by prefix (8+ characters) or full id; unknown / too short are refused.
    ended = await m.post(f"{base}/{user_session[:10]}/end")
    assert ended.status_code == 200, ended.text
    assert (ended.json()["state"], ended.json()["end_reason"]) == ("ended", "ended")
    assert await validate(world, user_session) == "SESSION_EXPIRED"
    assert (await m.post(f"{base}/{user_session}/end")).json()["state"] == "ended"
    assert len(await entries(m, "session.end")) == 1  # the repeat changed nothing
    assert_error(await m.post(f"{base}/abc/end"), 400, "INVALID_INPUT", ["session"])
    assert_error(await m.post(f"{base}/00000000/end"), 404, "SESSION_NOT_FOUND")
    states = (await m.get(base, params={"state": "ended"})).json()["items"]
    assert [s["id"] for s in states] == [user_session[:8]]

    # Bindings of a license holder through the generic routes.
    await world.post(
        "licenses", {"session_id": await world.init(), "key": await world.key(), "sid": "L1"}
    )
    # end-all for the app
    result = await m.post(f"{base}/end-all")
    assert result.json()["ended"] >= 2
    assert await validate(world, anonymous) == "SESSION_EXPIRED"
    assert (await m.get(base, params={"state": "live"})).json()["items"] == []
    [entry] = await entries(m, "session.end_all")
    assert (entry.target_type, entry.target) == ("app", m.app_id)
    assert_error(await m.post(f"{base}/end-all", {"identity_kind": "user"}), 400, "INVALID_INPUT")
    assert key


async def test_bindings_routes(m: Manage) -> None:
    world = m.world
    await world.register("bo", "pw", sid="B-1")
    base = app_path(m, "/bindings")
    items = (await m.get(base, params={"holder_kind": "user", "holder": "bo"})).json()["items"]
    assert [(b["holder"], b["sid"]) for b in items] == [("bo", "B-1")]
    assert_error(
        await m.call("DELETE", base, params={"holder_kind": "user", "holder": "bo", "sid": "x"}),
        404,
        "BINDING_NOT_FOUND",
    )
    removed = await m.call(
        "DELETE", base, params={"holder_kind": "user", "holder": "bo", "sid": "b-1"}
    )
    assert removed.json()["sid"] == "B-1"
    assert (await m.post(base + "/reset", {"holder_kind": "user", "holder": "bo"})).json() == {
        "removed": 0
    }
    assert_error(
        await m.post(base + "/reset", {"holder_kind": "license", "holder": "NOPE"}),
        404,
        "LICENSE_NOT_FOUND",
    )
    async with m.rt.db.read() as conn:
        row = (await conn.execute(select(users.c.last_sid).where(users.c.app_id == m.app_id))).one()
    assert row.last_sid == ""


# -- isolation ---------------------------------------------------------------------------

ROUTES: list[tuple[str, str, str, Any]] = [
    ("GET", "/users", "user.list", None),
    (
        "POST",
        "/users",
        "user.create",
        {"username": "z", "password": "p", "subscription": "Premium"},
    ),
    ("GET", "/users/export", "user.export", None),
    ("POST", "/users/import", "user.import", None),
    ("GET", "/users/iso", "user.info", None),
    ("PATCH", "/users/iso", "user.edit", {"note": "x"}),
    ("DELETE", "/users/iso", "user.delete", None),
    ("POST", "/users/iso/ban", "user.ban", None),
    ("POST", "/users/iso/extend", "user.extend", {"days": 1}),
    ("POST", "/users/iso/reset-password", "user.reset_password", {"new_password": "x"}),
    ("POST", "/users/iso/verify-password", "user.verify_password", {"password": "x"}),
    ("POST", "/users/iso/reset-hwid", "user.reset_hwid", None),
    ("GET", "/users/iso/devices", "binding.list", None),
    ("DELETE", "/users/iso/devices/S1", "user.remove_device", None),
    ("GET", "/users/iso/sessions", "user.list_sessions", None),
    ("POST", "/users/iso/end-sessions", "user.end_sessions", None),
    ("GET", "/bindings?holder_kind=user&holder=iso", "binding.list", None),
    ("DELETE", "/bindings?holder_kind=user&holder=iso&sid=S1", "binding.remove", None),
    ("POST", "/bindings/reset", "binding.reset", {"holder_kind": "user", "holder": "iso"}),
    ("GET", "/devices", "device.list", None),
    (
        "POST",
        "/devices",
        "device.create",
        {"device_type": "processor", "device_id": "z", "subscription": "Premium"},
    ),
    ("GET", "/devices/export", "device.export", None),
    ("POST", "/devices/import", "device.import", None),
    ("GET", "/devices/processor/ISO", "device.info", None),
    ("PATCH", "/devices/processor/ISO", "device.edit", {"name": "x"}),
    ("DELETE", "/devices/processor/ISO", "device.delete", None),
    ("POST", "/devices/processor/ISO/pause", "device.pause", None),
    ("POST", "/devices/processor/ISO/shorten", "device.shorten", {"days": 1}),
    ("POST", "/devices/processor/ISO/reset", "device.reset", None),
    ("POST", "/devices/processor/ISO/end-sessions", "device.end_sessions", None),
    ("GET", "/sessions", "session.list", None),
    ("POST", "/sessions/00000000/end", "session.end", None),
    ("POST", "/sessions/end-all", "session.end_all", None),
]


async def test_isolation_and_scopes(m: Manage, other: Manage) -> None:
    await admin.create_user(m.rt, m.app_id, "iso", "pw", "Premium", days=5)
    await admin.create_device(m.rt, m.app_id, "processor", "ISO", "Premium", days=5)
    narrow = await m.make_token(["app:read"])
    before = await m.snapshot()
    for method, path, capability, body in ROUTES:
        foreign = await other.call(method, app_path(m, path), json_body=body)
        assert_error(foreign, 404, "APP_NOT_FOUND")
        denied = await m.call(method, app_path(m, path), json_body=body, token=narrow)
        body_out = assert_error(denied, 403, "PERMISSION_DENIED")
        assert capability in body_out["message"], (path, body_out)
    assert await m.snapshot() == before
    async with m.rt.db.read() as conn:
        count = (
            await conn.execute(
                select(func.count()).select_from(devices).where(devices.c.app_id == m.app_id)
            )
        ).scalar_one()
    assert count == 1


@pytest.mark.parametrize("path", ["/users/x/extend", "/devices/processor/x/extend"])
async def test_not_found_on_shift(m: Manage, path: str) -> None:
    code = "USER_NOT_FOUND" if path.startswith("/users") else "DEVICE_NOT_FOUND"
    assert_error(await m.post(app_path(m, path), {"days": 1}), 404, code)
