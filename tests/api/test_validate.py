"""`validate-session` / `validate` (2.13): `valid:true` with the profile, `valid:false` on
every error."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.api.conftest import Api, check_profile, expect_error, expect_ok, iso, new_nonce

PATHS = ["validate-session", "validate"]


def invalid(response: Any, code: str) -> dict[str, Any]:
    body = expect_error(response, code)
    assert body["valid"] is False
    return body


@pytest.mark.parametrize("endpoint", PATHS)
async def test_session_without_identity(api: Api, endpoint: str) -> None:
    session = await api.init()
    api.clock.advance(100)
    body = expect_ok(await api.post(endpoint, {"session_id": session}), endpoint)
    assert body == {
        "code": "OK",
        "identity_type": "none",
        "message": "Session is valid",
        "session_expires_at": iso(api.clock.now + timedelta(seconds=3600)),
        "success": True,
        "valid": True,
    }


async def test_user_session(api: Api) -> None:
    session, key, _ = await api.register("mara", sid="SID-V")
    logged_in = api.clock.now
    api.clock.advance(100)
    body = expect_ok(
        await api.post("validate-session", {"session_id": session}), "validate-session"
    )
    user = check_profile(body, "user")
    assert (body["valid"], body["identity_type"], body["username"], body["license_key"]) == (
        True,
        "user",
        "mara",
        key,
    )
    assert (user["sid"], user["last_login"], user["ip_address"]) == (
        "SID-V",
        iso(logged_in),
        "203.0.113.24",
    )
    assert body["session_expires_at"] == iso(api.clock.now + timedelta(seconds=3600))
    assert "session_id" not in body


async def test_license_session(api: Api) -> None:
    key = await api.key(lifetime=True)
    session, _ = await api.activate(key, sid="SID-L")
    activated = api.clock.now
    api.clock.advance(100)
    body = expect_ok(await api.post("validate", {"session_id": session}), "validate")
    lic = check_profile(body, "license")
    assert (body["identity_type"], body["username"], lic["license_key"]) == ("license", key, key)
    assert (lic["sid"], lic["last_login"], lic["registered_at"], lic["lifetime"]) == (
        "SID-L",
        iso(activated),
        iso(activated),
        True,
    )


async def test_device_session(api: Api) -> None:
    await api.device("motherboard", "MB-V")
    session = await api.init()
    r = await api.post(
        "device-auth",
        {"session_id": session, "device_type": "motherboard", "device_id": "mb-v", "sid": "SID-D"},
    )
    expect_ok(r, "device-auth")
    body = expect_ok(
        await api.post("validate-session", {"session_id": session}), "validate-session"
    )
    device = check_profile(body, "device")
    assert (body["identity_type"], device["device_id"], device["sid"]) == (
        "device",
        "MB-V",
        "SID-D",
    )


async def test_sid_is_the_one_used_at_login_of_this_session(api: Api) -> None:
    await api.user("mara", "pw", device_limit=2)
    first = await api.login("mara", "pw", sid="SID-1")
    await api.login("mara", "pw", sid="SID-2")
    body = expect_ok(await api.post("validate-session", {"session_id": first}), "validate-session")
    assert body["sid"] == body["hwid"] == "SID-1"


# -- valid:false on every error ----------------------------------------------------------


@pytest.mark.parametrize("endpoint", PATHS)
async def test_field_and_session_errors(api: Api, endpoint: str) -> None:
    invalid(await api.post(endpoint, {}), "MISSING_FIELDS")
    invalid(await api.post(endpoint, {"session_id": "a" * 65}), "INVALID_INPUT")
    invalid(await api.post(endpoint, {"session_id": "a" * 64}), "INVALID_SESSION")
    session = await api.init()
    invalid(
        await api.post(endpoint, {"session_id": session}, headers={"x-v2-signature": "bm9wZQ=="}),
        "INVALID_REQUEST_SIGNATURE",
    )
    await api.set("is_enabled", False)
    invalid(await api.post(endpoint, {"session_id": session}), "APP_DISABLED")
    api.clock.advance(3600)
    invalid(await api.post(endpoint, {"session_id": session}), "SESSION_EXPIRED")


@pytest.mark.parametrize("endpoint", PATHS)
async def test_transport_errors(api: Api, endpoint: str) -> None:
    path = f"/api/v2/{endpoint}"
    invalid(await api.send("POST", path, content=b"[]"), "INVALID_REQUEST")
    invalid(await api.send("POST", path, content=b""), "INVALID_REQUEST")
    invalid(
        await api.post(endpoint, {"session_id": "a" * 64, "nonce": "bad nonce"}, meta=("", "")),
        "INVALID_REQUEST",
    )
    invalid(
        await api.send("POST", path, content=b'{"pad": "' + b"x" * 70000 + b'"}'),
        "PAYLOAD_TOO_LARGE",
    )
    invalid(await api.send("GET", path), "METHOD_NOT_ALLOWED")
    invalid(await api.send("POST", path + "/", content=b"{"), "INVALID_REQUEST")


@pytest.mark.parametrize("endpoint", PATHS)
async def test_replay_errors(api: Api, endpoint: str) -> None:
    session = await api.init()
    stale = int(api.clock.now.timestamp() * 1000) - 400_000
    invalid(
        await api.post(endpoint, {"session_id": session, "timestamp": stale}), "REQUEST_EXPIRED"
    )
    nonce = new_nonce()
    expect_ok(await api.post(endpoint, {"session_id": session, "nonce": nonce}), endpoint)
    invalid(
        await api.post(endpoint, {"session_id": session, "nonce": nonce, "x": 1}), "REPLAY_DETECTED"
    )


async def test_internal_error(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    client_api = api.world.app.client
    assert client_api is not None

    async def boom(call: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setitem(client_api.handlers, "validate-session", boom)
    invalid(await api.post("validate", {"session_id": "a" * 64}), "INTERNAL")


class TestRateLimited:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_general": "1/60"}

    async def test_rate_limited(self, api: Api) -> None:
        session = await api.init()
        body = invalid(await api.post("validate", {"session_id": session}), "RATE_LIMITED")
        assert body["retry_after"] >= 1


async def test_error_body_carries_nothing_else(api: Api) -> None:
    r = await api.post("validate-session", {"session_id": "b" * 64})
    assert json.loads(r.content) == {
        "code": "INVALID_SESSION",
        "message": "Invalid session",
        "success": False,
        "valid": False,
    }
