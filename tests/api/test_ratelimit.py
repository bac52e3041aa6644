"""Rate limits (0.15): general, credentials and identity buckets, and the chat send delay."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, expect_error, expect_ok


def assert_limited(response: Any, *, at_most: int) -> int:
    body = expect_error(response, "RATE_LIMITED")
    retry = body["retry_after"]
    assert 1 <= retry <= at_most
    assert response.headers["retry-after"] == str(retry)
    return int(retry)


class TestGeneral:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_general": "3/60"}

    async def test_fourth_request_is_limited(self, api: Api) -> None:
        body = {**api.creds(), "version": "1.0.0"}
        for _ in range(3):
            expect_ok(await api.post("init", body), "init")
        r = await api.post("init", {**body, "request_id": "rid-rl", "nonce": "nonce-rl"})
        assert_limited(r, at_most=20)

    async def test_every_client_endpoint_shares_the_bucket(self, api: Api) -> None:
        session = await api.init()
        expect_ok(await api.post("validate-session", {"session_id": session}), "validate-session")
        expect_error(
            await api.post("variables", {"session_id": session, "var_key": "x"}),
            "VARIABLE_NOT_FOUND",
        )
        assert_limited(await api.post("logs", {"session_id": session, "message": "m"}), at_most=20)
        r = await api.send("GET", "/api/v2/public-key")  # a limited public-key answer is signed
        assert_limited(r, at_most=20)

    async def test_public_key_uses_the_general_bucket(self, api: Api) -> None:
        for _ in range(3):
            r = await api.send("GET", "/api/v2/public-key", signed=False)
            assert r.status_code == 200
        assert_limited(await api.post("init", {**api.creds(), "version": "1.0.0"}), at_most=20)

    async def test_limit_comes_after_parsing_and_before_the_timestamp(self, api: Api) -> None:
        for _ in range(3):
            await api.init()
        expect_error(await api.send("POST", "/api/v2/init", content=b"[]"), "INVALID_REQUEST")
        expect_error(await api.send("POST", "/api/v2/nope", content=b"{}"), "NOT_FOUND")
        stale = {**api.creds(), "version": "1.0.0", "timestamp": 1}
        assert_limited(await api.post("init", stale), at_most=20)


class TestCredentials:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_credentials": "2/60"}

    async def test_credential_endpoints_share_a_bucket(self, api: Api) -> None:
        await api.user("mara", "pw")
        session = await api.init()
        login = {"session_id": session, "username": "mara", "password": "wrong", "sid": "S1"}
        expect_error(await api.post("login", login), "INVALID_PASSWORD")
        expect_error(
            await api.post("licenses", {"session_id": session, "license_key": "NOPE", "sid": "S1"}),
            "LICENSE_NOT_FOUND",
        )
        assert_limited(await api.post("login", {**login, "password": "pw"}), at_most=30)
        assert_limited(
            await api.post(
                "device-auth", {"session_id": session, "device_type": "processor", "device_id": "x"}
            ),
            at_most=30,
        )

    async def test_other_endpoints_are_not_counted(self, api: Api) -> None:
        session = await api.init()
        for _ in range(4):
            expect_ok(
                await api.post("validate-session", {"session_id": session}), "validate-session"
            )
            await api.init()
        await api.user("mara", "pw")
        await api.login("mara", "pw", sid="S1", session=session)


class TestIdentity:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_identity": "2/60"}

    async def test_per_username(self, api: Api) -> None:
        await api.user("mara", "pw")
        session = await api.init()
        body = {"session_id": session, "username": "mara", "password": "wrong"}
        for sid in ("S1", "S2"):
            expect_error(await api.post("login", {**body, "sid": sid}), "INVALID_PASSWORD")
        assert_limited(await api.post("login", {**body, "sid": "S3", "password": "pw"}), at_most=30)
        other = {"session_id": session, "username": "someone", "password": "x", "sid": "S4"}
        expect_error(await api.post("login", other), "USER_NOT_FOUND")

    async def test_per_sid(self, api: Api) -> None:
        session = await api.init()
        for name in ("u1", "u2"):
            body = {"session_id": session, "username": name, "password": "x", "sid": "SHARED"}
            expect_error(await api.post("login", body), "USER_NOT_FOUND")
        body = {"session_id": session, "username": "u3", "password": "x", "sid": "SHARED"}
        assert_limited(await api.post("login", body), at_most=30)
        body = {"session_id": session, "username": "u4", "password": "x", "sid": "OTHER"}
        expect_error(await api.post("login", body), "USER_NOT_FOUND")

    async def test_per_license_key(self, api: Api) -> None:
        session = await api.init()
        body = {"session_id": session, "license_key": "NOT-A-KEY"}
        for sid in ("S1", "S2"):
            expect_error(await api.post("licenses", {**body, "sid": sid}), "LICENSE_NOT_FOUND")
        assert_limited(await api.post("licenses", {**body, "sid": "S3"}), at_most=30)

    async def test_per_app(self, api: Api) -> None:
        # Two attempts at "mara" in each of two apps: the buckets are per app.
        other = await api.other_world()
        for target in (api, api, other, other):
            session = await target.init()
            body = {"session_id": session, "username": "mara", "password": "x"}
            expect_error(
                await target.post("login", {**body, "sid": f"S-{session[:8]}"}),
                "USER_NOT_FOUND",
            )

    async def test_checked_after_session_and_app_state(self, api: Api) -> None:
        session = await api.init()
        body = {"session_id": session, "username": "mara", "password": "x"}
        for sid in ("S1", "S2"):
            expect_error(await api.post("login", {**body, "sid": sid}), "USER_NOT_FOUND")
        expect_error(
            await api.post("login", {**body, "session_id": "0" * 64, "sid": "S3"}),
            "INVALID_SESSION",
        )
        await api.set("is_enabled", False)
        expect_error(await api.post("login", {**body, "sid": "S3"}), "APP_DISABLED")
        await api.set("is_enabled", True)
        assert_limited(await api.post("login", {**body, "sid": "S3"}), at_most=30)


async def test_chat_send_delay(api: Api) -> None:
    await api.channel("general", send_delay=5)
    session, _, _ = await api.register()
    body = {"session_id": session, "channel_name": "general", "message": "hi"}
    expect_ok(await api.post("chats/send", body), "chats/send")
    api.clock.advance(2)
    assert assert_limited(await api.post("chats/send", body), at_most=3) == 3
    api.clock.advance(3)
    expect_ok(await api.post("chats/send", body), "chats/send")
