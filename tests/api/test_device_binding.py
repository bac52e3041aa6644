"""Device binding (2.0.3) and the SID requirement under `hwid_lock` (0.16 step 13)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from licentia.services import admin_rules
from tests.api.conftest import Api, expect_error, expect_ok


def login_body(
    session: str, sid: str | None, username: str = "mara", password: str = "pw"
) -> dict[str, Any]:
    body = {"session_id": session, "username": username, "password": password}
    if sid is not None:
        body["sid"] = sid
    return body


def license_body(session: str, key: str, sid: str | None) -> dict[str, Any]:
    body = {"session_id": session, "license_key": key}
    if sid is not None:
        body["sid"] = sid
    return body


async def test_user_device_limit(api: Api) -> None:
    await api.user("mara", "pw")
    session = await api.init()
    body = expect_ok(await api.post("login", login_body(session, "SID-A")), "login")
    assert (body["user"]["device_limit"], body["user"]["current_devices"]) == (1, 1)
    expect_error(await api.post("login", login_body(session, "SID-B")), "DEVICE_LIMIT_REACHED")
    for same in ("SID-A", "sid-a", " SID-A\t"):  # compared case-insensitively, trimmed
        assert (
            expect_ok(await api.post("login", login_body(session, same)), "login")["user"][
                "current_devices"
            ]
            == 1
        )
    # The failed binding left the session's identity alone.
    assert (await api.post("validate-session", {"session_id": session})).json()[
        "identity_type"
    ] == "user"


async def test_license_device_limit(api: Api) -> None:
    key = await api.key()
    await api.activate(key, sid="SID-A")
    session = await api.init()
    expect_error(
        await api.post("licenses", license_body(session, key, "SID-B")), "DEVICE_LIMIT_REACHED"
    )
    expect_ok(await api.post("licenses", license_body(session, key, "sid-A")), "licenses")


async def test_registered_sid_is_the_first_binding(api: Api) -> None:
    await api.register("mara", "pw", sid="SID-REG")
    session = await api.init()
    expect_error(await api.post("login", login_body(session, "SID-OTHER")), "DEVICE_LIMIT_REACHED")
    expect_ok(await api.post("login", login_body(session, "SID-REG")), "login")


async def test_limit_of_two(api: Api) -> None:
    await api.user("mara", "pw", device_limit=2)
    session = await api.init()
    for sid, count in (("S1", 1), ("S2", 2), ("S1", 2)):
        assert (
            expect_ok(await api.post("login", login_body(session, sid)), "login")["user"][
                "current_devices"
            ]
            == count
        )
    expect_error(await api.post("login", login_body(session, "S3")), "DEVICE_LIMIT_REACHED")


async def test_limit_zero_is_unlimited(api: Api) -> None:
    key = await api.key(device_limit=0)
    for index in range(5):
        _, body = await api.activate(key, sid=f"SID-{index}")
        assert (body["license"]["device_limit"], body["license"]["current_devices"]) == (
            0,
            index + 1,
        )
    await api.user("mara", "pw", device_limit=0)
    session = await api.init()
    for index in range(3):
        expect_ok(await api.post("login", login_body(session, f"U-{index}")), "login")


async def test_hwid_lock_off_binds_nothing(api: Api) -> None:
    await api.set("hwid_lock", False)
    key = await api.key()
    await api.user("mara", "pw")
    session = await api.init()
    body = expect_ok(await api.post("licenses", license_body(session, key, None)), "licenses")
    assert (body["sid"], body["license"]["current_devices"]) == ("", 0)
    for sid in ("SID-A", "SID-B"):
        body = expect_ok(await api.post("licenses", license_body(session, key, sid)), "licenses")
        assert (body["sid"], body["license"]["current_devices"]) == (sid, 0)  # only recorded
        body = expect_ok(await api.post("login", login_body(session, sid)), "login")
        assert (body["sid"], body["user"]["current_devices"]) == (sid, 0)
    expect_ok(await api.post("login", login_body(session, None)), "login")
    # Turned back on: nothing was bound, so the first SID now binds and the limit holds.
    await api.set("hwid_lock", True)
    assert (
        expect_ok(await api.post("licenses", license_body(session, key, "SID-C")), "licenses")[
            "license"
        ]["current_devices"]
        == 1
    )
    expect_error(
        await api.post("licenses", license_body(session, key, "SID-A")), "DEVICE_LIMIT_REACHED"
    )


@pytest.mark.parametrize("endpoint", ["login", "licenses", "license-login"])
async def test_sid_required_under_hwid_lock(api: Api, endpoint: str) -> None:
    await api.user("mara", "pw")
    key = await api.key()
    session = await api.init()
    body = login_body(session, None) if endpoint == "login" else license_body(session, key, None)
    expect_error(await api.post(endpoint, body), "MISSING_FIELDS", fields=["sid"])
    expect_error(
        await api.post(endpoint, {**body, "sid": " ", "hwid": ""}), "MISSING_FIELDS", fields=["sid"]
    )
    expect_ok(await api.post(endpoint, {**body, "hwid": "HW-1"}), endpoint)


@pytest.mark.parametrize("endpoint", ["register", "extend", "device-auth"])
async def test_sid_not_required_elsewhere(api: Api, endpoint: str) -> None:
    await api.register("mara", "pw")
    await api.device("processor", "CPU-B")
    session = await api.init()
    bodies = {
        "register": {"username": "tom", "password": "pw", "key": await api.key()},
        "extend": {"username": "mara", "license_key": await api.key()},
        "device-auth": {"device_type": "processor", "device_id": "CPU-B"},
    }
    expect_ok(await api.post(endpoint, {"session_id": session, **bodies[endpoint]}), endpoint)


async def test_sid_requirement_precedence(api: Api) -> None:
    await api.user("mara", "pw")
    session = await api.init()
    # Step 8 reports only the always-required fields.
    expect_error(
        await api.post("login", {"session_id": session, "password": "pw"}),
        "MISSING_FIELDS",
        fields=["username"],
    )
    # Step 13 comes after the session check (10) and the app state (12) ...
    expect_error(await api.post("login", login_body("0" * 64, None)), "INVALID_SESSION")
    await admin_rules.add_ip_rule(api.rt, api.app_id, "203.0.113.24", "deny")
    # ... and before the network rules (14).
    expect_error(
        await api.post("login", login_body(session, None)), "MISSING_FIELDS", fields=["sid"]
    )
    await api.set("is_enabled", False)
    expect_error(await api.post("login", login_body(session, None)), "APP_DISABLED")


async def test_binding_is_atomic(api: Api) -> None:
    key = await api.key()
    sessions = [await api.init() for _ in range(4)]
    results = await asyncio.gather(
        *(api.post("licenses", license_body(s, key, f"RACE-{i}")) for i, s in enumerate(sessions))
    )
    codes = sorted(r.json()["code"] for r in results)
    assert codes == ["DEVICE_LIMIT_REACHED"] * 3 + ["OK"]


async def test_binding_is_atomic_for_users(api: Api) -> None:
    await api.user("mara", "pw", device_limit=2)
    sessions = [await api.init() for _ in range(5)]
    results = await asyncio.gather(
        *(api.post("login", login_body(s, f"RACE-{i}")) for i, s in enumerate(sessions))
    )
    codes = sorted(r.json()["code"] for r in results)
    assert codes == ["DEVICE_LIMIT_REACHED"] * 3 + ["OK"] * 2
