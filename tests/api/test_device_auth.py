"""`device-auth` (2.7): login by a vendor-registered hardware id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from licentia.services import admin_apps, admin_identities
from tests.api.conftest import Api, check_profile, expect_error, expect_ok, iso


def body_of(
    session: str, device_type: str = "motherboard", device_id: str = "PDPCF001X4YJ2Q", **extra: Any
) -> dict[str, Any]:
    return {"session_id": session, "device_type": device_type, "device_id": device_id, **extra}


async def test_success_shape(api: Api) -> None:
    await admin_apps.create_subscription(api.rt, api.app_id, "Default", 1)
    created = api.clock.now
    until = created + timedelta(days=171)
    await api.device(
        "motherboard", "PDPCF001X4YJ2Q", subscription_name="Default", expires=until, name="My PC"
    )
    api.clock.advance(3600)
    first = api.clock.now
    session = await api.init()
    r = await api.post(
        "device-auth", body_of(session, "MotherBoard", "pdpcf001x4yj2q", sid="S-1-5-21-1013")
    )
    body = expect_ok(r, "device-auth")
    device = check_profile(body, "device")
    assert body["session_id"] == session
    assert device == {
        "activated": True,
        "created_at": iso(created),
        "days_left": 171,
        "device_id": "PDPCF001X4YJ2Q",
        "device_type": "motherboard",
        "email": "",
        "expiry_date": iso(until),
        "hwid": "S-1-5-21-1013",
        "ip_address": "203.0.113.24",
        "last_login": iso(first),
        "lifetime": False,
        "name": "My PC",
        "registered_at": iso(first),
        "sid": "S-1-5-21-1013",
        "subscription": "Default",
        "subscription_level": 1,
        "subscription_name": "Default",
    }
    assert (body["username"], body["license_key"]) == ("PDPCF001X4YJ2Q", "")
    # A later use without a SID: the stored hwid, the first activation time.
    api.clock.advance(600)
    body = expect_ok(await api.post("device-auth", body_of(session)), "device-auth")
    assert (body["sid"], body["registered_at"], body["last_login"]) == (
        "S-1-5-21-1013",
        iso(first),
        iso(api.clock.now),
    )


async def test_lifetime_device_with_email(api: Api) -> None:
    await api.device("processor", "CPU-1", email="owner@example.com")
    session = await api.init()
    body = expect_ok(
        await api.post("device-auth", body_of(session, " PROCESSOR ", " cpu-1 ")), "device-auth"
    )
    assert (body["lifetime"], body["email"], body["sid"]) == (True, "owner@example.com", "")
    assert body["device"]["device_type"] == "processor"


@pytest.mark.parametrize("kind", ["motherboard", "processor"])
@pytest.mark.parametrize(
    "state",
    [
        "not_found",
        "wrong_type",
        "banned",
        "paused",
        "expired",
        "banned_paused_expired",
        "paused_expired",
    ],
)
async def test_device_codes(api: Api, kind: str, state: str) -> None:
    prefix = kind.upper()
    other = "processor" if kind == "motherboard" else "motherboard"
    await api.device(other if state == "wrong_type" else kind, "DEV-1", days=1)
    if "banned" in state:
        await admin_identities.ban_device(
            api.rt, api.app_id, other if state == "wrong_type" else kind, "DEV-1"
        )
    if "paused" in state:
        await admin_identities.pause_device(api.rt, api.app_id, kind, "DEV-1")
    if "expired" in state:
        api.clock.advance(86400)
    session = await api.init()
    device_id = "DEV-2" if state == "not_found" else "DEV-1"
    expected = {
        "not_found": "NOT_FOUND",
        "wrong_type": "NOT_FOUND",
        "banned": "BANNED",
        "paused": "PAUSED",
        "expired": "EXPIRED",
        "banned_paused_expired": "BANNED",
        "paused_expired": "PAUSED",
    }[state]
    expect_error(
        await api.post("device-auth", body_of(session, kind, device_id)), f"{prefix}_{expected}"
    )


@pytest.mark.parametrize("device_type", ["gpu", "mother board", "motherboards", "proc", "0"])
async def test_invalid_device_type(api: Api, device_type: str) -> None:
    session = await api.init()
    expect_error(
        await api.post("device-auth", body_of(session, device_type)), "INVALID_DEVICE_TYPE"
    )


async def test_device_type_precedence(api: Api) -> None:
    session = await api.init()
    # After MISSING_FIELDS and INVALID_INPUT (step 9), before the session check (step 10).
    r = await api.post("device-auth", {"session_id": session, "device_type": "gpu"})
    expect_error(r, "MISSING_FIELDS", fields=["device_id"])
    expect_error(
        await api.post("device-auth", body_of(session, "gpu", "a<b")),
        "INVALID_INPUT",
        fields=["device_id"],
    )
    expect_error(await api.post("device-auth", body_of("0" * 64, "gpu")), "INVALID_DEVICE_TYPE")


async def test_no_device_limit(api: Api) -> None:
    await api.device("processor", "CPU-1")
    for index in range(3):
        session = await api.init()
        body = body_of(session, "processor", "CPU-1", sid=f"SID-{index}")
        assert (
            expect_ok(await api.post("device-auth", body), "device-auth")["sid"] == f"SID-{index}"
        )


async def test_device_of_another_app(api: Api) -> None:
    other = await api.other_world()
    await other.device("processor", "CPU-X")
    session = await api.init()
    expect_error(
        await api.post("device-auth", body_of(session, "processor", "CPU-X")), "PROCESSOR_NOT_FOUND"
    )
