"""`login` (2.2): profile, lookups, credential, user state, auth events (2.0.6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from licentia.services import admin_identities
from licentia.store.tables import auth_events
from tests.api.conftest import ROOT_COPY, Api, check_profile, expect_error, expect_ok, iso


def login_body(
    session: str, username: str = "mara", password: str = "pw-mara", sid: str = "SID-A"
) -> dict[str, Any]:
    return {"session_id": session, "username": username, "password": password, "sid": sid}


async def test_success_shape(api: Api) -> None:
    registered = api.clock.now
    _, key, _ = await api.register("mara", "pw-mara", email="mara@example.com", sid="S-1-5-21-1013")
    api.clock.advance(timedelta(days=13, hours=1).total_seconds())
    session = await api.init()
    r = await api.post("login", {**login_body(session, sid="S-1-5-21-1013"), "ip": "198.51.100.3"})
    body = expect_ok(r, "login")
    user = check_profile(body, "user")
    assert body["session_id"] == session
    assert user == {
        "created_at": iso(registered),
        "current_devices": 1,
        "days_left": 17,
        "device_limit": 1,
        "email": "mara@example.com",
        "expiry_date": iso(registered + timedelta(days=30)),
        "hwid": "S-1-5-21-1013",
        "ip_address": "203.0.113.24",
        "last_login": iso(api.clock.now),
        "lifetime": False,
        "linked_license_key": key,
        "registered_at": iso(registered),
        "sid": "S-1-5-21-1013",
        "subscription": "Premium",
        "subscription_level": 2,
        "subscription_name": "Premium",
        "username": "mara",
    }
    expected_keys = {"code", "message", "success", "session_id", "user"} | ROOT_COPY
    assert set(body) == expected_keys


async def test_days_left_rounds_up(api: Api) -> None:
    await api.register()
    api.clock.advance(timedelta(days=29, hours=1).total_seconds())  # 23 hours left
    session = await api.init()
    body = expect_ok(await api.post("login", login_body(session)), "login")
    assert body["days_left"] == body["user"]["days_left"] == 1


async def test_lifetime_user(api: Api) -> None:
    await api.user("vip", "pw")
    session = await api.init()
    body = expect_ok(await api.post("login", login_body(session, "vip", "pw")), "login")
    user = check_profile(body, "user")
    assert (user["expiry_date"], user["lifetime"], user["days_left"]) == (
        "9999-12-31T23:59:59Z",
        True,
        36500,
    )
    assert (user["linked_license_key"], body["license_key"], user["email"]) == ("", "", "")


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("mara", "MARA"),
        ("Mara", "mARA"),
        ("Straße", "STRASSE"),
        ("ΣΊΣΥΦΟΣ", "σίσυφος"),
        ("mara", " mara\t"),
    ],
    ids=["upper", "mixed", "sharp-s-casefold", "greek-sigma", "trimmed"],
)
async def test_username_is_case_insensitive(api: Api, stored: str, typed: str) -> None:
    await api.user(stored, "pw")
    session = await api.init()
    body = expect_ok(await api.post("login", login_body(session, typed, "pw")), "login")
    assert body["username"] == stored


async def test_user_not_found(api: Api) -> None:
    await api.user("mara", "pw")
    session = await api.init()
    expect_error(await api.post("login", login_body(session, "marah", "pw")), "USER_NOT_FOUND")
    other = await api.other_world()
    await other.user("tom", "pw")
    expect_error(await api.post("login", login_body(session, "tom", "pw")), "USER_NOT_FOUND")


@pytest.mark.parametrize("password", ["PW", "pw ", " pw", "p", "pw\n"])
async def test_invalid_password(api: Api, password: str) -> None:
    await api.user("mara", "pw")
    session = await api.init()
    expect_error(await api.post("login", login_body(session, "mara", password)), "INVALID_PASSWORD")


@pytest.mark.parametrize(
    ("states", "code"),
    [
        (["ban"], "USER_BANNED"),
        (["pause"], "USER_SUSPENDED"),
        (["expire"], "USER_EXPIRED"),
        (["ban", "pause", "expire"], "USER_BANNED"),
        (["pause", "expire"], "USER_SUSPENDED"),
    ],
    ids=["banned", "paused", "expired", "banned-first", "paused-before-expired"],
)
async def test_user_state(api: Api, states: list[str], code: str) -> None:
    await api.user("mara", "pw", days=1)
    if "ban" in states:
        await admin_identities.ban_user(api.rt, api.app_id, "mara")
    if "pause" in states:
        await admin_identities.pause_user(api.rt, api.app_id, "mara")
    if "expire" in states:
        api.clock.advance(86400)
    session = await api.init()
    expect_error(await api.post("login", login_body(session, "mara", "pw")), code)
    # The credential comes first (step 17 before 18).
    expect_error(await api.post("login", login_body(session, "mara", "nope")), "INVALID_PASSWORD")


async def test_unpaused_user_logs_in_again(api: Api) -> None:
    await api.user("mara", "pw")
    await admin_identities.pause_user(api.rt, api.app_id, "mara")
    await admin_identities.unpause_user(api.rt, api.app_id, "mara")
    await api.login("mara", "pw")


async def test_failed_login_keeps_the_identity(api: Api) -> None:
    await api.user("mara", "pw")
    await api.user("tom", "pw2")
    session = await api.login("mara", "pw", sid="S1")
    expect_error(
        await api.post("login", login_body(session, "tom", "bad", "S1")), "INVALID_PASSWORD"
    )
    body = expect_ok(
        await api.post("validate-session", {"session_id": session}), "validate-session"
    )
    assert body["username"] == "mara"


async def test_sid_falls_back_to_the_last_one_used(api: Api) -> None:
    await api.set("hwid_lock", False)
    await api.user("mara", "pw")
    session = await api.init()
    assert (
        expect_ok(
            await api.post("login", {"session_id": session, "username": "mara", "password": "pw"}),
            "login",
        )["sid"]
        == ""
    )
    await api.login("mara", "pw", sid="LAST-SID")
    body = expect_ok(
        await api.post("login", {"session_id": session, "username": "mara", "password": "pw"}),
        "login",
    )
    assert (body["sid"], body["hwid"], body["user"]["sid"]) == ("LAST-SID", "LAST-SID", "LAST-SID")


async def test_last_login_moves(api: Api) -> None:
    await api.user("mara", "pw")
    session = await api.login("mara", "pw")
    api.clock.advance(120)
    body = expect_ok(await api.post("login", login_body(session, "mara", "pw")), "login")
    assert body["last_login"] == iso(api.clock.now)


# -- auth events (2.0.6) -----------------------------------------------------------------


async def events(api: Api) -> list[Any]:
    async with api.rt.db.read() as conn:
        query = (
            select(auth_events).where(auth_events.c.app_id == api.app_id).order_by(auth_events.c.id)
        )
        return list((await conn.execute(query)).all())


async def test_auth_events_never_hold_a_password(api: Api) -> None:
    await api.user("mara", "secret-password-1")
    session = await api.init()
    await api.post("login", login_body(session, "mara", "wrong-password-2", "SID-E"))
    await api.login("mara", "secret-password-1", sid="SID-E", session=session)
    rows = await events(api)
    assert [(r.endpoint, r.code) for r in rows] == [
        ("init", "OK"),
        ("login", "INVALID_PASSWORD"),
        ("login", "OK"),
    ]
    failed = rows[1]
    assert (failed.identity, failed.sid, failed.client_ip, failed.client_version) == (
        "mara",
        "SID-E",
        "203.0.113.24",
        "1.0.0",
    )
    for row in rows:
        assert "password" not in " ".join(str(v) for v in row._mapping.values())


async def test_auth_event_written_from_step_8_only(api: Api) -> None:
    session = await api.init()
    stamp = int(api.clock.now.timestamp() * 1000) - 10**6
    expect_error(
        await api.post("login", {**login_body(session), "timestamp": stamp}), "REQUEST_EXPIRED"
    )
    assert len(await events(api)) == 1  # the init only
    expect_error(
        await api.post("login", {"session_id": session, "username": "mara"}), "MISSING_FIELDS"
    )
    expect_error(await api.post("login", login_body(session, "ghost")), "USER_NOT_FOUND")
    expect_ok(await api.post("validate-session", {"session_id": session}), "validate-session")
    rows = await events(api)
    assert rows[-1].code == "USER_NOT_FOUND" and rows[-1].identity == "ghost"
    assert "REQUEST_EXPIRED" not in [r.code for r in rows]
    assert "validate-session" not in [r.endpoint for r in rows]
