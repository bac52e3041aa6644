"""`licenses` / `license-login` (2.3) and license expiry (2.0.5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from licentia.services import admin_apps, admin_licenses
from tests.api.conftest import ROOT_COPY, Api, check_profile, expect_error, expect_ok, iso


def body_of(session: str, key: str, sid: str = "SID-L") -> dict[str, Any]:
    return {"session_id": session, "license_key": key, "sid": sid}


@pytest.mark.parametrize("endpoint", ["licenses", "license-login"])
async def test_success_shape_lifetime_key(api: Api, endpoint: str) -> None:
    await admin_apps.create_subscription(api.rt, api.app_id, "Default", 1)
    created = api.clock.now
    await admin_licenses.add_license(
        api.rt, api.app_id, "P3WX9-LM2QD-8RTZC", "Default", lifetime=True, email="buyer@example.com"
    )
    api.clock.advance(3600)
    activated = api.clock.now
    session = await api.init()
    body = expect_ok(await api.post(endpoint, body_of(session, "P3WX9-LM2QD-8RTZC")), endpoint)
    lic = check_profile(body, "license")
    assert body["session_id"] == session
    assert lic == {
        "created_at": iso(created),
        "current_devices": 1,
        "days_left": 36500,
        "device_limit": 1,
        "email": "buyer@example.com",
        "expiry_date": "9999-12-31T23:59:59Z",
        "hwid": "SID-L",
        "ip_address": "203.0.113.24",
        "last_login": iso(activated),
        "license_key": "P3WX9-LM2QD-8RTZC",
        "lifetime": True,
        "registered_at": iso(activated),
        "sid": "SID-L",
        "subscription": "Default",
        "subscription_level": 1,
        "subscription_name": "Default",
    }
    assert body["username"] == body["license_key"] == "P3WX9-LM2QD-8RTZC"
    expected = {"code", "message", "success", "session_id", "license"} | ROOT_COPY
    assert set(body) == expected


async def test_duration_starts_at_first_use(api: Api) -> None:
    key = await api.key(days=30)
    api.clock.advance(5 * 86400)  # unused time is not lost
    first_use = api.clock.now
    _, body = await api.activate(key)
    assert body["expiry_date"] == iso(first_use + timedelta(days=30))
    assert body["days_left"] == 30
    api.clock.advance(10 * 86400 + 60)
    _, body = await api.activate(key)
    assert body["expiry_date"] == iso(first_use + timedelta(days=30))
    assert (body["days_left"], body["registered_at"], body["last_login"]) == (
        20,
        iso(first_use),
        iso(api.clock.now),
    )


async def test_fixed_date_key(api: Api) -> None:
    until = api.clock.now + timedelta(days=3, hours=5)
    key = await api.key(expires=until)
    _, body = await api.activate(key)
    assert (body["expiry_date"], body["days_left"], body["lifetime"]) == (iso(until), 4, False)


@pytest.mark.parametrize(
    "transform",
    [str.lower, lambda k: k + "X", lambda k: " " + k[:-1]],
    ids=["lower-case", "suffix", "prefix"],
)
async def test_license_not_found(api: Api, transform: Any) -> None:
    key = await api.key()
    session = await api.init()
    expect_error(await api.post("licenses", body_of(session, transform(key))), "LICENSE_NOT_FOUND")


async def test_key_of_another_app_is_not_found(api: Api) -> None:
    other = await api.other_world()
    key = await other.key()
    session = await api.init()
    expect_error(await api.post("licenses", body_of(session, key)), "LICENSE_NOT_FOUND")


async def test_key_is_trimmed(api: Api) -> None:
    key = await api.key()
    session = await api.init()
    expect_ok(await api.post("licenses", body_of(session, f"\t{key} ")), "licenses")


@pytest.mark.parametrize(
    ("states", "code"),
    [
        (["ban"], "LICENSE_BANNED"),
        (["pause"], "LICENSE_PAUSED"),
        (["expire"], "LICENSE_EXPIRED"),
        (["use"], "LICENSE_IN_USE"),
        (["use", "ban", "pause"], "LICENSE_BANNED"),
        (["use", "pause"], "LICENSE_PAUSED"),
    ],
    ids=[
        "banned",
        "paused",
        "expired-fixed-date",
        "redeemed",
        "banned-first",
        "paused-before-in-use",
    ],
)
async def test_key_states(api: Api, states: list[str], code: str) -> None:
    key = await api.key(expires=api.clock.now + timedelta(days=1))
    if "use" in states:
        await api.register("mara", "pw", key=key, sid="SID-L")
    if "ban" in states:
        await admin_licenses.ban_license(api.rt, api.app_id, key)
    if "pause" in states:
        await admin_licenses.pause_license(api.rt, api.app_id, key)
    if "expire" in states:
        api.clock.advance(86400)
    session = await api.init()
    expect_error(await api.post("licenses", body_of(session, key)), code)


async def test_active_key_expires(api: Api) -> None:
    key = await api.key(days=1)
    await api.activate(key)
    api.clock.advance(86400 - 1)
    await api.activate(key)
    api.clock.advance(1)
    session = await api.init()
    expect_error(await api.post("licenses", body_of(session, key)), "LICENSE_EXPIRED")


async def test_key_consumed_by_extend_is_in_use(api: Api) -> None:
    await api.register("mara", "pw")
    key = await api.key(days=5)
    session = await api.init()
    r = await api.post("extend", {"session_id": session, "username": "mara", "license_key": key})
    expect_ok(r, "extend")
    expect_error(await api.post("licenses", body_of(session, key)), "LICENSE_IN_USE")


async def test_unbanned_key_works_again(api: Api) -> None:
    key = await api.key()
    await admin_licenses.ban_license(api.rt, api.app_id, key)
    await admin_licenses.unban_license(api.rt, api.app_id, key)
    await api.activate(key)


async def test_subscription_and_device_limit_of_the_key(api: Api) -> None:
    await admin_apps.create_subscription(api.rt, api.app_id, "Gold", 7)
    key = await api.key(subscription="Gold", lifetime=True, device_limit=3)
    _, body = await api.activate(key)
    assert (body["subscription"], body["subscription_level"]) == ("Gold", 7)
    assert (body["license"]["device_limit"], body["license"]["current_devices"]) == (3, 1)
