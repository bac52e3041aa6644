"""Custom messages (0.17): an app's text replaces `message`, never code, status or other keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from licentia.services import admin_content, admin_rules
from licentia.services.admin_common import AdminError
from licentia.store.tables import custom_messages
from licentia.store.types import new_id
from tests.api.conftest import OK_MESSAGES, Api, expect_error, expect_ok, new_nonce


async def custom(api: Api, code: str, text: str | None = None) -> str:
    text = text or f"Custom text for {code}"
    await admin_rules.set_custom_message(api.rt, api.app_id, code, text)
    return text


async def test_success_messages_of_every_endpoint(api: Api) -> None:
    texts = {
        endpoint: await custom(api, f"OK.{endpoint}", f"Custom {endpoint}")
        for endpoint in OK_MESSAGES
    }
    await admin_content.set_variable(api.rt, api.app_id, "motd", "hi")
    await api.channel("general", send_delay=0)
    await api.device("processor", "CPU-M")
    r = await api.post("init", {**api.creds(), "version": "1.0.0"})
    session = expect_ok(r, "init", texts["init"])["session_id"]
    key = await api.key()
    calls: list[tuple[str, dict[str, Any], str]] = [
        ("register", {"username": "mara", "password": "pw", "key": key, "sid": "S"}, "register"),
        ("login", {"username": "mara", "password": "pw", "sid": "S"}, "login"),
        ("extend", {"username": "mara", "license_key": await api.key()}, "extend"),
        ("change-password", {"old_password": "pw", "new_password": "pw2"}, "change-password"),
        ("variables", {"var_key": "motd"}, "variables"),
        ("variables/get", {"var_key": "motd"}, "variables"),
        ("variables/set", {"var_key": "motd", "var_value": "x"}, "variables/set"),
        ("logs", {"message": "m"}, "logs"),
        ("chats/send", {"channel_name": "general", "message": "m"}, "chats/send"),
        ("chats/get", {"channel_name": "general"}, "chats/get"),
        ("validate-session", {}, "validate-session"),
        ("validate", {}, "validate-session"),
        ("blacklist/check", {}, "blacklist/check"),
        ("licenses", {"license_key": await api.key(), "sid": "S"}, "licenses"),
        ("license-login", {"license_key": await api.key(), "sid": "S"}, "licenses"),
        ("device-auth", {"device_type": "processor", "device_id": "CPU-M"}, "device-auth"),
    ]
    for endpoint, rest, canonical in calls:
        expect_ok(
            await api.post(endpoint, {"session_id": session, **rest}), endpoint, texts[canonical]
        )


async def test_error_override_changes_only_the_message(api: Api) -> None:
    text = await custom(api, "INVALID_SECRET", "That is not the secret")
    r = await api.post("init", {**api.creds(), "secret": "nope", "version": "1.0.0"})
    assert r.json() == {"code": "INVALID_SECRET", "message": text, "success": False}
    assert r.status_code == 401


async def test_overrides_keep_the_extra_keys(api: Api) -> None:
    await api.set("latest_version", "2.0.0")
    update_text = await custom(api, "UPDATE_REQUIRED")
    body = expect_error(
        await api.post("init", {**api.creds(), "version": "1.0.0"}),
        "UPDATE_REQUIRED",
        message=update_text,
    )
    assert body["update"]["force_update"] is True
    await api.set("latest_version", "")
    await api.channel("general", send_delay=30)
    session, _, _ = await api.register("mara")
    send = {"session_id": session, "channel_name": "general", "message": "m"}
    expect_ok(await api.post("chats/send", send), "chats/send")
    rate_text = await custom(api, "RATE_LIMITED")
    body = expect_error(await api.post("chats/send", send), "RATE_LIMITED", message=rate_text)
    assert body["retry_after"] == 30
    until = api.clock.now + timedelta(minutes=5)
    await admin_content.mute_user(api.rt, api.app_id, "mara", "general", until)
    mute_text = await custom(api, "USER_MUTED")
    assert expect_error(await api.post("chats/send", send), "USER_MUTED", message=mute_text)[
        "muted_until"
    ]
    fields_text = await custom(api, "MISSING_FIELDS")
    r = await api.post("login", {"session_id": session, "username": "mara", "password": "pw"})
    expect_error(r, "MISSING_FIELDS", fields=["sid"], message=fields_text)  # step 13: app known


@pytest.mark.parametrize(
    ("code", "setup"),
    [
        ("APP_DISABLED", "disable"),
        ("IP_BLOCKED", "deny"),
        ("HASH_REQUIRED", "hash"),
        ("VERSION_MISMATCH", "version"),
    ],
)
async def test_init_errors_after_the_app_resolves(api: Api, code: str, setup: str) -> None:
    text = await custom(api, code)
    if setup == "disable":
        await api.set("is_enabled", False)
    elif setup == "deny":
        await admin_rules.add_ip_rule(api.rt, api.app_id, "203.0.113.24", "deny")
    elif setup == "hash":
        await api.set("hash_check", True)
    else:
        await api.set("latest_version", "0.5")
    expect_error(await api.post("init", {**api.creds(), "version": "1.0.0"}), code, message=text)


async def test_session_errors_use_the_sessions_app(api: Api) -> None:
    text = await custom(api, "SESSION_EXPIRED")
    await custom(api, "INVALID_SESSION")
    session = await api.init()
    api.clock.advance(4000)
    expect_error(
        await api.post("logs", {"session_id": session, "message": "m"}),
        "SESSION_EXPIRED",
        message=text,
    )
    # An unknown session names no app: the default.
    expect_error(
        await api.post("logs", {"session_id": "0" * 64, "message": "m"}), "INVALID_SESSION"
    )


async def test_app_not_found_is_always_default(api: Api) -> None:
    await custom(api, "APP_NOT_FOUND")
    expect_error(
        await api.post("init", {**api.creds(), "app_name": "Missing", "version": "1.0.0"}),
        "APP_NOT_FOUND",
    )


async def test_transport_errors_carry_the_default(api: Api) -> None:
    for code in ("INVALID_REQUEST", "PAYLOAD_TOO_LARGE", "NOT_FOUND", "METHOD_NOT_ALLOWED"):
        await custom(api, code)
    session = await api.init()
    body = {"session_id": session, "message": "m"}
    expect_error(
        await api.post("logs", {**body, "nonce": "bad nonce"}, meta=("", "")), "INVALID_REQUEST"
    )
    r = await api.post("logs", {**body, "pad": "x" * 70000})
    expect_error(r, "PAYLOAD_TOO_LARGE")
    expect_error(await api.post("nope", body), "NOT_FOUND")
    expect_error(await api.send("GET", "/api/v2/logs"), "METHOD_NOT_ALLOWED")


async def test_overrides_do_not_leak_into_other_apps(api: Api) -> None:
    other = await api.other_world()
    await custom(api, "INVALID_SECRET")
    await custom(api, "OK.init")
    expect_error(
        await other.post("init", {**other.creds(), "secret": "x", "version": "1"}), "INVALID_SECRET"
    )
    expect_ok(await other.post("init", {**other.creds(), "version": "1"}), "init")


@pytest.mark.parametrize("code", ["OWNER_NOT_FOUND", "INTERNAL", "OK", "NO_SUCH_CODE", "OK.nope"])
async def test_system_only_codes_cannot_be_customised(api: Api, code: str) -> None:
    with pytest.raises(AdminError):
        await admin_rules.set_custom_message(api.rt, api.app_id, code, "Nope")


async def test_stored_system_only_override_is_ignored(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api.rt.db.write() as conn:
        await conn.execute(
            custom_messages.insert().values(
                id=new_id(), app_id=api.app_id, code="INTERNAL", message="Leaked"
            )
        )
    await custom(api, "OK.logs")  # bumps config_rev so the row above is read
    client_api = api.world.app.client
    assert client_api is not None
    service = client_api.service

    async def broken_touch(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database exploded")

    session = await api.init()
    monkeypatch.setattr(service, "_touch", broken_touch)  # fails after the app is known
    expect_error(await api.post("logs", {"session_id": session, "message": "m"}), "INTERNAL")


async def test_replayed_response_keeps_its_first_message(api: Api) -> None:
    session = await api.init()
    body = {"session_id": session, "message": "m", "nonce": new_nonce()}
    first = await api.post("logs", body)
    expect_ok(first, "logs")
    text = await custom(api, "OK.logs")
    again = await api.post("logs", body)
    assert again.content == first.content
    expect_ok(await api.post("logs", {**body, "nonce": new_nonce()}), "logs", text)


# -- the app is known from the session (or from init's owner_id and app_name) ------------


async def _missing_fields(api: Api, session: str) -> Any:
    return await api.post("variables", {"session_id": session})


async def _invalid_input(api: Api, session: str) -> Any:
    return await api.post("variables", {"session_id": session, "var_key": "k" * 65})


async def _invalid_device_type(api: Api, session: str) -> Any:
    return await api.post(
        "device-auth", {"session_id": session, "device_type": "gpu", "device_id": "x"}
    )


async def _request_expired(api: Api, session: str) -> Any:
    stamp = int(api.clock.now.timestamp() * 1000) - 10**6
    return await api.post("logs", {"session_id": session, "message": "m", "timestamp": stamp})


async def _replay_detected(api: Api, session: str) -> Any:
    nonce = new_nonce()
    expect_ok(
        await api.post("logs", {"session_id": session, "message": "m", "nonce": nonce}), "logs"
    )
    return await api.post("logs", {"session_id": session, "message": "other", "nonce": nonce})


async def _invalid_session_cross_check(api: Api, session: str) -> Any:
    body = {
        "session_id": session,
        "message": "m",
        "owner_id": api.owner_id,
        "app_name": "SomeOtherApp",
    }
    return await api.post("logs", body)


async def _init_missing_fields(api: Api, session: str) -> Any:
    return await api.post(
        "init", {"owner_id": api.owner_id, "app_name": api.app_name, "version": "1.0.0"}
    )


async def _init_invalid_input(api: Api, session: str) -> Any:
    return await api.post("init", {**api.creds(), "version": "1.0<"})


KNOWN_APP_CASES = {
    "MISSING_FIELDS": _missing_fields,
    "INVALID_INPUT": _invalid_input,
    "INVALID_DEVICE_TYPE": _invalid_device_type,
    "REQUEST_EXPIRED": _request_expired,
    "REPLAY_DETECTED": _replay_detected,
    "INVALID_SESSION": _invalid_session_cross_check,
    "init-MISSING_FIELDS": _init_missing_fields,
    "init-INVALID_INPUT": _init_invalid_input,
}


@pytest.mark.parametrize("case", list(KNOWN_APP_CASES))
async def test_override_applies_whenever_the_app_is_known(api: Api, case: str) -> None:
    code = case.removeprefix("init-")
    text = await custom(api, code)
    session = await api.init()
    response = await KNOWN_APP_CASES[case](api, session)
    expect_error(response, code, message=text)


class TestRateLimitedBeforeTheSession:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_general": "2/60"}

    async def test_general_limit_with_a_known_session(self, api: Api) -> None:
        text = await custom(api, "RATE_LIMITED")
        session = await api.init()
        expect_ok(await api.post("logs", {"session_id": session, "message": "m"}), "logs")
        expect_error(
            await api.post("logs", {"session_id": session, "message": "m"}),
            "RATE_LIMITED",
            message=text,
        )
