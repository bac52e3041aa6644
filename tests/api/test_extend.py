"""`extend` (2.5): applying an unused key's time to an existing account."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from licentia.services import admin_apps, admin_identities, admin_licenses
from tests.api.conftest import Api, check_profile, expect_error, expect_ok, iso

DAY = 86400
LIFETIME_SECONDS = 3153600000


def body_of(session: str, key: str, username: str = "mara", **extra: Any) -> dict[str, Any]:
    return {"session_id": session, "username": username, "license_key": key, **extra}


async def test_success_shape(api: Api) -> None:
    t0 = api.clock.now
    _, first_key, _ = await api.register("mara", sid="SID-A", email="mara@example.com")
    api.clock.advance(5 * DAY)
    key = await api.key(days=10)
    session = await api.init()
    body = expect_ok(await api.post("extend", body_of(session, key)), "extend")
    user = check_profile({k: v for k, v in body.items() if k != "license"}, "user")
    assert "session_id" not in body
    new_expiry = iso(t0 + timedelta(days=40))
    assert user == {
        "created_at": iso(t0),
        "current_devices": 1,
        "days_left": 35,
        "device_limit": 1,
        "email": "mara@example.com",
        "expiry_date": new_expiry,
        "hwid": "SID-A",
        "ip_address": "203.0.113.24",
        "last_login": iso(t0),
        "lifetime": False,
        "linked_license_key": first_key,
        "registered_at": iso(t0),
        "sid": "SID-A",
        "subscription": "Premium",
        "subscription_level": 2,
        "subscription_name": "Premium",
        "username": "mara",
    }
    assert body["license"] == {
        "days_left": 35,
        "expiry_date": new_expiry,
        "license_key": key,
        "lifetime": False,
        "subscription": "Premium",
        "subscription_level": 2,
        "subscription_name": "Premium",
    }
    assert body["time_added_seconds"] == 10 * DAY
    assert body["license_key"] == first_key
    assert (await admin_licenses.get_license(api.rt, api.app_id, key)).status == "used"


async def test_expired_user_extends_from_now(api: Api) -> None:
    await api.register("mara")
    api.clock.advance(40 * DAY)
    session = await api.init()
    body = expect_ok(await api.post("extend", body_of(session, await api.key(days=10))), "extend")
    assert body["expiry_date"] == iso(api.clock.now + timedelta(days=10))
    assert body["time_added_seconds"] == 10 * DAY
    await api.login("mara")  # no longer expired


async def test_lifetime_key_makes_the_account_lifetime(api: Api) -> None:
    await api.register("mara")
    session = await api.init()
    body = expect_ok(
        await api.post("extend", body_of(session, await api.key(lifetime=True))), "extend"
    )
    assert body["time_added_seconds"] == LIFETIME_SECONDS
    assert (body["expiry_date"], body["lifetime"], body["days_left"]) == (
        "9999-12-31T23:59:59Z",
        True,
        36500,
    )
    assert (
        body["license"]["lifetime"] is True
        and body["license"]["expiry_date"] == "9999-12-31T23:59:59Z"
    )


async def test_lifetime_account_stays_lifetime(api: Api) -> None:
    await api.register("mara", key=await api.key(lifetime=True))
    key = await api.key(days=10)
    session = await api.init()
    body = expect_ok(await api.post("extend", body_of(session, key)), "extend")
    assert (body["time_added_seconds"], body["lifetime"]) == (0, True)
    assert (await admin_licenses.get_license(api.rt, api.app_id, key)).status == "used"


@pytest.mark.parametrize(
    ("left", "added"),
    [(2 * DAY + 0.7, 2 * DAY), (1.0, 1), (3600.999, 3600)],
    ids=["days", "one-second", "rounded-down"],
)
async def test_fixed_date_key_adds_the_time_left(api: Api, left: float, added: int) -> None:
    await api.register("mara")
    base = api.clock.now + timedelta(days=30)
    key = await api.key(expires=api.clock.now + timedelta(seconds=left + 50))
    api.clock.advance(50)
    session = await api.init()
    body = expect_ok(await api.post("extend", body_of(session, key)), "extend")
    assert body["time_added_seconds"] == added
    assert body["expiry_date"] == iso(base + timedelta(seconds=added))


async def test_invalid_duration(api: Api) -> None:
    await api.register("mara")
    key = await api.key(expires=api.clock.now + timedelta(seconds=10))
    api.clock.advance(9.5)
    session = await api.init()
    expect_error(await api.post("extend", body_of(session, key)), "INVALID_DURATION")
    assert (await admin_licenses.get_license(api.rt, api.app_id, key)).status == "unused"
    api.clock.advance(0.5)
    expect_error(await api.post("extend", body_of(session, key)), "LICENSE_EXPIRED")


async def test_user_and_key_lookups(api: Api) -> None:
    await api.register("mara")
    key = await api.key()
    session = await api.init()
    expect_error(await api.post("extend", body_of(session, "NOPE", "nobody")), "USER_NOT_FOUND")
    expect_error(await api.post("extend", body_of(session, key, "nobody")), "USER_NOT_FOUND")
    expect_error(
        await api.post("extend", body_of(session, key.lower(), "mara")), "LICENSE_NOT_FOUND"
    )
    expect_ok(await api.post("extend", body_of(session, key, " MARA ")), "extend")


@pytest.mark.parametrize(
    ("user_state", "key_state", "code"),
    [
        ("ban", None, "USER_BANNED"),
        ("pause", None, "USER_SUSPENDED"),
        (None, "ban", "LICENSE_BANNED"),
        (None, "pause", "LICENSE_PAUSED"),
        (None, "expire", "LICENSE_EXPIRED"),
        (None, "use", "LICENSE_IN_USE"),
        (None, "activate", "LICENSE_IN_USE"),
        ("ban", "ban", "USER_BANNED"),
        ("pause", "use", "USER_SUSPENDED"),
        (None, "ban-used", "LICENSE_BANNED"),
    ],
)
async def test_states(api: Api, user_state: str | None, key_state: str | None, code: str) -> None:
    await api.register("mara")
    key = await api.key(expires=api.clock.now + timedelta(days=2))
    if key_state in ("use", "ban-used"):
        await api.register("other", key=key, sid="SID-O")
    if key_state == "activate":
        await api.activate(key, sid="SID-O")
    if key_state in ("ban", "ban-used"):
        await admin_licenses.ban_license(api.rt, api.app_id, key)
    if key_state == "pause":
        await admin_licenses.pause_license(api.rt, api.app_id, key)
    if key_state == "expire":
        api.clock.advance(2 * DAY)
    if user_state == "ban":
        await admin_identities.ban_user(api.rt, api.app_id, "mara")
    if user_state == "pause":
        await admin_identities.pause_user(api.rt, api.app_id, "mara")
    session = await api.init()
    expect_error(await api.post("extend", body_of(session, key)), code)


async def test_subscription_changes_but_limits_and_link_do_not(api: Api) -> None:
    await admin_apps.create_subscription(api.rt, api.app_id, "Gold", 5)
    _, first_key, _ = await api.register("mara")
    key = await api.key(days=3, subscription="Gold", device_limit=9)
    session = await api.init()
    body = expect_ok(await api.post("extend", body_of(session, key)), "extend")
    assert (body["subscription"], body["subscription_level"], body["license"]["subscription"]) == (
        "Gold",
        5,
        "Gold",
    )
    assert (body["user"]["device_limit"], body["user"]["linked_license_key"]) == (1, first_key)


async def test_extend_keeps_the_session_identity(api: Api) -> None:
    await api.register("mara")
    session, _ = await api.activate(await api.key(), sid="SID-Q")
    expect_ok(await api.post("extend", body_of(session, await api.key())), "extend")
    r = await api.post("validate-session", {"session_id": session})
    assert r.json()["identity_type"] == "license"
    plain = await api.init()
    expect_ok(await api.post("extend", body_of(plain, await api.key())), "extend")
    assert (await api.post("validate-session", {"session_id": plain})).json()[
        "identity_type"
    ] == "none"


async def test_sid_is_checked_but_not_bound(api: Api) -> None:
    await api.register("mara", sid="SID-A")
    session = await api.init()
    body = expect_ok(
        await api.post("extend", body_of(session, await api.key(), sid="SID-NEW")), "extend"
    )
    assert (body["sid"], body["user"]["current_devices"]) == ("SID-NEW", 1)
    r = await api.post(
        "login",
        {"session_id": session, "username": "mara", "password": "pw-mara", "sid": "SID-NEW"},
    )
    expect_error(r, "DEVICE_LIMIT_REACHED")


async def test_extend_is_not_a_login(api: Api) -> None:
    t0 = api.clock.now
    await api.register("mara")
    api.clock.advance(DAY)
    session = await api.init()
    body = expect_ok(await api.post("extend", body_of(session, await api.key())), "extend")
    assert body["last_login"] == body["user"]["last_login"] == iso(t0)
    await api.login("mara", session=session)
    api.clock.advance(60)
    body = expect_ok(await api.post("extend", body_of(session, await api.key())), "extend")
    assert body["last_login"] == iso(api.clock.now - timedelta(seconds=60))
