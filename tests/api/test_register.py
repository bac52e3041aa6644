"""`register` (2.4): redeeming an unused key into a new user, atomically."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from licentia.services import admin_apps, admin_licenses
from tests.api.conftest import Api, check_profile, expect_error, expect_ok, iso


def body_of(session: str, key: str, username: str = "mara", **extra: Any) -> dict[str, Any]:
    return {"session_id": session, "username": username, "password": "pw-1", "key": key, **extra}


async def key_status(api: Api, key: str) -> str:
    return (await admin_licenses.get_license(api.rt, api.app_id, key)).status


async def test_success_shape(api: Api) -> None:
    key = await api.key(days=30)
    api.clock.advance(7200)
    session = await api.init()
    sid = "S-1-5-21-1004336348-1001"
    r = await api.post(
        "register", body_of(session, key, email="mara@example.com", sid=sid, ip="198.51.100.77")
    )
    body = expect_ok(r, "register")
    user = check_profile(body, "user")
    now = api.clock.now
    assert body["session_id"] == session
    assert user == {
        "created_at": iso(now),
        "current_devices": 1,
        "days_left": 30,
        "device_limit": 1,
        "email": "mara@example.com",
        "expiry_date": iso(now + timedelta(days=30)),
        "hwid": sid,
        "ip_address": "203.0.113.24",
        "last_login": iso(now),
        "lifetime": False,
        "linked_license_key": key,
        "registered_at": iso(now),
        "sid": sid,
        "subscription": "Premium",
        "subscription_level": 2,
        "subscription_name": "Premium",
        "username": "mara",
    }
    assert body["license_key"] == key
    assert await key_status(api, key) == "used"
    assert (await api.post("validate-session", {"session_id": session})).json()[
        "identity_type"
    ] == "user"
    await api.login("mara", "pw-1", sid=sid)


async def test_without_sid_nothing_is_bound(api: Api) -> None:
    session = await api.init()
    body = expect_ok(await api.post("register", body_of(session, await api.key())), "register")
    assert (body["sid"], body["hwid"], body["user"]["current_devices"]) == ("", "", 0)


@pytest.mark.parametrize("term", ["lifetime", "fixed", "days"])
async def test_user_term_comes_from_the_key(api: Api, term: str) -> None:
    await admin_apps.create_subscription(api.rt, api.app_id, "Gold", 9)
    until = api.clock.now + timedelta(days=3, hours=1)
    kwargs: dict[str, Any] = (
        {"lifetime": True}
        if term == "lifetime"
        else {"expires": until}
        if term == "fixed"
        else {"days": 7}
    )
    key = await api.key(subscription="Gold", device_limit=3, **kwargs)
    api.clock.advance(3600)
    _, _, body = await api.register(key=key)
    user = body["user"]
    expected = {
        "lifetime": "9999-12-31T23:59:59Z",
        "fixed": iso(until),
        "days": iso(api.clock.now + timedelta(days=7)),
    }
    assert user["expiry_date"] == expected[term]
    assert (user["subscription"], user["subscription_level"], user["device_limit"]) == (
        "Gold",
        9,
        3,
    )


@pytest.mark.parametrize(
    ("taken", "wanted"),
    [("mara", "mara"), ("mara", "MARA"), ("Straße", "STRASSE"), ("mara", "\tmara ")],
    ids=["same", "upper", "casefold", "trimmed"],
)
async def test_username_taken(api: Api, taken: str, wanted: str) -> None:
    await api.register(taken)
    key = await api.key()
    session = await api.init()
    expect_error(await api.post("register", body_of(session, key, wanted)), "USERNAME_TAKEN")
    assert await key_status(api, key) == "unused"  # the failed register left the key alone
    expect_ok(await api.post("register", body_of(session, key, "tom")), "register")


async def test_username_taken_by_a_vendor_created_user(api: Api) -> None:
    await api.user("admin-made", "pw")
    session = await api.init()
    expect_error(
        await api.post("register", body_of(session, await api.key(), "Admin-Made")),
        "USERNAME_TAKEN",
    )


async def test_same_username_in_another_app(api: Api) -> None:
    other = await api.other_world()
    await other.register("mara")
    await api.register("mara")


async def test_failed_register_leaves_key_and_user_untouched(api: Api) -> None:
    used_key = await api.key()
    await api.register("mara", key=used_key)
    session = await api.init()
    expect_error(await api.post("register", body_of(session, used_key, "tom")), "LICENSE_IN_USE")
    expect_error(
        await api.post(
            "login", {"session_id": session, "username": "tom", "password": "pw-1", "sid": "S"}
        ),
        "USER_NOT_FOUND",
    )
    fresh = await api.key()
    expect_error(
        await api.post("register", body_of(session, fresh, "tom", email="bad email")),
        "INVALID_INPUT",
    )
    await admin_licenses.pause_license(api.rt, api.app_id, fresh)
    expect_error(await api.post("register", body_of(session, fresh, "tom")), "LICENSE_PAUSED")
    assert await key_status(api, fresh) == "unused"
    await admin_licenses.unpause_license(api.rt, api.app_id, fresh)
    expect_ok(await api.post("register", body_of(session, fresh, "tom")), "register")


async def test_key_activated_by_licenses_is_in_use(api: Api) -> None:
    key = await api.key()
    await api.activate(key)
    session = await api.init()
    expect_error(await api.post("register", body_of(session, key)), "LICENSE_IN_USE")


@pytest.mark.parametrize(
    ("state", "code"),
    [
        ("ban", "LICENSE_BANNED"),
        ("pause", "LICENSE_PAUSED"),
        ("expire", "LICENSE_EXPIRED"),
        ("missing", "LICENSE_NOT_FOUND"),
    ],
)
async def test_key_state(api: Api, state: str, code: str) -> None:
    await api.register("mara")  # the username is taken too: the key is checked first
    key = await api.key(expires=api.clock.now + timedelta(hours=1))
    if state == "ban":
        await admin_licenses.ban_license(api.rt, api.app_id, key)
    elif state == "pause":
        await admin_licenses.pause_license(api.rt, api.app_id, key)
    elif state == "expire":
        api.clock.advance(3600)
    else:
        key = key.lower()
    session = await api.init()
    expect_error(await api.post("register", body_of(session, key, "mara")), code)


async def test_register_replaces_the_session_identity(api: Api) -> None:
    key = await api.key()
    session, _ = await api.activate(key)
    _, _, body = await api.register("mara", session=session)
    assert body["session_id"] == session
    r = await api.post("validate-session", {"session_id": session})
    assert (r.json()["identity_type"], r.json()["username"]) == ("user", "mara")


async def test_concurrent_registers_of_one_key(api: Api) -> None:
    key = await api.key()
    sessions = [await api.init() for _ in range(4)]
    results = await asyncio.gather(
        *(api.post("register", body_of(s, key, f"user{i}")) for i, s in enumerate(sessions))
    )
    codes = sorted(r.json()["code"] for r in results)
    assert codes == ["LICENSE_IN_USE"] * 3 + ["OK"]


async def test_concurrent_registers_of_one_username(api: Api) -> None:
    keys = [await api.key() for _ in range(3)]
    sessions = [await api.init() for _ in range(3)]
    results = await asyncio.gather(
        *(api.post("register", body_of(s, k, "mara")) for s, k in zip(sessions, keys, strict=True))
    )
    codes = sorted(r.json()["code"] for r in results)
    assert codes == ["OK", "USERNAME_TAKEN", "USERNAME_TAKEN"]
    assert sorted([await key_status(api, k) for k in keys]) == ["unused", "unused", "used"]
