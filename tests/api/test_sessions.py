"""Sessions (section 1): the session check, lifetime, ended sessions, request HMAC after the
session check (0.8), identity replacement."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from licentia.services import admin_apps, admin_identities, admin_licenses
from tests.api.conftest import Api, Caller, expect_error, expect_ok, hmac_signature, iso

# Minimal valid bodies (besides session_id) of every session endpoint.
REST = {
    "login": {"username": "u", "password": "p", "sid": "S"},
    "licenses": {"license_key": "K", "sid": "S"},
    "register": {"username": "u", "password": "p", "key": "K"},
    "extend": {"username": "u", "license_key": "K"},
    "change-password": {"old_password": "a", "new_password": "b"},
    "device-auth": {"device_type": "processor", "device_id": "D"},
    "variables": {"var_key": "k"},
    "variables/set": {"var_key": "k", "var_value": "v"},
    "logs": {"message": "m"},
    "chats/get": {"channel_name": "c"},
    "chats/send": {"channel_name": "c", "message": "m"},
    "validate-session": {},
    "blacklist/check": {},
}


async def validate(api: Api, session: str) -> Any:
    return await api.post("validate-session", {"session_id": session})


# -- the session check (1.3) -------------------------------------------------------------


@pytest.mark.parametrize(
    "session_id",
    ["0" * 64, "a" * 63, "g" * 64, "ab cd" + "0" * 59, "-" * 64, "\u00e9" * 64],
    ids=["unknown", "63-hex", "not-hex", "inner-space", "dashes", "non-ascii"],
)
async def test_invalid_session_ids(bare: Caller, session_id: str) -> None:
    expect_error(
        await bare.post("logs", {"session_id": session_id, "message": "m"}), "INVALID_SESSION"
    )


async def test_session_id_is_case_insensitive_and_trimmed(api: Api) -> None:
    session = await api.init()
    expect_ok(
        await api.post("logs", {"session_id": f"  {session.upper()}\n", "message": "m"}), "logs"
    )


@pytest.mark.parametrize("endpoint", list(REST))
async def test_invalid_session_on_every_session_endpoint(bare: Caller, endpoint: str) -> None:
    expect_error(
        await bare.post(endpoint, {"session_id": "f" * 64, **REST[endpoint]}), "INVALID_SESSION"
    )


async def test_npm_cross_check(api: Api) -> None:
    other = await api.other_world()
    session = await api.init()
    theirs = await other.init()
    ours = {"owner_id": api.owner_id, "app_name": api.app_name}
    # The npm SDK repeats owner_id, app_name, version, secret and hash on every call.
    npm = {**ours, "version": "0.0.1", "secret": "whatever", "hash": "x"}
    expect_ok(await api.post("logs", {"session_id": session, "message": "m", **npm}), "logs")
    expect_error(
        await api.post("logs", {"session_id": theirs, "message": "m", **ours}), "INVALID_SESSION"
    )
    mixed = {"owner_id": api.owner_id, "app_name": other.app_name}
    expect_error(
        await api.post("logs", {"session_id": session, "message": "m", **mixed}), "INVALID_SESSION"
    )
    cased = {"owner_id": api.owner_id, "app_name": api.app_name.lower()}
    expect_error(
        await api.post("logs", {"session_id": session, "message": "m", **cased}), "INVALID_SESSION"
    )
    # Only one of the two: no cross-check.
    expect_ok(
        await api.post("logs", {"session_id": session, "message": "m", "owner_id": "123"}), "logs"
    )
    expect_ok(
        await api.post("logs", {"session_id": session, "message": "m", "app_name": "x"}), "logs"
    )


# -- lifetime (1.2) ----------------------------------------------------------------------


async def test_idle_timeout(api: Api) -> None:
    session = await api.init()
    api.clock.advance(3599)
    expect_ok(await validate(api, session), "validate-session")
    api.clock.advance(3599)
    expect_ok(await validate(api, session), "validate-session")
    api.clock.advance(3600)
    expect_error(await validate(api, session), "SESSION_EXPIRED")


async def test_idle_timeout_setting(api: Api) -> None:
    await api.set("session_idle_timeout", 60)
    session = await api.init()
    api.clock.advance(61)
    expect_error(await api.post("logs", {"session_id": session, "message": "m"}), "SESSION_EXPIRED")


async def test_absolute_lifetime(api: Api) -> None:
    await api.set("session_max_lifetime", 5000)
    session = await api.init()
    api.clock.advance(3000)
    body = expect_ok(await validate(api, session), "validate-session")
    created = api.clock.now - timedelta(seconds=3000)
    assert body["session_expires_at"] == iso(created + timedelta(seconds=5000))
    api.clock.advance(1999)
    expect_ok(await validate(api, session), "validate-session")
    api.clock.advance(1)
    expect_error(await validate(api, session), "SESSION_EXPIRED")


async def test_successful_calls_refresh_last_seen(api: Api) -> None:
    await api.channel("general", send_delay=0)
    await api.user("mara", "pw")
    session = await api.login("mara", "pw", sid="S1")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("logs", {"message": "m"}),
        ("chats/get", {"channel_name": "general"}),
        ("chats/send", {"channel_name": "general", "message": "hi"}),
        ("blacklist/check", {}),
        ("validate", {}),
        ("login", {"username": "mara", "password": "pw", "sid": "S1"}),
    ]
    for endpoint, rest in calls:
        api.clock.advance(3000)
        expect_ok(await api.post(endpoint, {"session_id": session, **rest}), endpoint)
        row = await api.session_row(session)
        assert row.last_seen_at == api.clock.now, endpoint


async def test_failed_calls_do_not_refresh_last_seen(api: Api) -> None:
    session = await api.init()
    created = api.clock.now
    api.clock.advance(3000)
    expect_error(
        await api.post("variables", {"session_id": session, "var_key": "none"}),
        "VARIABLE_NOT_FOUND",
    )
    expect_error(
        await api.post("licenses", {"session_id": session, "license_key": "none", "sid": "S"}),
        "LICENSE_NOT_FOUND",
    )
    assert (await api.session_row(session)).last_seen_at == created
    api.clock.advance(600)
    expect_error(await validate(api, session), "SESSION_EXPIRED")


async def test_expired_session_on_every_session_endpoint(api: Api) -> None:
    session = await api.init()
    api.clock.advance(4000)
    for endpoint, rest in REST.items():
        expect_error(await api.post(endpoint, {"session_id": session, **rest}), "SESSION_EXPIRED")


async def test_session_check_comes_before_app_state(api: Api) -> None:
    session = await api.init()
    await api.set("is_enabled", False)
    expect_error(await api.post("logs", {"session_id": session, "message": "m"}), "APP_DISABLED")
    expect_error(
        await api.post("logs", {"session_id": "0" * 64, "message": "m"}), "INVALID_SESSION"
    )
    api.clock.advance(4000)
    expect_error(await api.post("logs", {"session_id": session, "message": "m"}), "SESSION_EXPIRED")


async def test_suspended_owner_disables_sessions(api: Api) -> None:
    session = await api.init()
    await admin_apps.set_owner_status(api.rt, api.owner_id, "suspended")
    expect_error(await validate(api, session), "APP_DISABLED")


# -- ended sessions (1.2, 1.3 step 3) ----------------------------------------------------


async def user_session(api: Api) -> str:
    await api.user("mara", "pw")
    return await api.login("mara", "pw", sid="S1")


async def license_session(api: Api) -> str:
    await admin_licenses.add_license(api.rt, api.app_id, "KEY-ENDS-1", "Premium", days=1)
    session, _ = await api.activate("KEY-ENDS-1")
    return session


async def device_session(api: Api) -> str:
    await api.device("processor", "CPU-ENDS-1", days=1)
    session = await api.init()
    r = await api.post(
        "device-auth",
        {"session_id": session, "device_type": "processor", "device_id": "CPU-ENDS-1"},
    )
    expect_ok(r, "device-auth")
    return session


SETUPS = {"user": user_session, "license": license_session, "device": device_session}
ACTIONS = {
    ("user", "ban"): lambda api: admin_identities.ban_user(api.rt, api.app_id, "mara"),
    ("user", "pause"): lambda api: admin_identities.pause_user(api.rt, api.app_id, "mara"),
    ("user", "delete"): lambda api: admin_identities.delete_user(api.rt, api.app_id, "mara"),
    ("license", "ban"): lambda api: admin_licenses.ban_license(api.rt, api.app_id, "KEY-ENDS-1"),
    ("license", "pause"): lambda api: admin_licenses.pause_license(
        api.rt, api.app_id, "KEY-ENDS-1"
    ),
    ("license", "delete"): lambda api: admin_licenses.delete_license(
        api.rt, api.app_id, "KEY-ENDS-1"
    ),
    ("device", "ban"): lambda api: admin_identities.ban_device(
        api.rt, api.app_id, "processor", "CPU-ENDS-1"
    ),
    ("device", "pause"): lambda api: admin_identities.pause_device(
        api.rt, api.app_id, "processor", "CPU-ENDS-1"
    ),
    ("device", "delete"): lambda api: admin_identities.delete_device(
        api.rt, api.app_id, "processor", "CPU-ENDS-1"
    ),
}


@pytest.mark.parametrize(("kind", "action"), list(ACTIONS), ids=[f"{k}-{a}" for k, a in ACTIONS])
async def test_management_action_ends_the_session(api: Api, kind: str, action: str) -> None:
    session = await SETUPS[kind](api)
    second = await api.login("mara", "pw", sid="S1") if kind == "user" else None
    await ACTIONS[(kind, action)](api)
    row = await api.session_row(session)
    assert row.ended_at is not None  # at once, not only at the next call
    expect_error(await validate(api, session), "SESSION_EXPIRED")
    if second is not None:
        expect_error(await validate(api, second), "SESSION_EXPIRED")


@pytest.mark.parametrize("kind", ["user", "license", "device"])
async def test_identity_expiry_ends_the_session(api: Api, kind: str) -> None:
    await api.set("session_idle_timeout", 10 * 86400)
    await api.set("session_max_lifetime", 10 * 86400)
    if kind == "user":
        await api.user("mara", "pw", days=1)
        session = await api.login("mara", "pw", sid="S1")
    else:
        session = await SETUPS[kind](api)
    api.clock.advance(86400 - 1)
    expect_ok(await validate(api, session), "validate-session")
    api.clock.advance(2)
    expect_error(await validate(api, session), "SESSION_EXPIRED")
    assert (await api.session_row(session)).ended_at is not None


async def test_an_ended_session_stays_ended(api: Api) -> None:
    session = await user_session(api)
    await admin_identities.ban_user(api.rt, api.app_id, "mara")
    expect_error(await validate(api, session), "SESSION_EXPIRED")
    await admin_identities.unban_user(api.rt, api.app_id, "mara")
    expect_error(await validate(api, session), "SESSION_EXPIRED")
    await api.login("mara", "pw", sid="S1")  # a new session works


async def test_ban_ends_only_that_identity(api: Api) -> None:
    session = await user_session(api)
    await api.user("tom", "pw")
    other = await api.login("tom", "pw", sid="S2")
    plain = await api.init()
    await admin_identities.ban_user(api.rt, api.app_id, "mara")
    expect_error(await validate(api, session), "SESSION_EXPIRED")
    expect_ok(await validate(api, other), "validate-session")
    expect_ok(await validate(api, plain), "validate-session")


# -- identity replacement (1.1) ----------------------------------------------------------


async def test_later_identity_replaces_earlier_one_and_failures_change_nothing(api: Api) -> None:
    await api.user("mara", "pw")
    key = await api.key()
    session = await api.login("mara", "pw", sid="S1")
    assert (await validate(api, session)).json()["identity_type"] == "user"
    r = await api.post("licenses", {"session_id": session, "license_key": "missing", "sid": "S1"})
    expect_error(r, "LICENSE_NOT_FOUND")
    assert (await validate(api, session)).json()["identity_type"] == "user"
    _, out = await api.activate(key, sid="S1", session=session)
    assert out["session_id"] == session
    assert (await validate(api, session)).json()["identity_type"] == "license"
    await api.device("motherboard", "MB-9")
    r = await api.post(
        "device-auth", {"session_id": session, "device_type": "motherboard", "device_id": "MB-9"}
    )
    assert expect_ok(r, "device-auth")["session_id"] == session
    assert (await validate(api, session)).json()["identity_type"] == "device"
    await api.login("mara", "pw", sid="S1", session=session)
    assert (await validate(api, session)).json()["identity_type"] == "user"


# -- request HMAC on session endpoints (0.8) ---------------------------------------------


async def signed_post(api: Api, endpoint: str, body: dict[str, Any], secret: str) -> Any:
    raw = json.dumps(body).encode()
    signature = hmac_signature(secret, "", "", "", raw)
    return await api.post(endpoint, body, content=raw, headers={"x-v2-signature": signature})


async def test_session_endpoints_verify_with_the_session_apps_secret(api: Api) -> None:
    other = await api.other_world()
    session = await api.init()
    body = {"session_id": session, "message": "signed"}
    expect_ok(await signed_post(api, "logs", body, api.secret), "logs")
    expect_error(await signed_post(api, "logs", body, other.secret), "INVALID_REQUEST_SIGNATURE")
    r = await api.post("logs", body, headers={"x-auth-signature": "bm9wZQ=="})
    expect_error(r, "INVALID_REQUEST_SIGNATURE")


async def test_required_signature_on_session_endpoints(api: Api) -> None:
    session = await api.init()
    await api.set("require_request_signature", True)
    body = {"session_id": session, "message": "m"}
    expect_error(await api.post("logs", body), "INVALID_REQUEST_SIGNATURE")
    expect_ok(await signed_post(api, "logs", body, api.secret), "logs")


async def test_signature_is_checked_after_the_session_and_before_app_state(api: Api) -> None:
    session = await api.init()
    bad = {"x-v2-signature": "bm9wZQ=="}
    expect_error(
        await api.post("logs", {"session_id": "0" * 64, "message": "m"}, headers=bad),
        "INVALID_SESSION",
    )
    await api.set("is_enabled", False)
    expect_error(
        await api.post("logs", {"session_id": session, "message": "m"}, headers=bad),
        "INVALID_REQUEST_SIGNATURE",
    )
    api.clock.advance(4000)
    expect_error(
        await api.post("logs", {"session_id": session, "message": "m"}, headers=bad),
        "SESSION_EXPIRED",
    )
